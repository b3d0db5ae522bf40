"""The report's sections on uncertainty: what drives the spread, what to learn first,
and where the plan breaks (estimates from ``sim.drivers``).

Each section is a dict in the form the report's extra sections take (``id``,
``title``, ``intro``, ``headers``, ``rows``, optionally ``png``); the text is
plain and escaped by the page template.
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.drivers import LUCK, drivers_of, input_label, learn_first, plan_breaks
from sim.report.glyphs import chart_names
from sim.report.style import DPI, PALETTE, money
from sim.runner.results import Results

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["TOP_DRIVERS", "drivers_figure", "uncertainty_sections"]

TOP_DRIVERS = 6  # inputs shown per motion (luck is always shown)
METRIC = "arr_end"
LUCK_COLOR = "#999999"


def _top(d: pd.DataFrame, motion: str) -> pd.DataFrame:
    rows = d[(d.motion == motion) & (d.metric == METRIC)]
    inputs = rows[rows.driver != LUCK].dropna(subset=["share"])
    inputs = inputs.sort_values(["share", "driver"], ascending=[False, True], kind="stable")
    return pd.concat([inputs.head(TOP_DRIVERS), rows[rows.driver == LUCK]])


def drivers_figure(res: Results) -> bytes | None:
    """Horizontal bars per motion: the top inputs' first-order shares of the variance of
    end ARR, and luck's share."""
    import matplotlib as mpl

    names = chart_names(res.scenario)  # fonts for the names' glyphs, or neutral labels
    rc: dict[str, Any] = {"text.parse_math": False, **names.rc}  # user text is never math
    with mpl.rc_context(rc):  # type: ignore[arg-type]
        fig = _drivers_figure(res)
        if fig is None:
            return None
        names.apply(fig)
        import io

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    return buf.getvalue()


def _drivers_figure(res: Results) -> Figure | None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    d = drivers_of(res)
    motions = [m for m in res.motions() if not _top(d, m).dropna(subset=["share"]).empty]
    if not motions:
        return None
    heights = [max(len(_top(d, m)), 1) for m in motions]
    fig = Figure(figsize=(8.0, 0.9 + 0.32 * sum(heights) + 0.55 * len(motions)), dpi=DPI,
                 layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(motions), 1, squeeze=False, sharex=True,
                        gridspec_kw={"height_ratios": heights})[:, 0]
    for i, (ax, m) in enumerate(zip(axes, motions, strict=True)):
        rows = _top(d, m)
        labels = [("luck (same inputs, other draws)" if k == LUCK else input_label(k))
                  for k in rows.driver]
        shares = rows.share.fillna(0.0).to_numpy(float)
        colors = [LUCK_COLOR if k == LUCK else PALETTE[i % len(PALETTE)] for k in rows.driver]
        y = np.arange(len(rows))[::-1]
        ax.barh(y, shares, color=colors, height=0.65)
        ax.set_yticks(y, labels)
        for yy, s in zip(y, shares, strict=True):
            ax.text(min(s, 0.88) + 0.01, yy, f"{s:.0%}", va="center", fontsize=8.5)
        ax.set_xlim(0, 1)
        ax.set_title(m, fontsize=10.5)
        ax.grid(axis="y", visible=False)
    axes[-1].set_xlabel("share of the seed-to-seed variance of end ARR")
    axes[-1].xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    fig.suptitle("What drives the spread of end ARR", x=0.02, ha="left", fontweight="bold",
                 fontsize=12)
    return fig


def _share_se(n: int) -> float:
    """Typical standard error of a first-order share of 0.3 to 0.5 at ``n`` seeds
    (measured by bootstrap: 0.075 at 100 seeds, 0.04 at 300)."""
    return 0.75 / math.sqrt(max(n, 1))


def _spread_section(res: Results) -> dict[str, Any]:
    d = drivers_of(res)
    n = len(res.runs[res.runs.motion == res.motions()[0]]) if not res.runs.empty else 0
    m_luck = int(res.manifest.get("luck_replicate_seeds", 0) or 0)
    rows = []
    for m in res.motions():
        for _, r in _top(d, m).iterrows():
            share = "" if pd.isna(r.share) else f"{r.share:.0%}"
            what = "luck" if r.driver == LUCK else input_label(r.driver)
            rows.append([m, what, "" if r.driver == LUCK else r.driver, share])
    intro = (
        "How much of each motion's seed-to-seed spread in end ARR each uncertain input "
        "explains on its own (its first-order share, Var(E[ARR | input]) / Var(ARR)), and how "
        "much is luck (what would vary even with every input known). Input shares come from "
        f"the {n:,} seeds run (binned by the input's value); luck's from {m_luck:,} seeds run "
        "again with the same inputs and other random draws. Shares need not add up to 100%: "
        "the rest is inputs acting together (and correlated inputs share credit). At "
        f"{n:,} seeds an input's share is known to about +/-{_share_se(n):.0%} (roughly "
        "0.75 / sqrt(seeds), docs/model.md \"What drives the spread\"); drivers.csv has every "
        "headline metric.")
    if res.manifest.get("luck_only"):
        intro = ("This run is luck-only (--luck-only): every uncertain input was held at its "
                 "mean, so the whole spread shown in this report is luck. " + intro)
    return {"id": "drivers", "title": "What drives the spread", "intro": intro,
            "png": drivers_figure(res), "headers": ["motion", "driver", "key path",
                                                     "share of variance"], "rows": rows}


def _pairs(res: Results) -> list[tuple[str, str]]:
    if res.scenario.compare:
        return [tuple(p) for p in res.scenario.compare]  # type: ignore[misc]
    return list(combinations(res.motions(), 2))


def _learn_section(res: Results) -> dict[str, Any] | None:
    pairs = _pairs(res)
    if not pairs or res.inputs.drop(columns=["motion", "seed"], errors="ignore").empty:
        return None
    rows = []
    for a, b in pairs:
        lf = learn_first(res, a, b, METRIC)
        share = "" if lf.driver is None or not math.isfinite(lf.share) else f"{lf.share:.0%}"
        luck = "" if not math.isfinite(lf.luck) else f"{lf.luck:.0%}"
        rows.append([f"{a} vs {b}", lf.sentence(), share, luck])
    return {"id": "learn-first", "title": "What to learn first",
            "intro": "For each compared pair: the uncertain input that most decides which motion "
                     "ends with more ARR, as its first-order share of the variance of the paired "
                     "difference (ARR of one minus ARR of the other, seed by seed). Measuring "
                     "that input before choosing would remove that share of the doubt; luck's "
                     "share no measurement removes.",
            "headers": ["pair", "what decides it", "input's share", "luck's share"],
            "rows": rows}


def _breaks_section(res: Results) -> dict[str, Any] | None:
    target = res.scenario.target_arr
    if target is None or res.runs.empty:
        return None
    rows = []
    for m in res.motions():
        b = plan_breaks(res, m, target)
        rows.append([m, f"{b.miss_rate:.0%}" if math.isfinite(b.miss_rate) else "",
                     b.sentence()])
    return {"id": "plan-breaks", "title": "Where the plan breaks",
            "intro": f"Among the seeds that end below the {money(target)} ARR target, the "
                     "simplest box of uncertain inputs (one or two conditions, from a depth-2 "
                     "decision tree) that holds most of them where misses are most common: the "
                     "conditions under which the plan is most likely to fail.",
            "headers": ["motion", "misses (share of seeds)", "where"], "rows": rows}


def uncertainty_sections(res: Results) -> list[dict[str, Any]]:
    """The report's sections: drivers of the spread, what to learn first, where the plan
    breaks (the last two when they apply)."""
    out = [_spread_section(res)]
    for s in (_learn_section(res), _breaks_section(res)):
        if s is not None:
            out.append(s)
    return out
