"""Scalar metrics of one replication, and their summary across seeds.

Definitions are MODEL.md's "Outputs" table; each function's docstring gives the
equation. Ratios whose denominator is zero are NaN (a seed with no customer
has no CAC), and summaries skip NaN and say how many seeds had a value.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pandas as pd

from sim.engine.model import SeedRun
from sim.engine.params import num
from sim.engine.records import LOST, WON
from sim.engine.sources import SOURCE_ID

__all__ = ["METRICS", "HEADLINE", "seed_metrics", "summarize", "t_quantile"]

METRICS = (
    "bookings_total",
    "pilot_bookings_total",
    "new_customers",
    "arr_end",
    "retained_revenue",
    "grr",
    "nrr",
    "sm_spend_total",
    "cs_spend_total",
    "cac",
    "cac_payback_months",
    "ltv_to_cac",
    "win_rate",
    "cycle_days_median",
    "forecast_mape",
    "forecast_bias",
    "months_to_arr_target",
    "reached_target",
    "leads_total",
    "opportunities_created",
    "lead_to_opportunity",
    "new_arr_total",
    "avg_new_acv",
    "churned_arr_total",
    "expansion_arr_total",
    "annual_churn_rate",
    "wait_days_mean",
    "open_pipeline_end",
    "signups_total",
    "free_to_paid",
    "self_serve_bookings",
    "sales_bookings",
    "pqls",
    "pql_conversion",
    "lead_to_win",
    "gross_margin",
    "gross_margin_first_year",
    "platform_fees_total",
    "self_serve_revenue_share",
    "custom_to_productised",
    "self_serve_share",
    "pilots_started",
    "pilot_success_rate",
    "pilot_conversion",
    "pilot_margin_total",
    "monthly_burn",
)

HEADLINE = (
    "bookings_total",
    "arr_end",
    "retained_revenue",
    "nrr",
    "grr",
    "cac",
    "cac_payback_months",
    "forecast_mape",
)

LTV_CHURN_FLOOR = 0.05  # annual churn floor for LTV: lifetime capped at 20 years


def _ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


def _margins(run: SeedRun, monthly: dict[str, np.ndarray], out: dict[str, float]) -> None:
    """Realised gross margins, and the margin CAC payback and LTV use.

    gross_margin = (revenue - cost of revenue - platform fees) / revenue over the
    horizon (first 12 months for gross_margin_first_year). Plain subscription
    revenue costs exactly ``costs.gross_margin``, which is then used as given;
    any other pricing, or a platform's revenue share, uses the realised margin.
    """
    rev, gp = monthly["revenue"], monthly["gross_profit"]
    out["gross_margin"] = _ratio(float(gp.sum()), float(rev.sum()))
    out["gross_margin_first_year"] = _ratio(float(gp[:12].sum()), float(rev[:12].sum()))
    out["platform_fees_total"] = float(monthly["platform_fees"].sum())
    out["self_serve_revenue_share"] = _ratio(float(monthly["revenue_self_serve"].sum()),
                                             float(rev.sum()))
    out["custom_to_productised"] = float(run.extras.get("custom_to_productised", math.nan))
    motions = run.phase_motions or [run.motion]
    gms = {num(mj.costs.gross_margin) for mj in motions}
    plain = (all(mj.deal.pricing == "subscription" for mj in motions) and len(gms) == 1
             and out["platform_fees_total"] == 0)
    gm = num(run.motion.costs.gross_margin)
    if not plain and math.isfinite(out["gross_margin"]):
        gm = out["gross_margin"]
    out["gross_margin_used"] = gm


def seed_metrics(
    run: SeedRun, monthly: dict[str, np.ndarray], fc: dict[str, np.ndarray],
    target_arr: float | None,
) -> dict[str, float]:
    L, C = run.leads, run.customers
    out: dict[str, float] = {}
    _margins(run, monthly, out)
    gm = out["gross_margin_used"]
    out["bookings_total"] = float(monthly["bookings_new"].sum())
    out["pilot_bookings_total"] = float(monthly["bookings_pilot"].sum())
    out["new_customers"] = float(monthly["new_customers"].sum())
    out["arr_end"] = float(monthly["arr"][-1])
    out["retained_revenue"] = float(monthly["revenue"].sum())
    # retention over the last 12 months: customers live 12 months before the end
    if run.arr_then is not None and run.arr_then.sum() > 0:
        then = run.arr_then
        k = then.size
        live_now = (C["end"][:k] > run.horizon) & (then > 0)
        now = np.where(live_now, C["arr"][:k], 0.0)
        out["nrr"] = float(now.sum() / then.sum())
        out["grr"] = float(np.minimum(now, then).sum() / then.sum())
    else:
        out["nrr"] = out["grr"] = math.nan
    sm = float(monthly["sm_spend"].sum())
    out["sm_spend_total"] = sm
    out["cs_spend_total"] = float(monthly["cs_spend"].sum())
    # the worst month's net burn of the go-to-market: spend its gross profit does not cover
    burn = monthly["sm_spend"] + monthly["cs_spend"] - monthly["gross_profit"]
    out["monthly_burn"] = max(0.0, float(burn.max()))
    new_arr = float(monthly["new_arr"].sum())
    out["new_arr_total"] = new_arr
    out["cac"] = _ratio(sm, out["new_customers"])
    # a motion losing money on every unit of revenue never pays its CAC back
    out["cac_payback_months"] = _ratio(sm, new_arr * gm / 12.0) if gm > 0 else math.inf
    out["avg_new_acv"] = _ratio(new_arr, out["new_customers"])
    # realised churn: customer churn events per customer-year, annualised
    start = np.maximum(C["start"], 0.0)
    end = np.minimum(C["end"], run.horizon)
    exposure_years = float(np.clip(end - start, 0.0, None).sum()) / 365.0
    churn_events = float((C["end"] <= run.horizon).sum())
    rate = _ratio(churn_events, exposure_years)
    annual_churn = 1.0 - math.exp(-rate) if math.isfinite(rate) else math.nan
    out["annual_churn_rate"] = annual_churn
    churn_for_ltv = max(annual_churn, LTV_CHURN_FLOOR) if math.isfinite(annual_churn) else math.nan
    ltv = _ratio(out["avg_new_acv"] * gm, churn_for_ltv)
    out["ltv_to_cac"] = _ratio(ltv, out["cac"])
    # opportunities closed in the horizon
    is_opp = np.isfinite(L["created"])
    closed_won = is_opp & (L["outcome"] == WON)
    closed_lost = is_opp & (L["outcome"] == LOST)
    out["win_rate"] = _ratio(float(closed_won.sum()), float((closed_won | closed_lost).sum()))
    cycles = L["t_end"][closed_won] - L["created"][closed_won]
    out["cycle_days_median"] = float(np.median(cycles)) if cycles.size else math.nan
    out["leads_total"] = float(monthly["leads"].sum())
    out["opportunities_created"] = float(monthly["opportunities_created"].sum())
    out["lead_to_opportunity"] = _ratio(out["opportunities_created"], out["leads_total"])
    out["churned_arr_total"] = float(monthly["churned_arr"].sum())
    out["expansion_arr_total"] = float(monthly["expansion_arr"].sum())
    reached = np.flatnonzero(L["outcome"][is_opp] != 0)
    out["wait_days_mean"] = float(L["wait"][is_opp][reached].mean()) if reached.size else math.nan
    out["open_pipeline_end"] = float(monthly["pipeline_count"][-1])
    # product path and sales-assisted revenue apart
    src = L["source"]
    ss_won = (src == SOURCE_ID["signups"]) & (L["outcome"] == WON)
    out["signups_total"] = float(monthly["signups"].sum())
    out["free_to_paid"] = _ratio(float(ss_won.sum()), out["signups_total"])
    out["self_serve_bookings"] = float(L["acv"][ss_won].sum())
    out["sales_bookings"] = out["bookings_total"] - out["self_serve_bookings"]
    out["self_serve_share"] = _ratio(out["self_serve_bookings"], out["bookings_total"])
    is_pql = src == SOURCE_ID["pql"]
    out["pqls"] = float(is_pql.sum())
    pql_closed = is_pql & (L["outcome"] != 0)
    out["pql_conversion"] = _ratio(float((pql_closed & (L["outcome"] == WON)).sum()),
                                   float(pql_closed.sum()))
    inbound_closed = (src == SOURCE_ID["inbound"]) & (L["outcome"] != 0)
    out["lead_to_win"] = _ratio(float((inbound_closed & (L["outcome"] == WON)).sum()),
                                float(inbound_closed.sum()))
    P = run.pilots
    if P is not None and P["t_start"].size:
        decided = P["t_decision"] <= run.horizon
        ended = P["t_end"] <= run.horizon
        out["pilots_started"] = float(P["t_start"].size)
        out["pilot_success_rate"] = _ratio(float(P["success"][ended].sum()), float(ended.sum()))
        done = ended & (~P["success"] | decided)
        out["pilot_conversion"] = _ratio(float((P["converted"] & decided).sum()), float(done.sum()))
        out["pilot_margin_total"] = float(P["fee"].sum() - P["delivery_cost"].sum())
    else:
        out["pilots_started"] = 0.0
        out["pilot_success_rate"] = out["pilot_conversion"] = out["pilot_margin_total"] = math.nan
    # forecast error over quarters with bookings
    a, f = fc["actual"], fc["forecast"]
    # a company that starts with nothing open has nothing to forecast its first quarter from
    blind = (fc["quarter"] == 0) & (fc["open_opportunities"] == 0) & (f == 0)
    ok = (a > 0) & ~blind
    if ok.any():
        err = (f[ok] - a[ok]) / a[ok]
        out["forecast_mape"] = float(np.abs(err).mean())
        out["forecast_bias"] = float(err.mean())
    else:
        out["forecast_mape"] = out["forecast_bias"] = math.nan
    if target_arr is not None:
        hit = np.flatnonzero(monthly["arr"] >= target_arr)
        out["months_to_arr_target"] = float(hit[0] + 1) if hit.size else math.nan
        out["reached_target"] = float(monthly["arr"][-1] >= target_arr)
    else:
        out["months_to_arr_target"] = out["reached_target"] = math.nan
    return {k: out[k] for k in METRICS}


def t_quantile(p: float, df: int) -> float:
    """Student-t quantile (Hill's 1970 series; error < 1e-4 for df >= 2)."""
    z = NormalDist().inv_cdf(p)
    if df >= 1000 or df <= 0:
        return z
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def summarize(runs: pd.DataFrame, metrics: tuple[str, ...] = METRICS) -> pd.DataFrame:
    """Per (motion, metric): n, mean with a 95% t interval, sd, P10, P50, P90, and the
    interval's half-width relative to the mean (the precision achieved)."""
    rows = []
    for motion, g in runs.groupby("motion", sort=False):
        for metric in metrics:
            if metric not in g:
                continue
            x = g[metric].to_numpy(dtype=float)
            x = x[~np.isnan(x)]
            if np.isinf(x).any():
                # +inf is an answer ("never": a payback with no positive margin): it
                # counts in the quantiles (the nearest rank, no interpolation through
                # infinity); the mean and its interval do not exist
                p10, p50, p90 = np.percentile(x, [10, 50, 90], method="nearest")
                rows.append({"motion": motion, "metric": metric, "n": x.size, "mean": math.inf,
                             "ci_low": math.nan, "ci_high": math.nan, "sd": math.nan,
                             "p10": float(p10), "p50": float(p50), "p90": float(p90),
                             "rel_half_width": math.nan})
                continue
            n = x.size
            if n == 0:
                rows.append({"motion": motion, "metric": metric, "n": 0})
                continue
            mean = float(x.mean())
            sd = float(x.std(ddof=1)) if n > 1 else 0.0
            half = t_quantile(0.975, n - 1) * sd / math.sqrt(n) if n > 1 else math.nan
            p10, p50, p90 = np.percentile(x, [10, 50, 90])
            rows.append({
                "motion": motion, "metric": metric, "n": n, "mean": mean,
                "ci_low": mean - half, "ci_high": mean + half, "sd": sd,
                "p10": float(p10), "p50": float(p50), "p90": float(p90),
                "rel_half_width": half / abs(mean) if mean else math.nan,
            })
    return pd.DataFrame(rows, columns=["motion", "metric", "n", "mean", "ci_low", "ci_high",
                                       "sd", "p10", "p50", "p90", "rel_half_width"])
