"""Motion mechanics against hand-worked figures: founder calendar, partner enablement."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import PLG, make_scenario, run_one

from sim.engine.ledger import monthly_series
from sim.engine.records import WON
from sim.engine.team import MONTH_DAYS

M = MONTH_DAYS


def test_founder_never_closes_more_than_the_calendar_allows():
    sc = make_scenario(
        {"sources": {"founder_network": {"intros_per_month": 20}},
         "team": {"ae": None, "founder": {"start": 1, "max_open_deals": 6,
                                          "deals_per_quarter": 4}},
         "stages": [{"name": "talk", "owner": "founder", "duration": 5, "advance": 0.8},
                    {"name": "close", "owner": "founder", "duration": 10, "advance": 0.9}]},
        horizon_months=24,
    )
    for seed in range(5):
        run = run_one(sc, seed)
        L = run.leads
        wins = L["t_end"][L["outcome"] == WON]
        per_quarter = np.bincount((wins // (3 * M)).astype(int), minlength=8)
        assert per_quarter.max() <= 4
        assert per_quarter[:7].min() == 4  # demand is far above the calendar
        assert run.extras["peak_held"]["founder"] <= 6


def test_partner_referrals_follow_the_enablement_ramp():
    per_q, rate, ramp_months, months, seeds = 10, 3.0, 6, 12, 30
    sc = make_scenario(
        {"sources": {"partners": {"partners_start": 0, "recruited_per_quarter": per_q,
                                  "enablement_months": ramp_months,
                                  "referrals_per_partner_month": rate,
                                  "referral_volatility": 0.0}}},
        horizon_months=months,
    )
    counts = np.zeros(months)
    for seed in range(seeds):
        counts += monthly_series(run_one(sc, seed))["leads_partners"]
    # expected referrals in month m: per cohort joined at quarter start q, the month's mean
    # of min(1, (t - joined) / ramp) times partners x rate
    expected = np.zeros(months)
    t = np.linspace(0, 1, 2001)
    for m in range(months):
        for q in range(0, m // 3 + 1):
            age = (m + t) - 3 * q  # months since joining across the month
            expected[m] += per_q * rate * np.trapezoid(np.clip(age / ramp_months, 0, 1), t)
    expected *= seeds
    assert (np.abs(counts - expected) < 4 * np.sqrt(expected) + 1e-9).all()
    assert counts[0] < counts[5] < counts[11]


def test_partner_fees_and_mis_sold_churn():
    sc = make_scenario(
        {"sources": {"partners": {"partners_start": 50, "referrals_per_partner_month": 10,
                                  "referral_fit_rate": 0.5, "partner_fee_rate": 0.25,
                                  "referral_volatility": 0.0}},
         "stages": [{"name": "work", "duration": 1, "advance": 1.0}],
         "retention": {"early_churn": 0.1, "early_window_days": 60,
                       "bad_fit_multiplier": 1.0, "partner_mis_sold_multiplier": 3.0}},
        horizon_months=6,
    )
    run = run_one(sc, 2)
    m = monthly_series(run)
    assert m["partner_fees"].sum() == np.float64(0.25 * m["bookings_new"].sum())
    C = run.customers
    done = C["start"] < 3 * M
    churned = C["end"][done] <= C["start"][done] + 60
    for fit, p in ((True, 0.1), (False, 0.3)):
        g = C["fit"][done] == fit
        assert abs(churned[g].mean() - p) < 4 * math.sqrt(p * (1 - p) / g.sum())


def test_bulk_activation_is_a_thinned_poisson_process():
    # per-sign-up draws would give activated ~ Poisson(3000 x 0.4) a month: mean = variance
    sc = make_scenario(PLG, horizon_months=24)
    act = np.concatenate([monthly_series(run_one(sc, s))["activated"] for s in range(10)])
    lam = 3000 * 0.4
    assert abs(act.mean() - lam) < 4 * math.sqrt(lam / act.size)
    # sample variance of a Poisson: sd of s^2 is about lam * sqrt(2 / n)
    assert abs(act.var(ddof=1) - lam) < 4 * lam * math.sqrt(2 / act.size)
    signups = np.concatenate([monthly_series(run_one(sc, s))["signups"] for s in range(10)])
    assert abs(signups.mean() - 3000) < 4 * math.sqrt(3000 / signups.size)


def test_freemium_upgrades_follow_the_competing_hazards():
    sc = make_scenario(PLG, horizon_months=24)
    run = run_one(sc, 4)
    L = run.leads
    ss = L["source"] == 4  # signups
    months = (L["t_end"][ss] - L["t_arrive"][ss] - 2) / MONTH_DAYS  # time from activation
    c, d = -math.log(1 - 0.02), -math.log(1 - 0.1)
    act = monthly_series(run)["activated"]
    # accounts activated in the first 6 months: upgraded within 12 months of activation
    early = L["t_arrive"][ss] < 6 * M
    k = act[:6].sum()
    p = c / (c + d) * (1 - math.exp(-(c + d) * 12))
    got = (months[early] <= 12).sum() / k
    assert abs(got - p) < 4 * math.sqrt(p * (1 - p) / k)
    # self-serve ARR is seats x price x 12
    assert np.allclose(L["acv"][ss], 3 * 10 * 12)


def test_realised_pql_conversion_equals_the_configured_one():
    motion = {
        **PLG,
        "pql": {"threshold": 5, "reference_threshold": 5, "usage_start": 1,
                "usage_growth_monthly": 0.5, "conversion": 0.3, "min_days_active": 0,
                "early_touch_penalty": 0.0, "acv": 10000},
        "stages": [{"name": "qualify", "duration": 1, "advance": 0.5},
                   {"name": "discovery", "owner": "ae", "duration": 10, "advance": 0.6},
                   {"name": "close", "owner": "ae", "duration": 10, "advance": 0.7}],
    }
    sc = make_scenario(motion, horizon_months=18)
    won = closed = 0
    for seed in range(4):
        L = run_one(sc, seed).leads
        pql = (L["source"] == 5) & (L["outcome"] != 0)
        closed += int(pql.sum())
        won += int((pql & (L["outcome"] == WON)).sum())
        # PQLs skip qualification and enter at discovery
        assert np.isnan(L["entry"][pql, 0]).all()
    assert abs(won / closed - 0.3) < 4 * math.sqrt(0.3 * 0.7 / closed)


def test_touching_pqls_early_and_a_loose_threshold_lower_conversion():
    def conversion(extra):
        motion = {**PLG, "pql": {"threshold": 5, "reference_threshold": 5,
                                      "usage_start": 1, "usage_growth_monthly": 0.5,
                                      "conversion": 0.3, "min_days_active": 0,
                                      "early_touch_days": 0, "early_touch_penalty": 0.5, **extra}}
        L = run_one(make_scenario(motion, horizon_months=12), 1).leads
        pql = (L["source"] == 5) & (L["outcome"] != 0)
        return (L["outcome"][pql] == WON).mean(), int(pql.sum())

    base, n0 = conversion({})
    early, n_early = conversion({"early_touch_days": 365})  # every PQL is touched too early
    loose, n1 = conversion({"threshold": 1.25})  # a quarter of the reference threshold
    assert abs(base - 0.3) < 4 * math.sqrt(0.3 * 0.7 / n0)
    assert abs(early - 0.15) < 4 * math.sqrt(0.15 * 0.85 / n_early)  # 0.3 x (1 - 0.5)
    assert abs(loose - 0.15) < 4 * math.sqrt(0.15 * 0.85 / n1)  # 0.3 x (1.25/5)^0.5
    assert n1 > n0  # more, weaker PQLs


PILOT = {
    "stages": [{"name": "evaluate", "owner": "ae", "duration": 5, "advance": 1.0}],
    "pilot": {"fee": 40000, "duration_days": 60, "success_rate": 0.6, "delivery_cost": 50000,
              "production_multiplier": 5, "conversion_clause": True,
              "decision_conversion": 0.8, "decision_window_days": 30,
              "extension_probability": 0.5, "extension_days": 60, "extension_decay": 0.7,
              "max_extensions": 4},
}


def _pilot_run(clause: bool, n: int = 600):
    motion = {**PILOT, "pilot": {**PILOT["pilot"], "conversion_clause": clause}}
    sc = make_scenario(motion, initial={"pipeline": [{"stage": "evaluate", "count": n}]},
                       horizon_months=48)
    return run_one(sc, 9)


def test_production_acv_is_multiplier_times_fee_and_fees_are_not_arr():
    run = _pilot_run(True)
    P, C = run.pilots, run.customers
    assert np.allclose(P["production_acv"], 5 * 40000)
    assert np.allclose(C["arr0"], 200000)
    m = monthly_series(run)
    assert m["bookings_pilot"].sum() == 600 * 40000
    assert m["arr"].max() <= C["arr0"].sum() + 1e-6  # fees never enter ARR
    assert m["pilot_delivery_cost"].sum() == pytest.approx(600 * 50000)  # spread over each pilot
    # with a clause: P(convert) = success x decision odds, decided within 30 days of the end
    p = 0.6 * 0.8
    assert abs(P["converted"].mean() - p) < 4 * math.sqrt(p * (1 - p) / 600)
    lag = P["t_decision"][P["converted"]] - P["t_end"][P["converted"]]
    assert lag.min() >= 0 and lag.max() <= 30


def test_no_clause_means_fewer_and_later_conversions():
    with_clause, without = _pilot_run(True).pilots, _pilot_run(False).pilots
    # without a clause: sum over k extensions (k < 4) of 0.5^k 0.5 x 0.8 x 0.7^k
    p = 0.6 * sum(0.5**k * 0.5 * 0.8 * 0.7**k for k in range(4))
    assert abs(without["converted"].mean() - p) < 4 * math.sqrt(p * (1 - p) / 600)
    assert without["converted"].mean() < with_clause["converted"].mean()
    lag = lambda P: (P["t_decision"] - P["t_end"])[P["converted"]].mean()  # noqa: E731
    assert lag(without) > lag(with_clause)
