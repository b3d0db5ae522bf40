"""The funnel by stage: the table the report and the chart share, and the chart."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

if TYPE_CHECKING:

    from sim.runner.results import Results
from sim.report.style import FIGSIZE, ChartContext, new_figure

__all__ = ["funnel_figure", "funnel_table"]

TITLE = "Funnel by stage: mean entering per seed, share advancing (pooled), mean days"


def funnel_table(res: Results) -> pd.DataFrame:
    """Per (motion, stage): mean entered/advanced/lost/open per seed, the advance rate
    and the mean days in the stage, both pooled over seeds.

    ``conversion`` is the advance rate pooled over seeds: all seeds' advanced deals over
    all seeds' entered deals (so the mean advanced over the mean entered), not an average
    of per-seed rates. ``mean_days`` is the mean over every deal of every seed that left
    the stage (advanced or lost in it): each seed's mean weighted by those deals.
    A stage no deal ever entered in any seed (plg's sales stages, which only a sales path
    would use) is left out: it is not part of how that motion sells.
    """
    fu = res.funnel
    cols = ["motion", "stage", "stage_index", "owner", "entered", "advanced", "lost",
            "open", "conversion", "mean_days"]
    if fu.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    order = {m: i for i, m in enumerate(res.motions())}
    for (mo, idx), g in fu.groupby(["motion", "stage_index"], sort=False):
        entered = float(g["entered"].sum())
        if entered == 0:
            continue
        days = g["mean_days"].to_numpy(dtype=float)
        w = (g["advanced"] + g["lost"]).to_numpy(dtype=float)  # deals that left the stage
        ok = np.isfinite(days) & (w > 0)
        rows.append({
            "motion": mo, "stage": str(g["stage"].iloc[0]), "stage_index": int(idx),
            "owner": str(g["owner"].iloc[0] or ""),
            "entered": float(g["entered"].mean()), "advanced": float(g["advanced"].mean()),
            "lost": float(g["lost"].mean()),
            # results saved before the funnel had an 'open' column: what is left
            "open": float(g["open"].mean()) if "open" in g else float(
                (g["entered"] - g["advanced"] - g["lost"]).mean()),
            "conversion": float(g["advanced"].sum()) / entered,
            "mean_days": float(np.average(days[ok], weights=w[ok])) if ok.any() else math.nan,
        })
    out = pd.DataFrame(rows, columns=cols)
    out["_o"] = out["motion"].map(order)
    return out.sort_values(["_o", "stage_index"]).drop(columns="_o").reset_index(drop=True)


def funnel_figure(c: ChartContext) -> Figure | None:
    t = funnel_table(c.res)
    if t.empty or not (t["entered"] > 0).any():
        return None
    motions = [m for m in c.motions if m in set(t["motion"])]
    stage_lists = {m: list(t.loc[t["motion"] == m, "stage"]) for m in motions}
    same = len({tuple(v) for v in stage_lists.values()}) == 1
    # rows top to bottom: grouped by stage (shared stages) or by motion
    rows: list[tuple[str, str, float]] = []  # (motion, stage, y)
    ticks: list[tuple[float, str]] = []
    y = 0.0
    k = len(motions)
    bar = 0.8 / k if same else 0.7
    if same:
        for stage in stage_lists[motions[0]]:
            for j, mo in enumerate(motions):
                rows.append((mo, stage, y + j * bar))
            ticks.append((y + (k - 1) * bar / 2, stage))
            y += 1.0
    else:
        for mo in motions:
            for stage in stage_lists[mo]:
                rows.append((mo, stage, y))
                ticks.append((y, f"{mo}: {stage}"))
                y += 1.0
            y += 0.4
    n_bars = len(rows)
    height = float(np.clip(1.2 + 0.26 * n_bars, 3.5, 16.0))
    fig = new_figure((FIGSIZE[0], height))
    ax = fig.add_subplot()
    tt = t.set_index(["motion", "stage"])
    xmax = float(t["entered"].max())
    labelled: set[str] = set()
    for mo, stage, yy in rows:
        r = tt.loc[(mo, stage)]
        ax.barh(yy, r["entered"], height=bar * 0.9, color=c.colors[mo],
                label=mo if mo not in labelled else None)
        labelled.add(mo)
        conv = "n/a" if not math.isfinite(r["conversion"]) else f"{r['conversion'] * 100:.0f}%"
        days = "n/a" if not math.isfinite(r["mean_days"]) else f"{r['mean_days']:.0f} d"
        ax.annotate(f"{r['entered']:,.0f}  |  {conv} advance  |  {days}", (r["entered"], yy),
                    xytext=(4, 0), textcoords="offset points", va="center", fontsize=8.5,
                    color="#222222")
    ax.set_yticks([p for p, _ in ticks], [s for _, s in ticks])
    ax.invert_yaxis()
    ax.set_xlim(0, xmax * 1.55)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.0f}"))
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("Mean entering the stage per seed (count)")
    if same:
        ax.set_title(TITLE)
        if k > 1:
            ax.legend(loc="lower right")
    else:  # the labels name each motion; a title over the labels, not clipped by them
        fig.suptitle(TITLE,
                     x=0.01, ha="left", fontweight="bold", fontsize=12)
    return fig
