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
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.compare import BOUNDED_SHARES
from sim.metrics import HEADLINE, t_quantile
from sim.runner.api import simulate
from sim.runner.results import Results
from sim.scenario.levers import LEVERS, apply_levers, governed_paths, shock_scenario
from sim.scenario.schema import Motion, Scenario

if TYPE_CHECKING:
    from sim.report.glyphs import ChartNames

__all__ = ["ALL_SETS_METRICS", "StressResult", "all_sets_section", "paired_deltas",
           "run_sensitivity", "run_stress", "run_stress_sets", "sensitivity_section",
           "stress_section", "tornado_figure"]


# a figure only some seeds have: which seeds its means are over (the report says so)
ONLY_SOME_SEEDS = {"months_to_arr_target": "seeds that reach it"}
SOME_SEEDS_NOTE = ("Months to target: means over the seeds that reach the target, the change "
                   "over the seeds where both plans reach it.")


def _row_label(metric: str) -> str:
    from sim.report.terminal import LABELS

    scope = ONLY_SOME_SEEDS.get(metric)
    return LABELS.get(metric, metric) + (f" (mean of the {scope})" if scope else "")


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


def _stress_metrics(scenario: Scenario) -> tuple[str, ...]:
    metrics = tuple(HEADLINE) + ("new_customers", "sm_spend_total", "monthly_burn")
    if scenario.target_arr is not None:
        metrics += ("reached_target", "months_to_arr_target")
    return metrics


def run_stress(scenario: Scenario, shocks: dict[str, float], **sim_args: Any) -> StressResult:
    base = simulate(scenario, **sim_args)
    shocked = simulate(shock_scenario(scenario, shocks), **sim_args)
    return StressResult(base, shocked, shocks,
                        paired_deltas(base.runs, shocked.runs, _stress_metrics(scenario)))


def run_stress_sets(scenario: Scenario, sets: dict[str, dict[str, float]],
                    **sim_args: Any) -> tuple[Results, pd.DataFrame]:
    """The baseline once, then every named shock set on the same seeds: one table of
    paired changes with a ``set`` column (first), in the order of ``sets``."""
    base = simulate(scenario, **sim_args)
    metrics = _stress_metrics(scenario)
    tables = []
    for name, shocks in sets.items():
        shocked = simulate(shock_scenario(scenario, shocks), **sim_args)
        d = paired_deltas(base.runs, shocked.runs, metrics)
        d.insert(0, "set", name)
        d.insert(1, "shocks", ", ".join(f"{k} x{v:g}" for k, v in shocks.items()))
        tables.append(d)
    return base, pd.concat(tables, ignore_index=True)


# the rows of the all-sets report table (stress.csv holds every metric)
ALL_SETS_METRICS = ("arr_end", "bookings_total", "cac_payback_months", "sm_spend_total",
                    "reached_target")


def all_sets_section(table: pd.DataFrame, seeds: int, currency: str) -> dict[str, Any]:
    """Every shock set against the baseline, in one table (the report's first section)."""
    from sim.report.terminal import fmt_value
    from sim.report.wording import fmt_ci, fmt_diff

    rows = []
    for r in table[table.metric.isin(ALL_SETS_METRICS)].itertuples():
        ci = ("n/a" if not (math.isfinite(r.ci_low) and math.isfinite(r.ci_high))
              else fmt_ci(r.metric, r.ci_low, r.ci_high, currency))
        rows.append([r.set, r.motion, _row_label(r.metric),
                     fmt_value(r.metric, r.baseline, currency),
                     fmt_value(r.metric, r.shocked, currency),
                     fmt_diff(r.metric, r.change, currency), ci])
    sets = list(dict.fromkeys(table["set"]))
    return {
        "id": "stress", "title": f"Baseline against {len(sets)} shock sets", "first": True,
        "nav": "Baseline vs shock sets",
        "intro": "The plan as written (baseline) against each shock set ("
                 + "; ".join(f"{n}: {sh}" for n, sh in
                             table.drop_duplicates("set")[["set", "shocks"]].itertuples(
                                 index=False))
                 + f"), each change paired seed by seed over {seeds} seeds. Figures are means "
                 "over the seeds (P(target): the share of seeds reaching the target). The "
                 "rest of this page shows the baseline.",
        "headers": ["set", "motion", "metric", "baseline (mean)", "shocked (mean)",
                    "change (mean, paired)", "95% CI"],
        "rows": rows,
        "note": "Every headline metric of every set is in stress.csv.",
    }


def run_sensitivity(scenario: Scenario, metric: str, delta: float = 0.2,
                    **sim_args: Any) -> tuple[Results, pd.DataFrame]:
    """Every lever at 1-delta and 1+delta; rows ranked by swing within each motion.

    The baseline runs once; every lever's two ends then run as one simulation (each
    shocked motion a motion of its own, named ``motion @ lever xF``), so they share one
    pool of workers. Seed *i* of each variant sees the same streams as seed *i* of the
    baseline whatever the motions beside it, so each change is paired exactly as in
    separate runs. Returns the baseline's results (its manifest's wall time covers
    every run) and the ranking.
    """
    sides = (("down", 1 - delta), ("up", 1 + delta))
    variants: dict[tuple[str, str, str], Motion] = {}
    for lever in LEVERS:  # order does not matter: every run uses the same seeds
        for m in scenario.motions:
            if not governed_paths(m, lever):
                continue
            for side, f in sides:
                name = f"{m.name} @ {lever} x{f:g}"
                variants[(m.name, lever, side)] = apply_levers(m, {lever: f}).model_copy(
                    update={"name": name})
    base = simulate(scenario, **sim_args)
    # every lever's ends as motions of one scenario: one pool, and no luck re-run (only
    # the baseline's results are saved, with its drivers)
    # each variant keeps its motion's correlations, so its inputs are drawn as the base's
    corr = [c.model_copy(update={"motion": v.name}) for (mn, _, _), v in variants.items()
            for c in scenario.correlations if c.motion == mn]
    shocked = simulate(scenario.model_copy(update={
        "motions": list(variants.values()), "compare": [], "correlations": corr}),
        **{**sim_args, "luck_seeds": 0})
    wall = base.manifest.get("wall_seconds", 0.0) + shocked.manifest.get("wall_seconds", 0.0)
    base.manifest["wall_seconds"] = round(wall, 3)
    base.manifest["wall_note"] = (f"the baseline and {len(variants)} lever runs "
                                  "(each lever down and up)")
    runs = shocked.runs
    base_runs = base.runs
    rows = []
    for m in scenario.motions:
        for lever in LEVERS:
            if (m.name, lever, "down") not in variants:
                continue
            ends = {}
            for side, _ in sides:
                shocked = runs[runs["motion"] == variants[(m.name, lever, side)].name].assign(
                    motion=m.name)
                ends[side] = paired_deltas(base_runs[base_runs["motion"] == m.name], shocked,
                                           (metric,)).iloc[0]
            d, u = ends["down"], ends["up"]
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
    from sim.report.terminal import fmt_value
    from sim.report.wording import fmt_ci, fmt_diff

    shocks = ", ".join(f"{k} x{v:g}" for k, v in res.shocks.items())
    seeds = res.baseline.scenario.seeds

    def f(metric: str, v: float) -> str:
        return fmt_value(metric, v, currency)

    def ci(metric: str, lo: float, hi: float) -> str:
        return "n/a" if not (math.isfinite(lo) and math.isfinite(hi)) else fmt_ci(
            metric, lo, hi, currency)

    return {
        "id": "stress", "title": f"Baseline against shocked plan ({shocks})",
        "first": True, "nav": "Baseline vs shocked",
        "variant": f"Shocked plan: {shocks}. The headline, charts and funnel below show the "
                   "plan under these shocks, not the baseline.",
        "variant_short": "shocked plan",
        "intro": f"The plan as written (baseline) against the same plan with {shocks}, each "
                 f"change paired seed by seed over {seeds} seeds. Baseline and shocked "
                 "figures are means over the seeds (P(target): the share of seeds reaching "
                 "the target)." + (" " + SOME_SEEDS_NOTE if "months_to_arr_target"
                                   in set(res.deltas["metric"]) else ""),
        "headers": ["motion", "metric", "baseline (mean)", "shocked (mean)",
                    "change (mean, paired)", "95% CI"],
        "rows": [[r.motion, _row_label(r.metric), f(r.metric, r.baseline),
                  f(r.metric, r.shocked), fmt_diff(r.metric, r.change, currency),
                  ci(r.metric, r.ci_low, r.ci_high)]
                 for r in res.deltas.itertuples()],
    }


def sensitivity_section(table: pd.DataFrame, metric: str, delta: float, seeds: int,
                        currency: str, png: bytes | None = None) -> dict[str, Any]:
    """The tornado ranking as a report section (and terminal table)."""
    from sim.report.terminal import fmt_value
    from sim.report.wording import label

    lo, hi = f"x{1 - delta:g}", f"x{1 + delta:g}"
    return {
        "id": "sensitivity", "title": f"Sensitivity of {label(metric)}",
        "intro": f"Every lever moved to {lo} and {hi}, one at a time, on the same {seeds} "
                 f"seeds as the baseline; levers ranked by the swing they cause in the mean "
                 f"of {label(metric)} (baseline, {lo} and {hi} are means over the seeds).",
        "png": png,
        "headers": ["motion", "rank", "lever", "baseline (mean)", f"{lo} (mean)", f"{hi} (mean)",
                    "swing (of the means)"],
        "rows": [[r.motion, r.rank, r.lever, fmt_value(metric, r.baseline, currency),
                  fmt_value(metric, r.down, currency), fmt_value(metric, r.up, currency),
                  fmt_value(metric, r.swing, currency)]
                 for r in table.itertuples()],
    }


def tornado_figure(table: pd.DataFrame, metric: str, delta: float, currency: str = "$") -> bytes:
    """One tornado per motion: change in the metric with each lever down and up, with CIs."""
    import matplotlib as mpl
    from matplotlib.ticker import FuncFormatter

    from sim.report.glyphs import ChartNames
    from sim.report.terminal import fmt_value

    ticks = FuncFormatter(lambda v, _pos: fmt_value(metric, v, currency))
    # motion names are text, never math; fonts for their glyphs, or neutral labels
    names = ChartNames({"motion": list(dict.fromkeys(table["motion"]))})
    rc: dict[str, Any] = {"text.parse_math": False, **names.rc}
    with mpl.rc_context(rc):  # type: ignore[arg-type]
        return _tornado(table, metric, delta, ticks, names)


def _tornado(table: pd.DataFrame, metric: str, delta: float, ticks: Any,
             names: ChartNames) -> bytes:
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
    names.apply(fig)
    fig.tight_layout()
    buf = BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
