"""CAC and CAC payback per acquisition channel (self-serve, sales-assisted), beside the blend.

Hand-worked (the unit test): $180K of S&M spend won 12 customers with $150K of new
recurring ARR at an 80% margin. The sign-up source spent $60K and won 10 self-serve
customers at $3.6K ARR each ($36K); everything else, $120K, won 2 sales-assisted
customers with $114K of ARR. Blended CAC = 180K / 12 = $15K. Self-serve CAC = 60K / 10 =
$6K, payback 60K / (36K x 0.8 / 12) = 25 months; sales-assisted CAC = 120K / 2 = $60K,
payback 120K / (114K x 0.8 / 12) = 15.79 months.
"""

from __future__ import annotations

import math

import numpy as np
from conftest import PLG, make_scenario, run_one

from sim.engine.ledger import monthly_series
from sim.engine.records import SOURCE_ID
from sim.metrics import channel_cac, seed_metrics
from sim.runner.api import simulate


def _channels(ss_spend: float, ss_customers: float, ss_arr: float, total_spend: float,
              total_customers: float, total_arr: float, gm: float = 0.8) -> dict[str, float]:
    monthly = {"sm_spend_self_serve": np.array([ss_spend]),
               "new_customers_self_serve": np.array([ss_customers]),
               "new_arr_self_serve": np.array([ss_arr])}
    out = {"gross_margin_used": gm, "sm_spend_total": total_spend,
           "new_customers": total_customers, "new_arr_total": total_arr}
    channel_cac(monthly, out)
    return out


def test_channel_cac_and_payback_hand_worked():
    out = _channels(60_000, 10, 36_000, 180_000, 12, 150_000)
    assert out["cac_self_serve"] == 6_000.0
    assert math.isclose(out["cac_payback_self_serve"], 25.0, rel_tol=1e-12)
    assert out["cac_sales_assisted"] == 60_000.0
    assert math.isclose(out["cac_payback_sales_assisted"], 120_000 / (114_000 * 0.8 / 12),
                        rel_tol=1e-12)


def test_a_channel_with_spend_and_nothing_to_show_never_pays_back():
    # sign-up marketing and no upgrade: no CAC (no customer), payback never
    out = _channels(5_000, 0, 0, 105_000, 3, 36_000)
    assert math.isnan(out["cac_self_serve"]) and out["cac_payback_self_serve"] == math.inf
    # spend and customers but no positive margin: never, as the blend
    out = _channels(5_000, 2, 720, 105_000, 3, 36_000, gm=0.0)
    assert out["cac_payback_self_serve"] == math.inf
    assert out["cac_payback_sales_assisted"] == math.inf


def test_a_channel_with_no_spend_and_no_customers_is_nan():
    out = _channels(0, 0, 0, 120_000, 3, 36_000)
    assert math.isnan(out["cac_self_serve"]) and math.isnan(out["cac_payback_self_serve"])
    assert out["cac_sales_assisted"] == 40_000.0


# One AE at $120K a year working every inbound lead ($450 each) to a $12K win, beside
# sign-ups with $5K of marketing a month and $0.50 per sign-up, upgrading on PLG's
# freemium terms to 3 seats at $10.
HYBRID = {
    "sources": {
        "inbound": {"leads_per_month": 3, "growth_per_month": 0.0},
        "signups": {"signups_per_month": 1000, "growth_per_month": 0.0, "activation_rate": 0.4,
                    "time_to_value_days": 2, "marketing_spend_per_month": 5_000,
                    "cost_per_signup": 0.5}},
    "team": {"ae": {"cost_per_year": 120_000}},
    "conversion": PLG["conversion"],
    "self_serve": PLG["self_serve"],
}


def _year_run(motion: dict, seed: int) -> tuple[dict, dict, np.ndarray]:
    """A 12-month run of ``motion``: its metrics (no forecast), monthly series, and the
    source of each customer won in the run."""
    run = run_one(make_scenario(motion, horizon_months=12), seed)
    monthly = monthly_series(run)
    m = seed_metrics(run, monthly, {"quarter": np.zeros(0), "forecast": np.zeros(0),
                                    "actual": np.zeros(0)}, None)
    C = run.customers
    new = ~C["initial"] & (C["start"] <= run.horizon)
    return m, monthly, C["source"][new]


def test_hybrid_motion_splits_spend_and_customers_by_channel():
    m, monthly, source = _year_run(HYBRID, 3)
    n_ss = int((source == SOURCE_ID["signups"]).sum())
    n_sa = int((source != SOURCE_ID["signups"]).sum())
    assert n_ss > 0 and n_sa > 0
    # spend by hand: sign-ups' marketing and cost per sign-up; the AE's salary and the
    # inbound leads' cost are the rest
    ss_spend = 12 * 5_000 + 0.5 * monthly["signups"].sum()
    sa_spend = 120_000.0 + 450 * monthly["leads_inbound"].sum()
    assert math.isclose(m["sm_spend_total"], ss_spend + sa_spend, rel_tol=1e-9)
    assert math.isclose(m["cac_self_serve"], ss_spend / n_ss, rel_tol=1e-9)
    assert math.isclose(m["cac_sales_assisted"], sa_spend / n_sa, rel_tol=1e-9)
    # a self-serve account's ARR is 3 seats x $10 x 12; a sales deal's $12K; margin 80%
    assert math.isclose(m["cac_payback_self_serve"], ss_spend / (n_ss * 360 * 0.8 / 12),
                        rel_tol=1e-9)
    assert math.isclose(m["cac_payback_sales_assisted"], sa_spend / (n_sa * 12_000 * 0.8 / 12),
                        rel_tol=1e-9)
    # the blend is still total spend over total customers
    assert math.isclose(m["cac"], m["sm_spend_total"] / (n_ss + n_sa), rel_tol=1e-12)


def test_pure_sales_led_has_no_self_serve_cac_and_its_sales_cac_is_the_blend():
    sc = make_scenario({"sources": {"inbound": {"leads_per_month": 3}},
                        "team": {"ae": {"cost_per_year": 120_000}}}, horizon_months=12)
    runs = simulate(sc, seeds=3, workers=1).runs
    assert runs["cac_self_serve"].isna().all()
    assert runs["cac_payback_self_serve"].isna().all()
    assert (runs["cac_sales_assisted"] == runs["cac"]).all()
    assert (runs["cac_payback_sales_assisted"] == runs["cac_payback_months"]).all()


def test_pqls_closed_by_sales_are_sales_assisted_customers():
    """Sign-ups only, with product-qualified leads worked by the AE ($120K a year): the
    PQL wins count as sales-assisted customers, the upgrades as self-serve."""
    motion = {**HYBRID,
              "sources": {"signups": HYBRID["sources"]["signups"]},
              "pql": {"threshold": 5, "reference_threshold": 5, "usage_start": 1,
                      "usage_growth_monthly": 0.5, "conversion": 0.5, "min_days_active": 0,
                      "early_touch_penalty": 0.0, "acv": 10_000}}
    m, monthly, source = _year_run(motion, 2)
    n_pql = int((source == SOURCE_ID["pql"]).sum())
    n_ss = int((source == SOURCE_ID["signups"]).sum())
    assert n_pql > 0 and n_ss > 0 and n_pql + n_ss == m["new_customers"]
    ss_spend = 12 * 5_000 + 0.5 * monthly["signups"].sum()
    assert math.isclose(m["cac_self_serve"], ss_spend / n_ss, rel_tol=1e-9)
    assert math.isclose(m["cac_sales_assisted"], 120_000 / n_pql, rel_tol=1e-9)
