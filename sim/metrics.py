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
from sim.engine.pilots import pilot_metrics
from sim.engine.records import LOST, WON
from sim.engine.sources import SOURCE_ID

__all__ = ["METRICS", "HEADLINE", "channel_cac", "forecast_error", "seed_metrics", "spend_metrics",
           "summarize", "t_quantile"]

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
    "cac_payback_before_pilot_fees",
    "cac_sales_assisted",
    "cac_self_serve",
    "cac_payback_sales_assisted",
    "cac_payback_self_serve",
    "ltv_to_cac",
    "win_rate",
    "cycle_days_median",
    "forecast_mape",
    "forecast_bias",
    "forecast_wape",
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
    "pilots_converted",
    "pilots_failed",
    "pilots_declined",
    "pilots_abandoned",
    "pilots_running",
    "pilots_awaiting_decision",
    "pilot_extensions",
    "pilot_extension_rate",
    "recurring_revenue",
    "one_off_revenue",
    "services_revenue",
    "services_margin",
    "pilot_fees_total",
    "pilot_margin",
    "recurring_gross_margin",
    "win_rate_to_production",
    "cycle_days_to_production",
    "monthly_burn",
    "months_to_recover_spend",
    "recovered_spend",
)

HEADLINE = (
    "bookings_total",
    "arr_end",
    "retained_revenue",
    "nrr",
    "grr",
    "cac",
    "cac_payback_months",
    "forecast_wape",
)

LTV_CHURN_FLOOR = 0.05  # annual churn floor for LTV: lifetime capped at 20 years


def _ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


def _margins(run: SeedRun, monthly: dict[str, np.ndarray], out: dict[str, float]) -> None:
    """Realised gross margins, and the margin CAC payback and LTV use.

    gross_margin = (revenue - cost of revenue - platform fees) / revenue over the
    horizon, all revenue (first 12 months for gross_margin_first_year).
    recurring_gross_margin is the same over recurring revenue and its cost alone;
    services_margin and pilot_margin are the one-off revenues' own. CAC payback
    and LTV use the recurring margin: plain subscription revenue costs exactly
    ``costs.gross_margin``, which is then used as given; any other pricing, or a
    platform's revenue share, uses the realised recurring margin.
    """
    rev, gp = monthly["revenue"], monthly["gross_profit"]
    out["gross_margin"] = _ratio(float(gp.sum()), float(rev.sum()))
    rec = float(monthly["revenue_recurring"].sum())
    out["recurring_revenue"] = rec
    out["one_off_revenue"] = float(monthly["revenue_one_off"].sum())
    out["recurring_gross_margin"] = _ratio(
        rec - float(monthly["cogs_recurring"].sum()) - float(monthly["platform_fees"].sum()), rec)
    services = float(monthly["revenue_services"].sum())
    out["services_revenue"] = services
    out["services_margin"] = _ratio(services - float(monthly["cogs_services"].sum()), services)
    fees = float(monthly["revenue_pilot"].sum())
    out["pilot_fees_total"] = fees
    out["pilot_margin"] = _ratio(fees - float(monthly["pilot_delivery_cost"].sum()), fees)
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
    if not plain and math.isfinite(out["recurring_gross_margin"]):
        gm = out["recurring_gross_margin"]
    out["gross_margin_used"] = gm


def _payback(spend: float, new_arr: float, gm: float) -> float:
    """Months of gross profit on new recurring ARR to repay ``spend``: +inf ("never")
    when there is spend but no new recurring ARR or no positive margin."""
    if spend > 0 and (gm <= 0 or new_arr <= 0):
        return math.inf
    return _ratio(spend, new_arr * gm / 12.0)


def channel_cac(monthly: dict[str, np.ndarray], out: dict[str, float]) -> None:
    """CAC and CAC payback per acquisition channel, beside the blend.

    Self-serve spend is the sign-up source's marketing and cost per sign-up; its
    customers are the self-serve upgrades (won on the product path without sales).
    Sales-assisted spend is every other S&M cost (selling roles' selling share,
    commission, every other source's marketing and tooling, partner fees, pilot net
    loss, other S&M); its customers every other new customer (PQLs closed by sales
    among them). cac_X = spend_X / customers_X; cac_payback_X = spend_X / (new
    recurring ARR_X x recurring margin / 12), +inf with spend but no new recurring
    ARR or no positive margin; both NaN for a channel with no spend and no customers.
    The two channels' spend and customers add up to the blend's.
    """
    gm = out["gross_margin_used"]
    sm_ss = float(monthly["sm_spend_self_serve"].sum())
    cust_ss = float(monthly["new_customers_self_serve"].sum())
    arr_ss = float(monthly["new_arr_self_serve"].sum())
    sm_sa = out["sm_spend_total"] - sm_ss
    if abs(sm_sa) <= 1e-9 * out["sm_spend_total"]:  # rounding of a sum with no other part
        sm_sa = 0.0
    parts = {
        "self_serve": (sm_ss, cust_ss, arr_ss),
        "sales_assisted": (sm_sa, out["new_customers"] - cust_ss,
                           out["new_arr_total"] - arr_ss),
    }
    for name, (spend, customers, new_arr) in parts.items():
        if spend <= 0 and customers <= 0:
            out[f"cac_{name}"] = out[f"cac_payback_{name}"] = math.nan
            continue
        out[f"cac_{name}"] = _ratio(spend, customers)
        out[f"cac_payback_{name}"] = _payback(spend, new_arr, gm)


def forecast_error(fc: dict[str, np.ndarray]) -> dict[str, float]:
    """Forecast error over the quarters after the first (the first has no run rate
    to go on, and an empty company nothing in its pipeline), with F and A a
    quarter's forecast and actual bookings:

    forecast_wape = sum |F - A| / sum A; forecast_bias = (sum F - sum A) / sum A
    (NaN without bookings); forecast_mape = mean of |F - A| / A over the quarters
    with A > 0 (secondary: it drops a quarter forecast with nothing booked and
    weighs a small quarter like a large one).
    """
    later = fc["quarter"] > 0
    f, a = fc["forecast"][later], fc["actual"][later]
    booked = float(a.sum())
    ok = a > 0
    return {
        "forecast_wape": _ratio(float(np.abs(f - a).sum()), booked),
        "forecast_bias": _ratio(float(f.sum()) - booked, booked),
        "forecast_mape": float((np.abs(f[ok] - a[ok]) / a[ok]).mean()) if ok.any() else math.nan,
    }


def _retention(run: SeedRun, out: dict[str, float]) -> None:
    """NRR, GRR and annual logo churn of the retention cohort: the customers live (with
    recurring ARR) 12 months before the end.

    nrr = their ARR now / their ARR then (= then + expansion - contraction - churned);
    grr = (then - churned - contracted) / then, where churned is the cohort ARR (as it was
    then) of those who left and contracted every contraction since then of those who
    stayed (at most each one's ARR then), so GRR is at most 100%;
    annual_churn_rate = cohort customers who left by the end / cohort customers (early
    churn of a young customer counts, once). NaN when there is no cohort.
    """
    C = run.customers
    then = run.arr_then
    if then is None or not (then > 0).any():
        out["nrr"] = out["grr"] = out["annual_churn_rate"] = math.nan
        return
    k = then.size
    cohort = then > 0
    live_now = (C["end"][:k] > run.horizon) & cohort
    now = np.where(live_now, C["arr"][:k], 0.0)
    kept = np.where(live_now, np.maximum(then - C["contracted"][:k], 0.0), 0.0)
    out["nrr"] = float(now.sum() / then.sum())
    out["grr"] = min(float(kept.sum() / then.sum()), 1.0)
    out["annual_churn_rate"] = float(np.count_nonzero(cohort & ~live_now) / np.count_nonzero(cohort))


FREE_TO_PAID_MONTHS = 12  # a sign-up's upgrade counts within this many months of it


def _free_to_paid(run: SeedRun, signups: np.ndarray, ss_won: np.ndarray) -> float:
    """Self-serve upgrades within 12 months of sign-up / sign-ups, over the sign-up months
    that are at least 12 months before the end (every counted cohort had its full year to
    upgrade; NaN for horizons of 12 months or less)."""
    matured = run.n_months - FREE_TO_PAID_MONTHS
    if matured <= 0:
        return math.nan
    L = run.leads
    window = FREE_TO_PAID_MONTHS * run.horizon / run.n_months
    t_sign = L["t_arrive"][ss_won]
    ok = (t_sign < matured * run.horizon / run.n_months) & (L["t_end"][ss_won] - t_sign <= window)
    return _ratio(float(np.count_nonzero(ok)), float(signups[:matured].sum()))


def _to_production(run: SeedRun, out: dict[str, float], is_opp: np.ndarray,
                   closed_lost: np.ndarray) -> None:
    """Win rate and cycle from opportunity to production contract (pilot motions).

    Without pilots a won opportunity is the contract, and both equal ``win_rate``
    and ``cycle_days_median``. With pilots an opportunity is won when its pilot
    converts to production and lost when it is lost in the sales stages or its
    pilot ends without converting (failed, declined or abandoned); a pilot still
    under way or awaiting its decision at the horizon is open. The cycle runs from
    the opportunity's creation to the production contract's start.
    """
    P = run.pilots
    if P is None or not P["t_start"].size:
        out["win_rate_to_production"] = out["win_rate"]
        out["cycle_days_to_production"] = out["cycle_days_median"]
        return
    L, H = run.leads, run.horizon
    lead = P["lead"]
    from_opp = is_opp[lead]  # (self-serve rows never sell a pilot)
    converted = P["converted"] & (P["t_decision"] <= H) & from_opp
    # a pilot that will not convert is over when it fails at its end or at its decision
    over_at = np.where(P["success"], P["t_decision"], P["t_end"])
    dropped = ~P["converted"] & (over_at <= H) & from_opp
    won, lost = float(converted.sum()), float(closed_lost.sum() + dropped.sum())
    out["win_rate_to_production"] = _ratio(won, won + lost)
    cycles = P["t_decision"][converted] - L["created"][lead[converted]]
    out["cycle_days_to_production"] = float(np.median(cycles)) if cycles.size else math.nan


def spend_metrics(monthly: dict[str, np.ndarray], out: dict[str, float]) -> None:
    """What the go-to-market costs in cash, beside what it earns.

    The month's go-to-market burn is its sales and marketing spend plus customer success
    spend less the gross profit its customers bring that month (revenue less cost of
    revenue and platform fees); research, development and overhead are not modelled.
    ``monthly_burn`` is the largest month's burn (0 when every month earns more than
    it spends). ``months_to_recover_spend`` is the first month at whose end cumulative
    gross profit covers cumulative S&M and CS spend: the months of spending before the
    motion has paid for itself; NaN when that does not happen within the horizon
    (``recovered_spend`` 0, else 1).
    """
    spend = monthly["sm_spend"] + monthly["cs_spend"]
    burn = spend - monthly["gross_profit"]
    out["monthly_burn"] = float(max(burn.max(initial=0.0), 0.0))
    covered = np.flatnonzero((np.cumsum(monthly["gross_profit"]) >= np.cumsum(spend))
                             & (np.cumsum(spend) > 0))
    out["months_to_recover_spend"] = float(covered[0] + 1) if covered.size else math.nan
    out["recovered_spend"] = float(covered.size > 0)


def seed_metrics(
    run: SeedRun, monthly: dict[str, np.ndarray], fc: dict[str, np.ndarray],
    target_arr: float | None,
) -> dict[str, float]:
    L = run.leads
    out: dict[str, float] = {}
    _margins(run, monthly, out)
    gm = out["gross_margin_used"]
    out["bookings_total"] = float(monthly["bookings_new"].sum())
    out["pilot_bookings_total"] = float(monthly["bookings_pilot"].sum())
    out["new_customers"] = float(monthly["new_customers"].sum())
    out["arr_end"] = float(monthly["arr"][-1])
    out["retained_revenue"] = out["recurring_revenue"]  # (the name kept from before the split)
    _retention(run, out)
    sm = float(monthly["sm_spend"].sum())
    out["sm_spend_total"] = sm
    out["cs_spend_total"] = float(monthly["cs_spend"].sum())
    new_arr = float(monthly["new_arr"].sum())
    out["new_arr_total"] = new_arr
    out["cac"] = _ratio(sm, out["new_customers"])
    # a motion losing money on every unit of recurring revenue, or spending with no new
    # recurring ARR to show for it (services fees only), never pays its CAC back
    out["cac_payback_months"] = _payback(sm, new_arr, gm)
    channel_cac(monthly, out)
    # ACV is contract value: first-year bookings per new customer (a services engagement's
    # fee, an outcome deal's projection); LTV runs on the recurring ARR a customer brings
    out["avg_new_acv"] = _ratio(out["bookings_total"], out["new_customers"])
    new_arr_per_customer = _ratio(new_arr, out["new_customers"])
    annual_churn = out["annual_churn_rate"]
    churn_for_ltv = max(annual_churn, LTV_CHURN_FLOOR) if math.isfinite(annual_churn) else math.nan
    # no recurring ARR is worth nothing, whatever the churn (also when no cohort tells it)
    ltv = 0.0 if new_arr_per_customer == 0 else _ratio(new_arr_per_customer * gm,
                                                       churn_for_ltv)
    out["ltv_to_cac"] = _ratio(ltv, out["cac"])
    # opportunities closed in the horizon
    is_opp = np.isfinite(L["created"])
    closed_won = is_opp & (L["outcome"] == WON)
    closed_lost = is_opp & (L["outcome"] == LOST)
    out["win_rate"] = _ratio(float(closed_won.sum()), float((closed_won | closed_lost).sum()))
    cycles = L["t_end"][closed_won] - L["created"][closed_won]
    out["cycle_days_median"] = float(np.median(cycles)) if cycles.size else math.nan
    _to_production(run, out, is_opp, closed_lost)
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
    out["free_to_paid"] = _free_to_paid(run, monthly["signups"], ss_won)
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
    out.update(pilot_metrics(run.pilots, run.horizon))
    if run.pilots is not None and run.pilots["t_start"].size:
        # the payback were the pilots free proofs of concept: every pilot's delivery cost in
        # the horizon is acquisition cost, none of it paid for by its fee (S&M counts only
        # a pilot's net loss, max(cost - fee, 0); this adds the part its fee covered back)
        covered = float(monthly["pilot_delivery_cost"].sum() - monthly["pilot_loss"].sum())
        out["cac_payback_before_pilot_fees"] = _payback(sm + covered, new_arr, gm)
    else:
        out["cac_payback_before_pilot_fees"] = math.nan
    out.update(forecast_error(fc))
    if target_arr is not None:
        hit = np.flatnonzero(monthly["arr"] >= target_arr)
        out["months_to_arr_target"] = float(hit[0] + 1) if hit.size else math.nan
        out["reached_target"] = float(monthly["arr"][-1] >= target_arr)
    else:
        out["months_to_arr_target"] = out["reached_target"] = math.nan
    spend_metrics(monthly, out)
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
