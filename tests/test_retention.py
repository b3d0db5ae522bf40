"""Retention metrics against hand-worked scenarios: logo churn, GRR, NRR, LTV:CAC,
separate expansion and contraction, free-to-paid on matured cohorts, PQL timing.

Tolerances are 4 standard errors of the quantity, worked out from the scenario.
"""

from __future__ import annotations

import math

import numpy as np
from conftest import PLG, make_scenario, run_one

from sim.engine.forecast import quarterly_forecast
from sim.engine.ledger import monthly_series
from sim.engine.records import WON
from sim.engine.rng import Streams
from sim.engine.team import MONTH_DAYS
from sim.metrics import seed_metrics

M = MONTH_DAYS


def metrics(run):
    mo = monthly_series(run)
    return seed_metrics(run, mo, quarterly_forecast(run, Streams(1, 0)), None), mo


def cohort_size(run) -> int:
    return int(np.count_nonzero(run.arr_then > 0))


# -- logo churn and LTV ---------------------------------------------------------------

ARRIVING = {  # 40 deals a month, all won 10 days after arriving: annual customers keep coming
    "sources": {"inbound": {"leads_per_month": 40, "growth_per_month": 0.0, "fit_rate": 1.0,
                            "marketing_spend_per_month": 0}},
    "retention": {"monthly_churn": 0.01},
    "costs": {"other_sm_per_month": 30000},
}


def test_annual_logo_churn_is_the_renewal_churn_while_customers_keep_arriving():
    """1%/month decided at annual renewals is 1 - 0.99^12 = 11.36% a year; counting churn
    per customer-year of exposure read 7.5% here (young customers cannot churn yet)."""
    sc = make_scenario(ARRIVING, horizon_months=36)
    p = 1 - 0.99**12
    churned = cohort = 0
    for seed in range(3):
        run = run_one(sc, seed)
        m, _ = metrics(run)
        k = cohort_size(run)
        churned += m["annual_churn_rate"] * k
        cohort += k
    assert abs(churned / cohort - p) < 4 * math.sqrt(p * (1 - p) / cohort)


def test_ltv_to_cac_uses_the_annual_logo_churn():
    """LTV = ACV x margin / annual churn; CAC = S&M / new customers (no salaries here)."""
    sc = make_scenario(ARRIVING, horizon_months=36)
    run = run_one(sc, 7)
    m, mo = metrics(run)
    p = 1 - 0.99**12
    cac = 36 * 30000 / m["new_customers"]
    assert m["cac"] == cac
    expected = 12000 * 0.8 / p / cac
    # the only noise is the churn estimate: relative SE of 1/churn = SE(churn) / churn
    rel_se = math.sqrt(p * (1 - p) / cohort_size(run)) / p
    assert abs(m["ltv_to_cac"] / expected - 1) < 4 * rel_se
    # and it is exactly the formula on the seed's own churn
    assert m["ltv_to_cac"] == 12000 * 0.8 / max(m["annual_churn_rate"], 0.05) / cac


def test_early_churn_of_a_young_cohort_customer_counts_once():
    n = 4000
    sc = make_scenario(
        {"retention": {"monthly_churn": 0.0, "early_churn": 0.2, "early_window_days": 90}},
        initial={"customers": {"count": n, "arr": float(n), "max_age_months": 1e-6}},
        horizon_months=12,
    )
    run = run_one(sc, 2)
    m, mo = metrics(run)
    # the cohort is every initial customer (live at month 0); a fifth leave in 90 days
    assert cohort_size(run) == n
    assert m["annual_churn_rate"] == (n - mo["customers"][-1]) / n
    assert abs(m["annual_churn_rate"] - 0.2) < 4 * math.sqrt(0.2 * 0.8 / n)


# -- GRR and NRR: expansion and contraction are separate movements ---------------------

def cohort_run(retention, n=6000, seed=3):
    """n annual customers signed at time ~0: the cohort at month 12 renews once more at
    month 24, the end."""
    sc = make_scenario(
        {"retention": {"monthly_churn": 0.01, **retention}},
        initial={"customers": {"count": n, "arr": 1000.0 * n, "max_age_months": 1e-6}},
        horizon_months=24,
    )
    return run_one(sc, seed)


def test_grr_counts_contraction_even_when_expansion_is_larger():
    """Every retained customer moves +30% and -10%: GRR = (1-p)(1-0.1), NRR = (1-p)(1.2).
    Netting the two into one multiplier read GRR = 1-p: no customer ever contracted."""
    run = cohort_run({"expansion_rate_annual": 0.3, "contraction_rate_annual": 0.1})
    m, mo = metrics(run)
    n = cohort_size(run)
    p = 1 - 0.99**12
    se = math.sqrt(p * (1 - p) / n)
    assert abs(m["grr"] - (1 - p) * 0.9) < 4 * 0.9 * se
    assert abs(m["nrr"] - (1 - p) * 1.2) < 4 * 1.2 * se
    assert abs(m["annual_churn_rate"] - p) < 4 * se
    # the movements of the year: expansion 30% and contraction 10% of the retained ARR then
    then = run.arr_then.sum()  # (every customer's ARR after the first renewal: 1,000 x 1.2)
    assert math.isclose(then, 1200.0 * n, rel_tol=1e-9)
    retained = then * (1 - m["annual_churn_rate"])
    year2 = slice(12, 24)
    assert math.isclose(mo["expansion_arr"][year2].sum(), 0.3 * retained, rel_tol=1e-9)
    assert math.isclose(mo["contraction_arr"][year2].sum(), 0.1 * retained, rel_tol=1e-9)
    # GRR as the standard formula on the book's movements
    churned_then = mo["churned_arr"][year2].sum()
    gross = (then - churned_then - mo["contraction_arr"][year2].sum()) / then
    assert math.isclose(m["grr"], gross, rel_tol=1e-9)


def test_lumpy_expansion_and_contraction_keep_their_rates():
    """40% of retained customers expand (by 30%/0.4 = 75%), 20% contract (by 10%/0.2 = 50%),
    each from its own draw: GRR and NRR keep their expectations, with a larger spread."""
    run = cohort_run({"expansion_rate_annual": 0.3, "contraction_rate_annual": 0.1,
                      "expansion_share": 0.4, "contraction_share": 0.2}, n=8000, seed=4)
    m, _ = metrics(run)
    C = run.customers
    n = cohort_size(run)
    p = 1 - 0.99**12
    # a cohort customer's gross retained share Y: 0 (churned), 0.5 (contracted) or 1
    ey = (1 - p) * 0.9
    var_y = (1 - p) * (0.8 + 0.2 * 0.25) - ey**2
    assert abs(m["grr"] - ey) < 4 * math.sqrt(var_y / n)
    # net: Z = retained x (1 + 0.75 X_e - 0.5 X_c), X_e, X_c independent
    ez = (1 - p) * 1.2
    ez2 = (1 - p) * np.mean([(1 + 0.75 * xe - 0.5 * xc) ** 2 * we * wc
                             for xe, we in ((1, 0.4), (0, 0.6)) for xc, wc in ((1, 0.2), (0, 0.8))]
                            ) * 4
    assert abs(m["nrr"] - ez) < 4 * math.sqrt((ez2 - ez**2) / n)
    # the movements are lumpy and independent: ARR now / ARR then of retained customers
    live = (C["end"] > run.horizon) & (run.arr_then > 0)
    ratio = np.round(C["arr"][live] / run.arr_then[live], 9)
    shares = {v: float(np.mean(ratio == v)) for v in (1.25, 1.75, 0.5, 1.0)}
    k = int(live.sum())
    for v, q in ((1.25, 0.4 * 0.2), (1.75, 0.4 * 0.8), (0.5, 0.6 * 0.2), (1.0, 0.6 * 0.8)):
        assert abs(shares[v] - q) < 4 * math.sqrt(q * (1 - q) / k)


def test_a_contraction_share_below_the_rate_is_the_rate():
    """A contracting customer loses at most its whole ARR: the share is at least the rate."""
    run = cohort_run({"contraction_rate_annual": 0.3, "contraction_share": 0.1}, n=3000)
    C = run.customers
    live = (C["end"] > run.horizon) & (run.arr_then > 0)
    ratio = C["arr"][live] / run.arr_then[live]
    assert ratio.min() >= 0.0 and np.isclose(ratio, 0.0).any()  # the contracting ones: to zero
    m, _ = metrics(run)
    n = cohort_size(run)
    p = 1 - 0.99**12
    assert abs(m["grr"] - (1 - p) * 0.7) < 4 * math.sqrt((1 - p) * 0.7 - ((1 - p) * 0.7) ** 2) / (
        math.sqrt(n))


# -- product path (conftest.PLG): free-to-paid on matured cohorts, PQL timing -----------


def test_free_to_paid_is_measured_on_cohorts_a_year_old():
    """Sign-ups of months 0-11 of a 24-month run, each with its full year to upgrade:
    activation x c/(c+d) x (1 - exp(-(c+d) x (12 months - 2 days))). Upgrades over all
    sign-ups read low: the last year's sign-ups had not had time to upgrade."""
    run = run_one(make_scenario(PLG, horizon_months=24), 6)
    m, mo = metrics(run)
    c, d = -math.log(1 - 0.02), -math.log(1 - 0.1)
    p = 0.4 * c / (c + d) * (1 - math.exp(-(c + d) * (12 - 2 / M)))
    n = mo["signups"][:12].sum()
    assert abs(m["free_to_paid"] - p) < 4 * math.sqrt(p * (1 - p) / n)
    # a 12-month horizon has no cohort a year old
    short, _ = metrics(run_one(make_scenario(PLG, horizon_months=12), 6))
    assert math.isnan(short["free_to_paid"])


def pql_run(pql, seed=1):
    motion = {**PLG, "pql": {"threshold": 5, "reference_threshold": 5, "usage_start": 6,
                             "usage_growth_monthly": 0.1, "conversion": 0.3,
                             "early_touch_penalty": 0.5, "early_touch_days": 30, **pql}}
    return run_one(make_scenario(motion, horizon_months=12), seed)


def test_waiting_for_min_days_active_avoids_the_early_touch_penalty():
    """Usage starts above the threshold: every account is a PQL at activation. Touched at
    once, each loses half its conversion; waiting 30 days, none does, and the accounts
    that upgrade or go dormant in those 30 days never reach sales."""
    def conversion(run):
        L = run.leads
        pql = (L["source"] == 5) & (L["outcome"] != 0)
        return (L["outcome"][pql] == WON).mean(), int(pql.sum())

    now, n_now = conversion(pql_run({"min_days_active": 0}))
    wait, n_wait = conversion(pql_run({"min_days_active": 30}))
    assert abs(now - 0.15) < 4 * math.sqrt(0.15 * 0.85 / n_now)
    assert abs(wait - 0.3) < 4 * math.sqrt(0.3 * 0.7 / n_wait)
    # the cost of waiting: an account reaches sales only if it has not decided in 30 days
    run = pql_run({"min_days_active": 30})
    L = run.leads
    c, d = -math.log(1 - 0.02), -math.log(1 - 0.1)
    q = math.exp(-(c + d) * 30 / M)
    k = monthly_series(run)["activated"][:10].sum()  # signed up in months 0-9
    is_pql = L["source"] == 5
    # touched 2 + 30 days after signing up
    got = np.count_nonzero(is_pql & (L["t_arrive"] < 10 * M + 32))
    assert abs(got - q * k) < 4 * math.sqrt(q * (1 - q) * k)
