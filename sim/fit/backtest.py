"""The back-test: fit as of a date, simulate the next quarters, compare with what happened.

For each origin (``--as-of`` and ``--origins`` earlier dates, a quarter apart)
the motion is fitted on what the export held on that date
(``Export.before``), the fitted scenario is simulated for the next N quarters
from the open pipeline of that date plus new arrivals, and each quarter's
simulated wins and bookings (Σ ACV of wins) are compared with the export's.
A quarter is the simulator's: 3 months of 365/12 days from the origin; it is
named by the calendar quarter its middle falls in. Quarters the export has not
finished are not scored.

The baseline is the classic weighted pipeline: every deal open at the origin
counted at ``amount x P(win from its stage)`` (the fitted advance probabilities
of its remaining stages) in the quarter in which its remaining mean stage
durations end (for wins, its probability).

Scores, per metric, over every (origin, quarter): the share of actuals inside
P10-P90 with its 95% Clopper-Pearson interval (80% when calibrated), the mean
CRPS (of the simulated ensemble; of a point forecast, its absolute error), the
WAPE of the P50 (Σ|P50 - actual| / Σ actual) and its bias (Σ(P50 - actual) /
Σ actual), beside the baseline's. Only aggregates are written: counts and sums
per quarter, never a row or a name from the export.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from sim.fit.fitter import fit_export
from sim.fit.io import Export
from sim.fit.motion_fit import FitOptions, MotionFit
from sim.fit.writer import scenario_data, scenario_yaml
from sim.runner.api import simulate
from sim.scenario.loader import scenario_from_yaml_text

__all__ = ["BACKTEST_COLUMNS", "Backtest", "crps_ensemble", "quarter_label", "run_backtest",
           "scores"]

MONTH_DAYS = 365 / 12
QUARTER_DAYS = 3 * MONTH_DAYS
BACKTEST_COLUMNS = ["quarter", "metric", "actual", "p05", "p10", "p50", "p90", "p95",
                    "weighted_pipeline", "origin", "quarters_ahead", "crps"]
METRICS = ("wins", "bookings")


@dataclass
class Backtest:
    table: pd.DataFrame  # BACKTEST_COLUMNS
    scores: pd.DataFrame
    fits: list[MotionFit] = field(default_factory=list)  # one per origin, latest first
    seeds: int = 0


def quarter_label(date: pd.Timestamp) -> str:
    return f"{date.year}Q{(date.month - 1) // 3 + 1}"


def crps_ensemble(samples: np.ndarray, y: float) -> float:
    """CRPS of an ensemble: E|X - y| - E|X - X'| / 2 (exact for the empirical distribution)."""
    x = np.sort(np.asarray(samples, dtype=float))
    n = x.size
    if n == 0:
        return math.nan
    spread = 2.0 * float(((2 * np.arange(1, n + 1) - n - 1) * x).sum()) / (n * n)
    return float(np.abs(x - y).mean()) - 0.5 * spread


def _actuals(export: Export, start: float, quarters: int) -> dict[str, np.ndarray]:
    d = export.deals
    closed = d["closed"].to_numpy(float)
    won = (d["status"] == "won").to_numpy() & np.isfinite(closed)
    q = np.floor((closed[won] - start) / QUARTER_DAYS)
    amount = np.nan_to_num(d["amount"].to_numpy(float)[won])
    inside = (q >= 0) & (q < quarters)
    wins = np.bincount(q[inside].astype(int), minlength=quarters)[:quarters].astype(float)
    bookings = np.bincount(q[inside].astype(int), weights=amount[inside],
                           minlength=quarters)[:quarters]
    return {"wins": wins, "bookings": bookings}


def _weighted_pipeline(fit: MotionFit, quarters: int) -> dict[str, np.ndarray]:
    """The classic forecast: open deals x P(win from their stage), in their expected quarter."""
    wins, book = np.zeros(quarters), np.zeros(quarters)
    K = len(fit.stage_names)
    if fit.stages is not None:
        p = [s.p for s in fit.stages]
        mean = [s.duration_mean_sd[0] for s in fit.stages]
    else:
        assert fit.cycle is not None
        p = [fit.cycle.p ** (1 / K)] * K
        mean = [fit.cycle.duration_mean_sd[0] / K] * K
    amounts = fit.export.deals["amount"].to_numpy(float)
    acv_mean = fit.acv.mean if fit.acv is not None else 0.0
    for o in fit.open_deals:
        prob = math.prod(p[o.stage:])
        spent = o.days_in_stage if math.isfinite(o.days_in_stage) else 0.0
        left = max(mean[o.stage] - spent, 0.0) + sum(mean[o.stage + 1:])
        q = int(left // QUARTER_DAYS)
        if q < quarters:
            a = amounts[o.deal]
            wins[q] += prob
            book[q] += prob * (a if math.isfinite(a) and a > 0 else acv_mean)
    return {"wins": wins, "bookings": book}


def _simulated(fit: MotionFit, quarters: int, seeds: int, template: str,
               workers: int | None) -> dict[str, np.ndarray]:
    """Per seed and quarter: wins and bookings of the fitted scenario (seeds x quarters)."""
    data = scenario_data(fit, "backtest", 3 * quarters, template, seeds)
    sc = scenario_from_yaml_text(scenario_yaml(data), "<fitted scenario>", seeds=seeds)
    res = simulate(sc, seeds=seeds, workers=workers or 1)
    m = res.monthly
    m = m.assign(q=(m["month"] - 1) // 3)  # months are numbered from 1
    g = m.groupby(["seed", "q"])[["wins", "bookings_new"]].sum()
    wins = g["wins"].unstack("q").reindex(columns=range(quarters), fill_value=0.0).to_numpy(float)
    book = g["bookings_new"].unstack("q").reindex(columns=range(quarters),
                                                  fill_value=0.0).to_numpy(float)
    return {"wins": wins, "bookings": book}


def run_backtest(export: Export, as_of: pd.Timestamp, quarters: int, origins: int = 0,
                 seeds: int = 200, options: FitOptions | None = None, template: str = "sales_led",
                 workers: int | None = None,
                 progress: Callable[[str], None] | None = None) -> Backtest:
    """Back-test from ``as_of`` and ``origins`` earlier dates, a quarter apart."""
    opt = options or FitOptions()
    export_end = _last_day(export)
    rows: list[dict[str, object]] = []
    fits: list[MotionFit] = []
    for k in range(origins + 1):
        origin = as_of - pd.Timedelta(days=k * QUARTER_DAYS)
        t0 = export.day(origin)
        if progress:
            progress(f"origin {origin.date()}: fitting")
        fit = fit_export(export, origin, opt)
        fits.append(fit)
        sim = _simulated(fit, quarters, seeds, template, workers)
        act = _actuals(export, t0, quarters)
        base = _weighted_pipeline(fit, quarters)
        for q in range(quarters):
            q_end = t0 + (q + 1) * QUARTER_DAYS
            if q_end > export_end + 1e-9:
                continue  # the export has not seen the whole quarter
            mid = export.date(t0 + (q + 0.5) * QUARTER_DAYS)
            for metric in METRICS:
                x = sim[metric][:, q]
                y = float(act[metric][q])
                qs = np.quantile(x, [0.05, 0.10, 0.50, 0.90, 0.95])
                rows.append({"quarter": quarter_label(mid), "metric": metric, "actual": y,
                             "p05": qs[0], "p10": qs[1], "p50": qs[2], "p90": qs[3],
                             "p95": qs[4], "weighted_pipeline": float(base[metric][q]),
                             "origin": str(origin.date()), "quarters_ahead": q + 1,
                             "crps": crps_ensemble(x, y)})
    table = pd.DataFrame(rows, columns=BACKTEST_COLUMNS)
    return Backtest(table, scores(table), fits, seeds)


def _last_day(export: Export) -> float:
    d = export.deals
    last = float(np.nanmax(np.r_[d["created"].to_numpy(float), d["closed"].to_numpy(float)]))
    if export.history is not None and len(export.history):
        last = max(last, float(export.history["t"].max()))
    return last


def scores(table: pd.DataFrame) -> pd.DataFrame:
    """Coverage, CRPS, WAPE and bias per metric, for revsim and the weighted pipeline."""
    out = []
    for metric, t in table.groupby("metric", sort=False):
        y = t["actual"].to_numpy(float)
        n = int(y.size)
        inside = int(((t["p10"] <= y) & (y <= t["p90"])).sum())
        ci = stats.binomtest(inside, n).proportion_ci(0.95) if n else None
        total = float(np.abs(y).sum())
        for name, point, crps in (
            ("revsim", t["p50"].to_numpy(float), t["crps"].to_numpy(float)),
            ("weighted_pipeline", t["weighted_pipeline"].to_numpy(float),
             np.abs(t["weighted_pipeline"].to_numpy(float) - y)),
        ):
            own = name == "revsim"
            out.append({
                "metric": metric, "forecast": name, "n": n,
                "coverage_p10_p90": inside / n if own and n else math.nan,
                "coverage_low": ci.low if own and ci else math.nan,
                "coverage_high": ci.high if own and ci else math.nan,
                "crps": float(np.mean(crps)) if n else math.nan,
                "wape": float(np.abs(point - y).sum() / total) if total > 0 else math.nan,
                "bias": float((point - y).sum() / total) if total > 0 else math.nan,
            })
    return pd.DataFrame(out)
