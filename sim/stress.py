"""Stress tests and sensitivity, on common random numbers.

A stress test runs the scenario as written and with its shocks on the same seeds
(seed *i* of the shocked run sees the same random streams as seed *i* of the
baseline), so each metric's change is a paired difference with a tight interval.
Sensitivity moves every lever down and up by ``delta`` in turn, on the same
seeds again, and ranks levers by the swing they cause in one metric: the ranking
depends on the seeds and the scenario only, never on the order levers are tried.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.compare import BOUNDED_SHARES
from sim.metrics import HEADLINE, t_quantile
from sim.runner.api import simulate
from sim.runner.results import Results
from sim.scenario.levers import LEVERS, governed_paths, shock_scenario
from sim.scenario.schema import Scenario

__all__ = ["StressResult", "paired_deltas", "run_sensitivity", "run_stress", "sensitivity_section",
           "stress_section", "tornado_figure"]


def _mean_ci(d: np.ndarray) -> tuple[float, float, float]:
    d = d[np.isfinite(d)]
    if d.size == 0:
        return math.nan, math.nan, math.nan
    m = float(d.mean())
    if d.size < 2:
        return m, math.nan, math.nan
    half = t_quantile(0.975, d.size - 1) * float(d.std(ddof=1)) / math.sqrt(d.size)
    return m, m - half, m + half


def paired_deltas(base: pd.DataFrame, shocked: pd.DataFrame,
                  metrics: tuple[str, ...]) -> pd.DataFrame:
    """Per (motion, metric): baseline and shocked means, the paired change with its CI
    (cut to -1..+1 for a share of a whole, ``BOUNDED_SHARES``)."""
    rows = []
    j = base.merge(shocked, on=["motion", "seed"], suffixes=("_base", "_shock"))
    for motion, g in j.groupby("motion", sort=False):
        for metric in metrics:
            a, b = g[f"{metric}_base"].to_numpy(float), g[f"{metric}_shock"].to_numpy(float)
            mean, lo, hi = _mean_ci(b - a)
            if metric in BOUNDED_SHARES:
                lo, hi = max(lo, -1.0), min(hi, 1.0)
            rows.append({"motion": motion, "metric": metric,
                         "baseline": float(np.nanmean(a)) if np.isfinite(a).any() else math.nan,
                         "shocked": float(np.nanmean(b)) if np.isfinite(b).any() else math.nan,
                         "change": mean, "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows)


@dataclass
class StressResult:
    baseline: Results
    shocked: Results
    shocks: dict[str, float]
    deltas: pd.DataFrame


def run_stress(scenario: Scenario, shocks: dict[str, float], **sim_args: Any) -> StressResult:
    base = simulate(scenario, **sim_args)
    shocked = simulate(shock_scenario(scenario, shocks), **sim_args)
    metrics = tuple(HEADLINE) + ("new_customers",)
    if scenario.target_arr is not None:
        metrics += ("reached_target", "months_to_arr_target")
    return StressResult(base, shocked, shocks, paired_deltas(base.runs, shocked.runs, metrics))


def run_sensitivity(scenario: Scenario, metric: str, delta: float = 0.2,
                    **sim_args: Any) -> tuple[Results, pd.DataFrame]:
    """Every lever at 1-delta and 1+delta; rows ranked by swing within each motion."""
    base = simulate(scenario, **sim_args)
    rows = []
    for lever in LEVERS:  # order does not matter: every run uses the same seeds
        if not any(governed_paths(m, lever) for m in scenario.motions):
            continue
        ends = {}
        for side, f in (("down", 1 - delta), ("up", 1 + delta)):
            r = simulate(shock_scenario(scenario, {lever: f}), **sim_args)
            ends[side] = paired_deltas(base.runs, r.runs, (metric,)).set_index("motion")
        for m in scenario.motions:
            if not governed_paths(m, lever):
                continue
            d, u = ends["down"].loc[m.name], ends["up"].loc[m.name]
            rows.append({
                "motion": m.name, "lever": lever, "metric": metric,
                "baseline": d["baseline"], "down": d["shocked"], "up": u["shocked"],
                "down_change": d["change"], "down_ci_low": d["ci_low"],
                "down_ci_high": d["ci_high"], "up_change": u["change"],
                "up_ci_low": u["ci_low"], "up_ci_high": u["ci_high"],
                "swing": abs(u["shocked"] - d["shocked"]),
            })
    table = pd.DataFrame(rows)
    if not table.empty:
        order = {m.name: i for i, m in enumerate(scenario.motions)}
        table["_o"] = table["motion"].map(order)
        table = (table.sort_values(["_o", "swing", "lever"], ascending=[True, False, True],
                                   kind="stable").drop(columns="_o").reset_index(drop=True))
        table["rank"] = table.groupby("motion").cumcount() + 1
    return base, table


def stress_section(res: StressResult, currency: str) -> dict[str, Any]:
    """The stress deltas as a report section (and terminal table)."""
    from sim.report.terminal import LABELS, fmt_value
    from sim.report.wording import fmt_ci, fmt_diff

    shocks = ", ".join(f"{k} x{v:g}" for k, v in res.shocks.items())
    seeds = res.baseline.scenario.seeds

    def f(metric: str, v: float) -> str:
        return fmt_value(metric, v, currency)

    def ci(metric: str, lo: float, hi: float) -> str:
        return "n/a" if not (math.isfinite(lo) and math.isfinite(hi)) else fmt_ci(
            metric, lo, hi, currency)

    return {
        "id": "stress", "title": f"Stress test: {shocks}",
        "intro": f"Baseline against the shocked plan (the charts above show the shocked plan), "
                 f"each change paired seed by seed over {seeds} seeds.",
        "headers": ["motion", "metric", "baseline", "shocked", "change", "95% CI"],
        "rows": [[r.motion, LABELS.get(r.metric, r.metric), f(r.metric, r.baseline),
                  f(r.metric, r.shocked), fmt_diff(r.metric, r.change, currency),
                  ci(r.metric, r.ci_low, r.ci_high)]
                 for r in res.deltas.itertuples()],
    }


def sensitivity_section(table: pd.DataFrame, metric: str, delta: float, seeds: int,
                        currency: str, png: bytes | None = None) -> dict[str, Any]:
    """The tornado ranking as a report section (and terminal table)."""
    from sim.report.terminal import fmt_value

    lo, hi = f"x{1 - delta:g}", f"x{1 + delta:g}"
    return {
        "id": "sensitivity", "title": f"Sensitivity of {metric.replace('_', ' ')}",
        "intro": f"Every lever moved to {lo} and {hi}, one at a time, on the same {seeds} "
                 "seeds; levers ranked by the swing they cause in the mean.",
        "png": png,
        "headers": ["motion", "rank", "lever", lo, hi, "swing"],
        "rows": [[r.motion, r.rank, r.lever, fmt_value(metric, r.down, currency),
                  fmt_value(metric, r.up, currency), fmt_value(metric, r.swing, currency)]
                 for r in table.itertuples()],
    }


def tornado_figure(table: pd.DataFrame, metric: str, delta: float, currency: str = "$") -> bytes:
    """One tornado per motion: change in the metric with each lever down and up, with CIs."""
    import matplotlib as mpl
    from matplotlib.ticker import FuncFormatter

    from sim.report.terminal import fmt_value

    ticks = FuncFormatter(lambda v, _pos: fmt_value(metric, v, currency))
    with mpl.rc_context({"text.parse_math": False}):  # motion names are text, never math
        return _tornado(table, metric, delta, ticks)


def _tornado(table: pd.DataFrame, metric: str, delta: float, ticks: Any) -> bytes:
    from io import BytesIO

    from matplotlib.figure import Figure

    from sim.report.wording import label as metric_label

    motions = list(dict.fromkeys(table["motion"]))
    fig = Figure(figsize=(8, 1.2 + 0.45 * table.groupby("motion").size().max() * len(motions)),
                 dpi=110)
    axes = fig.subplots(len(motions), 1, squeeze=False)[:, 0]
    for ax, motion in zip(axes, motions, strict=True):
        g = table[table.motion == motion].iloc[::-1]
        y = np.arange(len(g))
        for col, lo, hi, color, label in (
            ("down_change", "down_ci_low", "down_ci_high", "#d95f02", f"lever x {1 - delta:g}"),
            ("up_change", "up_ci_low", "up_ci_high", "#1b9e77", f"lever x {1 + delta:g}"),
        ):
            v = g[col].to_numpy(float)
            err = np.vstack([v - g[lo].to_numpy(float), g[hi].to_numpy(float) - v])
            ax.barh(y, v, color=color, alpha=0.85, label=label)
            ax.errorbar(v, y, xerr=np.nan_to_num(err), fmt="none", ecolor="#333", capsize=2, lw=1)
        ax.axvline(0, color="#333", lw=0.8)
        ax.xaxis.set_major_formatter(ticks)
        ax.set_yticks(y, g["lever"].str.replace("_", " "))
        ax.set_title(f"{motion}: change in {metric_label(metric)} (mean, 95% CI)",
                     fontsize=10, loc="left")
        ax.grid(axis="x", alpha=0.3)
        ax.legend(fontsize=8, loc="lower right", frameon=False)
    fig.tight_layout()
    buf = BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
