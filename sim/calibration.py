"""Each template's simulated figures next to the published benchmarks (docs/benchmarks.md: every range with its source).

``BENCHMARKS`` lists, per template, the figures a strategist holds the defaults
against: the metric (a column of runs.parquet, or a per-seed figure computed
from its columns in ``DERIVED``, such as hybrid's expansion share of new ARR),
the published range as the sources state it, and its source. ``calibrate`` runs
every template as shipped (its uncertain inputs drawn per seed; one motion each,
same seeds) and gives each figure a status from its median across seeds:

- ``inside``: the median is inside the range;
- ``conflict``: the median is outside, but the range cannot hold together with
  another of the template's ranges, the one it ``follows``, at the template's own
  deal size and margin (CAC = payback x monthly gross profit per new customer: a
  sales-led CAC of at most $25K and a payback of 18-24 months cannot both hold at
  $26K ACV and 78% margin). The conflict is checked on the run, never assumed:
  when the two ranges are compatible the figure is ``outside``;
- ``outside``: anything else.

Its P10-P90 across seeds is shown beside the range (``band``: ``within`` the
range, or honestly ``wider``: the templates carry the uncertainty the sources
allow, so a figure's spread is not squeezed into its range). ``stable`` marks
figures whose median is steady with a few dozen seeds; the test suite checks those.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.runner.api import simulate
from sim.runner.results import Results
from sim.scenario.loader import scenario_from_dict
from sim.scenario.templates import template_names

__all__ = ["BENCHMARKS", "DERIVED", "Benchmark", "benchmark_section", "calibrate",
           "calibration_section", "calibration_table", "figure_values", "fmt_figure", "range_text"]

INF = math.inf


@dataclass(frozen=True)
class Benchmark:
    metric: str
    low: float
    high: float
    source: str
    stable: bool = True
    label: str = ""
    # the metric of another of the template's ranges this one cannot hold together with
    # (at the template's deal size and margin), which the template follows instead
    follows: str = ""


def _b(metric: str, low: float, high: float, source: str, stable: bool = True,
       label: str = "", follows: str = "") -> Benchmark:
    return Benchmark(metric, low, high, source, stable, label or metric, follows)


BENCHMARKS: dict[str, list[Benchmark]] = {
    "sales_led": [
        _b("lead_to_opportunity", 0.13, 0.15, "003 2D: lead -> opportunity 13-15%"),
        _b("win_rate", 0.20, 0.25, "003 2D: opportunity -> close 20-25%"),
        _b("cycle_days_median", 90, 180, "003 2D: sales-led cycle 90-180 days"),
        _b("cac_payback_months", 18, 24, "003 s2, s6; 004: enterprise 18-24 months"),
        _b("cac", 5_000, 25_000, "003 s6: median CAC $5,000-25K+", stable=False,
           follows="cac_payback_months"),
        _b("nrr", 1.0, 1.3, "003, 004: NRR > 100% (churn must not outpace expansion)",
           stable=False),
        _b("ltv_to_cac", 3.0, INF, "003 s6: LTV:CAC 3:1+ for sales-led", stable=False),
    ],
    "ai_outbound": [
        _b("cycle_days_median", 21, 180, "002 summary: AI outbound weeks-months"),
        _b("avg_new_acv", 25_000, 250_000, "002 summary: AI outbound $25-250K", stable=False),
        _b("cac_payback_months", 8, 14, "003 s6: agent-led discovery payback 8-14 months",
           stable=False),
        _b("cac", 1_000, 5_000, "003 s6: agent-led discovery CAC $1,000-5,000", stable=False,
           follows="cac_payback_months"),
    ],
    "founder_led": [
        _b("cycle_days_median", 14, 90, "002 summary: founder-led cycle in weeks"),
        _b("avg_new_acv", 25_000, 250_000, "002 Motion 5: $25-250K"),
        _b("win_rate", 0.30, 0.70, "002 Motion 5: founders close on credibility (high win rate)"),
    ],
    "partner_led": [
        _b("avg_new_acv", 100_000, 1_000_000, "002 summary: channel $100K-1M"),
        _b("cycle_days_median", 90, 270, "002 summary: channel 3-9 months"),
        _b("ltv_to_cac", 3.0, INF, "002 glossary: LTV/CAC > 3", stable=False),
    ],
    "marketing_led": [
        _b("lead_to_opportunity", 0.13, 0.15, "003 2D: lead -> opportunity 13-15%"),
        _b("avg_new_acv", 5_000, 50_000, "001: ACV $5-50K suits inside sales"),
        _b("cac_payback_months", 12, 18, "003 s2, s6: sales-assisted 12-18 months"),
    ],
    "plg": [
        _b("free_to_paid", 0.03, 0.05, "003 2A, 002: free -> paid 3-5%"),
        _b("cac", 200, 800, "003 s6: PLG CAC $200-800"),
        _b("cac_payback_months", 4, 9, "003 s2, s6: PLG payback 4-9 months"),
        _b("nrr", 1.0, 1.3, "003: PLG NRR median 110%, top 120%+", stable=False),
        _b("avg_new_acv", 0, 5_000, "001: ACV < ~$5K suits product-led"),
    ],
    "hybrid": [
        _b("pql_conversion", 0.25, 0.30, "003 'PQL vs MQL': PQL -> paid 25-30%", stable=False),
        _b("lead_to_win", 0.05, 0.10, "003 'PQL vs MQL': MQL -> paid 5-10%", stable=False),
        _b("cac", 800, 3_000, "003 s6: PLG + sales hybrid CAC $800-3,000"),
        _b("cac_payback_months", 9, 15, "003 s2, s6: hybrid payback 9-15 months"),
        _b("self_serve_share", 0.30, 0.50, "003 'Hybrid metrics': self-serve 30-50% of new revenue",
           stable=False),
        _b("expansion_share", 0.25, 0.40, "003 'Hybrid metrics': expansion 25-40% of revenue",
           stable=False),
    ],
    "enterprise_pilot": [
        _b("avg_new_acv", 100_000, 1_000_000, "002 summary: enterprise field $100K-1M"),
        _b("cycle_days_median", 90, 270, "002 summary: enterprise field 3-9 months"),
        # the sales-led range describes motions whose evaluations the seller pays for: it is
        # held against the payback were the pilots free; with the buyers' fees the payback
        # is held to 002, where a pilot motion is the lower-cost entry that mitigates
        # enterprise field's 18+ months (docs/benchmarks.md "How the ranges are applied")
        _b("cac_payback_before_pilot_fees", 18, 24, "003 2D, s6; 004: sales-led / enterprise "
           "payback 18-24 months, evaluations paid by the seller", stable=False),
        _b("cac_payback_months", -INF, 18, "002 Motion 7: pilots mitigate enterprise field's "
           "18+ months (glossary: healthy below 18)", stable=False),
        _b("pilot_margin_total", -INF, 0.0, "002 'Pilot economics': pilots often lose money",
           stable=False),
    ],
    "marketplace": [
        _b("cycle_days_median", 1, 30, "002 summary: marketplace cycle in days"),
        _b("avg_new_acv", 10_000, 50_000, "002 summary: marketplace $10-50K"),
        _b("win_rate", 0.10, 0.29, "003 s8: trial -> paid by industry, Enterprise SaaS 10-15% "
           "to CRM 29%"),
    ],
    "open_source": [
        _b("avg_new_acv", 50_000, 500_000, "002 summary: open source $50-500K commercial"),
        _b("cycle_days_median", 21, 180, "002 summary: open-to-paid weeks to months"),
    ],
    "community": [
        _b("avg_new_acv", 10_000, 100_000, "002 summary: community $10-100K"),
        _b("cycle_days_median", 21, 180, "002 summary: community weeks to months"),
    ],
    "fde": [
        _b("avg_new_acv", 500_000, 5_000_000, "002 summary: FDE engagements $500K-5M"),
        _b("cycle_days_median", 180, 365, "002 summary: FDE 6-12 months for the first deal"),
        _b("custom_to_productised", 0.0, 1.0,
           "002 Motion 8: reusable work overtakes custom by the 3rd-4th deployment"),
    ],
    "pay_per_outcome": [
        _b("cycle_days_median", 60, 180, "002 summary: pay-per-outcome 2-6 months"),
        _b("gross_margin_first_year", -INF, 0.10,
           "002 Motion 9: near-zero (read as under 10%) or negative margin for 12-18 months"),
    ],
    "value_based": [
        _b("avg_new_acv", 1_000_000, 10_000_000, "002 summary, Motion 10: $1-10M+ (>$1M ACV)"),
        _b("cycle_days_median", 180, 540, "002 summary: value-based 6-18 months"),
    ],
    "hyperscaler_cosell": [
        _b("cycle_days_median", 60, 180, "002 summary: hyperscaler co-sell 2-6 months"),
        _b("avg_new_acv", 100_000, 1_000_000, "002 summary: hyperscaler co-sell $100K-1M+"),
        _b("nrr", 1.0, 1.3, "003, 004: NRR > 100% (compute-heavy workloads grow), 120%+ efficient",
           stable=False),
        _b("ltv_to_cac", 3.0, INF, "002 glossary: LTV/CAC > 3", stable=False),
    ],
}

# Figures a benchmark states that are not a column of runs.parquet: computed per seed here.
DERIVED: dict[str, Any] = {
    # expansion ARR as a share of all ARR added over the horizon (new logos + expansion)
    "expansion_share": lambda runs: runs["expansion_arr_total"] / (
        runs["new_arr_total"] + runs["expansion_arr_total"]),
}
_SHARES = {"expansion_share", "gross_margin", "gross_margin_first_year"}


def figure_values(runs: pd.DataFrame, metric: str) -> np.ndarray:
    """One value per seed of ``metric`` (a runs column or a ``DERIVED`` figure), finite only."""
    col = DERIVED[metric](runs) if metric in DERIVED else runs[metric]
    x = np.asarray(col, dtype=float)
    return x[np.isfinite(x)]


def fmt_figure(metric: str, v: float) -> str:
    """A benchmark figure as text: shares in percent, the rest as the report formats them."""
    from sim.report.terminal import fmt_value

    if metric in _SHARES and math.isfinite(v):
        return f"{v * 100:.0f}%"
    if metric == "custom_to_productised" and math.isfinite(v):
        return f"{v:.2f}"
    return fmt_value(metric, v)


def calibrate(seeds: int = 200, workers: int | None = None, executor: str = "local",
              scheduler: str | None = None, templates: list[str] | None = None,
              horizon_months: int = 36, seed: int = 20261122) -> tuple[Results, pd.DataFrame]:
    """Run every template as shipped and compare with its benchmarks."""
    names = templates or [t for t in template_names() if t in BENCHMARKS]
    sc = scenario_from_dict({
        "name": "calibration", "horizon_months": horizon_months, "seeds": seeds, "seed": seed,
        "motions": [{"template": t} for t in names],
    })
    res = simulate(sc, workers=workers, executor=executor, scheduler=scheduler)
    return res, calibration_table(res.runs, names)


def figure_beside(metric: str, v: float, low: float, high: float) -> str:
    """``fmt_figure``, with more digits when a figure outside the range would print as
    its bound ("$25K outside $25K to $250K" reads "$24,906")."""
    text = fmt_figure(metric, v)
    if not math.isfinite(v) or low <= v <= high:
        return text
    bounds = {fmt_figure(metric, x) for x in (low, high) if math.isfinite(x)}
    if text not in bounds:
        return text
    if text.endswith("%"):  # shares print in percent
        return f"{v * 100:.2f}%"
    if text.startswith("$"):
        return f"{'-' if v < 0 else ''}${abs(v):,.0f}"
    return f"{v:.4g}" + (text[len(text.rstrip(' abcdefghijklmnopqrstuvwxyz%')):]
                         if not text[-1].isdigit() else "")


def range_text(metric: str, low: float, high: float) -> str:
    """A benchmark range in words: "$200 to $800", "3.0x and up", "up to $0"."""
    lo = fmt_figure(metric, low) if math.isfinite(low) else ""
    hi = fmt_figure(metric, high) if math.isfinite(high) else ""
    return f"{lo} to {hi}" if lo and hi else (f"{lo} and up" if lo else f"up to {hi}")


def calibration_section(table: pd.DataFrame, seeds: int) -> dict[str, Any]:
    """The calibration table as a terminal table: P50, P10-P90, range, status."""
    # plain words: the terminal table escapes every cell (user text is data), so markup
    # here would print as "[green]inside[/]"
    marks = {"inside": "inside", "conflict": "conflict", "outside": "OUTSIDE"}
    return {
        "id": "calibration", "title": f"Calibration over {seeds} seeds, 36 months",
        "headers": ["template", "figure", "median (P50)", "P10 to P90", "benchmark", "",
                    "P10-P90 against the range",
                    "source"],
        "rows": [[r.template, r.metric, figure_beside(r.metric, r.p50, r.low, r.high),
                  f"{fmt_figure(r.metric, r.p10)} to {fmt_figure(r.metric, r.p90)}",
                  range_text(r.metric, r.low, r.high), marks.get(r.status, r.status), r.band,
                  r.source]
                 for r in table.itertuples()],
    }


def _profit_per_customer(runs: pd.DataFrame) -> float:
    """Median monthly gross profit per new customer (avg new ACV x margin / 12), the
    factor between CAC and CAC payback: CAC = payback x it, seed by seed."""
    k = runs["cac"] / runs["cac_payback_months"]
    k = k[np.isfinite(k) & (k > 0)]
    return float(np.median(k)) if len(k) else math.nan


def _implied(metric: str, follows: Benchmark, runs: pd.DataFrame) -> tuple[float, float] | None:
    """The range of ``metric`` that ``follows``'s range implies at the run's deal size and
    margin, when the two are tied by an identity; None when they are not."""
    k = _profit_per_customer(runs)
    if not math.isfinite(k):
        return None
    if metric == "cac" and follows.metric == "cac_payback_months":
        return follows.low * k, follows.high * k
    if metric == "cac_payback_months" and follows.metric == "cac":
        return follows.low / k, follows.high / k
    return None


def _status(b: Benchmark, p50: float, runs: pd.DataFrame,
            ranges: dict[str, Benchmark]) -> tuple[str, str]:
    """``inside``, ``conflict`` (with the note saying why) or ``outside``."""
    if math.isfinite(p50) and b.low <= p50 <= b.high:
        return "inside", ""
    other = ranges.get(b.follows)
    implied = _implied(b.metric, other, runs) if other is not None and not runs.empty else None
    if other is None or implied is None or not math.isfinite(p50):
        return "outside", ""
    lo, hi = implied
    if lo <= b.high and hi >= b.low:  # the two ranges can hold together: no excuse
        return "outside", ""
    k = _profit_per_customer(runs)
    note = (f"{b.metric} {range_text(b.metric, b.low, b.high)} cannot hold with "
            f"{other.metric} {range_text(other.metric, other.low, other.high)} at "
            f"${k:,.0f} gross profit a month per new customer (it implies "
            f"{range_text(b.metric, lo, hi)}); the template follows {other.metric}")
    return "conflict", note


def _rows(runs: pd.DataFrame, template: str) -> list[dict[str, Any]]:
    ranges = {b.metric: b for b in BENCHMARKS.get(template, [])}
    rows = []
    for b in BENCHMARKS.get(template, []):
        x = figure_values(runs, b.metric)
        p10, p50, p90 = (float(v) for v in np.percentile(x, [10, 50, 90])) if x.size \
            else (math.nan,) * 3
        status, note = _status(b, p50, runs, ranges)
        band = "within" if x.size and b.low <= p10 and p90 <= b.high else "wider"
        rows.append({"metric": b.metric, "p50": p50, "p10": p10, "p90": p90,
                     "low": b.low, "high": b.high, "inside": status == "inside",
                     "status": status, "band": band if x.size else "", "note": note,
                     "stable": b.stable, "source": b.source, "n": int(x.size)})
    return rows


def benchmark_section(res: Results) -> dict[str, Any] | None:
    """A report section: each motion's figures next to its template's published benchmarks."""
    rows, notes = [], []
    for m in res.scenario.motions:
        for r in _rows(res.runs[res.runs.motion == m.name], m.template):
            if not r["n"]:
                continue
            rows.append([m.name, r["metric"],
                         figure_beside(r["metric"], r["p50"], r["low"], r["high"]),
                         f"{fmt_figure(r['metric'], r['p10'])} to "
                         f"{fmt_figure(r['metric'], r['p90'])}",
                         range_text(r["metric"], r["low"], r["high"]), r["status"], r["source"]])
            if r["note"]:
                notes.append(f"{m.name}: {r['note']}.")
    if not rows:
        return None
    return {"id": "benchmarks", "title": "Simulated figures next to published benchmarks",
            "intro": "Each motion's median and P10 to P90 over the seeds beside the range its "
                     "template is calibrated to (docs/benchmarks.md in the revsim repository "
                     "lists every range and its source document). The inputs are uncertain, so "
                     "a spread wider than the range is honest; the median is what is judged. "
                     "Overrides in the scenario can move a motion outside its template's range "
                     "on purpose." + (" Conflicts: " + " ".join(notes) if notes else ""),
            "headers": ["motion", "figure", "median", "P10 to P90", "benchmark", "",
                        "source"], "rows": rows}


def calibration_table(runs: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """One row per template x benchmark: P10, P50, P90, the range, status, band, note."""
    rows = [{"template": t, **r} for t in names for r in _rows(runs[runs.motion == t], t)]
    return pd.DataFrame(rows)
