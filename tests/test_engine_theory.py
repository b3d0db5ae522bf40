"""The engine against results worked out by hand or from theory.

Every stochastic check fixes its seeds and allows 4 standard errors, the
standard error computed from the quantity's own variance (binomial, Poisson, or
the spread across independent seeds).
"""

from __future__ import annotations

import math

import numpy as np
from conftest import make_scenario, run_one

from sim.engine.ledger import monthly_series
from sim.engine.records import OPEN, WON
from sim.engine.sources import SOURCE_ID
from sim.engine.team import MONTH_DAYS

M = MONTH_DAYS


def test_wins_equal_leads_times_product_of_advance_probabilities():
    stages = [
        {"name": "qualify", "duration": 5, "advance": 0.3},
        {"name": "discovery", "owner": "ae", "duration": 10, "advance": 0.5},
        {"name": "close", "owner": "ae", "duration": 10, "advance": 0.8},
    ]
    sc = make_scenario({"sources": {"inbound": {"leads_per_month": 200, "growth_per_month": 0,
                                                "fit_rate": 1.0, "cost_per_lead": 0}},
                        "stages": stages})
    horizon = 12 * M
    n = wins = 0
    for seed in range(30):
        L = run_one(sc, seed).leads
        done = L["t_arrive"] < horizon - 25  # every such lead is decided by the horizon
        assert not (L["outcome"][done] == OPEN).any()
        n += int(done.sum())
        wins += int((L["outcome"][done] == WON).sum())
    p = 0.3 * 0.5 * 0.8
    assert abs(wins / n - p) < 4 * math.sqrt(p * (1 - p) / n)


def test_poisson_lead_volume_with_growth_matches_the_integral():
    g, per_month, months = 0.05, 100.0, 12
    sc = make_scenario({"sources": {"inbound": {"leads_per_month": per_month,
                                                "growth_per_month": g, "cost_per_lead": 0}}},
                       horizon_months=months)
    counts = [run_one(sc, s).leads["t_arrive"].size for s in range(40)]
    expected = per_month * ((1 + g) ** months - 1) / math.log(1 + g)
    assert abs(np.mean(counts) - expected) < 4 * math.sqrt(expected / 40)


def test_outbound_meetings_scale_with_sdr_productivity():
    sc = make_scenario({"sources": {"outbound": {"meetings_per_sdr_month": 10}},
                        "team": {"sdr": {"start": 2, "hires": {6: 2}, "ramp_months": 6,
                                         "ramp_start": 0.0, "attrition_annual": 0}}})
    counts = [run_one(sc, s).leads["t_arrive"].size for s in range(40)]
    # 2 full SDRs for 12 months, 2 more from month 6 ramping 0 -> 1 over 6 months (half)
    expected = 10 * (2 * 12 + 2 * 6 * 0.5)
    assert abs(np.mean(counts) - expected) < 4 * math.sqrt(expected / 40)


def test_outbound_meetings_enter_at_their_entry_stage():
    """A meeting booked after qualification skips the qualifying stage: it is an
    opportunity when it is booked, and wins with the product of the later stages'
    advances, the AI response penalty on the stage it enters (0.5 x 0.6 x 0.8 = 0.24).
    Inbound leads of the same motion still go through qualification (0.1 x 0.5 x 0.8)."""
    sc = make_scenario({
        "sources": {"inbound": {"leads_per_month": 40, "growth_per_month": 0, "cost_per_lead": 0},
                    "outbound": {"meetings_per_sdr_month": 40, "ai_multiplier": 1.0,
                                 "ai_response_penalty": 0.4, "ai_failure_probability": 0.0,
                                 "entry_stage": "discovery"}},
        "team": {"sdr": {"start": 1, "hires": {}, "ramp_months": 0, "ramp_start": 1.0,
                         "cost_per_year": 0, "commission_rate": 0, "attrition_annual": 0}},
        "stages": [{"name": "qualify", "duration": 2, "advance": 0.1},
                   {"name": "discovery", "owner": "ae", "duration": 5, "advance": 0.5},
                   {"name": "close", "owner": "ae", "duration": 5, "advance": 0.8}],
    })
    won = {"inbound": 0, "outbound": 0}
    closed = {"inbound": 0, "outbound": 0}
    for s in range(10):
        L = run_one(sc, s).leads
        out = L["source"] == SOURCE_ID["outbound"]
        inb = L["source"] == SOURCE_ID["inbound"]
        assert out.sum() > 0 and inb.sum() > 0
        # meetings never enter qualification; each is an opportunity when booked
        assert np.isnan(L["entry"][out, 0]).all()
        # (simpy's clock reaches a time as now + delay: equal up to rounding)
        np.testing.assert_allclose(L["entry"][out, 1], L["t_arrive"][out], rtol=0, atol=1e-9)
        np.testing.assert_allclose(L["created"][out], L["t_arrive"][out], rtol=0, atol=1e-9)
        np.testing.assert_array_equal(L["entry"][inb, 0], L["t_arrive"][inb])
        for name, sel in (("inbound", inb), ("outbound", out)):
            done = sel & (L["outcome"] != OPEN)
            closed[name] += int(done.sum())
            won[name] += int((sel & (L["outcome"] == WON)).sum())
    for name, p in (("outbound", 0.5 * 0.6 * 0.8), ("inbound", 0.1 * 0.5 * 0.8)):
        n = closed[name]
        assert abs(won[name] / n - p) < 4 * math.sqrt(p * (1 - p) / n), (name, won[name] / n)


def _erlang_c(c: int, a: float) -> float:
    """Probability an arrival waits in M/M/c with offered load a = lambda/mu."""
    s = sum(a**k / math.factorial(k) for k in range(c))
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (s + top)


def test_queue_matches_erlang_c_and_littles_law():
    per_month, mean_service, c = 90.0, 7.0, 25
    lam = per_month / M
    a = lam * mean_service
    wq = _erlang_c(c, a) / (c / mean_service - lam)
    sc = make_scenario(
        {"sources": {"inbound": {"leads_per_month": per_month, "growth_per_month": 0,
                                 "cost_per_lead": 0}},
         "team": {"ae": {"max_open_deals": c}},
         "stages": [{"name": "work", "owner": "ae",
                     "duration": {"dist": "exponential", "mean": mean_service},
                     "advance": 1.0}]},
        horizon_months=120,
    )
    warm, end = 12 * M, 120 * M
    grid = np.arange(warm, end, 1.0)
    waits, in_system, sample_path = [], [], []
    for seed in range(12):
        L = run_one(sc, seed).leads
        t_end = np.where(L["outcome"] == OPEN, np.inf, L["t_end"])
        steady = (L["t_arrive"] >= warm) & (t_end < end)
        waits.append(L["wait"][steady].mean())
        arr = np.sort(L["t_arrive"])
        dep = np.sort(t_end)
        count = np.searchsorted(arr, grid, "right") - np.searchsorted(dep, grid, "right")
        in_system.append(count.mean())
        # Little's law on the sample path: L = (arrivals per day) x (mean time in system)
        window = (L["t_arrive"] >= warm) & (L["t_arrive"] < end)
        soj = (np.minimum(t_end, end) - L["t_arrive"])[window]
        sample_path.append(window.sum() / (end - warm) * soj.mean())
    w, li = np.array(waits), np.array(in_system)
    assert abs(w.mean() - wq) < 4 * w.std(ddof=1) / math.sqrt(w.size)
    l_theory = lam * (wq + mean_service)
    assert abs(li.mean() - l_theory) < 4 * li.std(ddof=1) / math.sqrt(li.size)
    np.testing.assert_allclose(li, sample_path, rtol=0.02)


def test_throughput_never_exceeds_capacity_over_time_held():
    c, d = 10, 10.0
    sc = make_scenario(
        {"sources": {"inbound": {"leads_per_month": 300, "growth_per_month": 0,
                                 "cost_per_lead": 0}},
         "team": {"ae": {"max_open_deals": c}},
         "queue": {"max_wait_days": 5},
         "stages": [{"name": "work", "owner": "ae", "duration": d, "advance": 1.0}]},
    )
    for seed in range(5):
        run = run_one(sc, seed)
        L = run.leads
        served = np.sort(L["t_end"][L["outcome"] == WON])
        # in any window of length d at most c deals can finish service
        in_window = np.searchsorted(served, served, "right") - np.searchsorted(served, served - d + 1e-6,
                                                                               "right")
        assert in_window.max() <= c
        assert run.extras["peak_held"]["ae"] <= c
        # saturated: long-run throughput is c / d per day
        rate = served.size / (12 * M)
        assert rate <= c / d
        assert rate > 0.95 * c / d


def test_monthly_cohort_arr_decays_as_one_minus_h_to_the_months():
    h, n = 0.05, 4000
    sc = make_scenario(
        {"retention": {"monthly_churn": h}},
        initial={"customers": {"count": n, "arr": n * 1000.0, "contract": "monthly",
                               "max_age_months": 1e-6}},
        horizon_months=24,
    )
    arr = monthly_series(run_one(sc, 3))["arr"] / (n * 1000.0)
    k = np.arange(1, 25)
    p = (1 - h) ** k
    se = np.sqrt(p * (1 - p) / n)
    assert (np.abs(arr - p) < 4 * se).all()


def test_annual_contracts_decide_once_a_year_with_the_annual_odds():
    h, n = 0.02, 4000
    sc = make_scenario(
        {"retention": {"monthly_churn": h}},
        initial={"customers": {"count": n, "arr": float(n), "max_age_months": 1e-6}},
        horizon_months=13,
    )
    m = monthly_series(run_one(sc, 5))
    assert m["customers"][10] == n  # nobody leaves before the renewal
    p = (1 - h) ** 12
    assert abs(m["customers"][12] / n - p) < 4 * math.sqrt(p * (1 - p) / n)


def test_bad_fit_and_poor_handoff_raise_early_churn():
    n = 4000
    base = {"sources": {"inbound": {"leads_per_month": n / 3, "fit_rate": 0.5,
                                    "growth_per_month": 0, "cost_per_lead": 0}},
            "stages": [{"name": "work", "duration": 1, "advance": 1.0}],
            "retention": {"early_churn": 0.1, "early_window_days": 90, "bad_fit_multiplier": 2.0,
                          "poor_handoff_multiplier": 1.5}}
    for criteria, mult in ((True, 1.0), (False, 1.5)):
        sc = make_scenario({**base, "handoff": {"acceptance_criteria": criteria}},
                           horizon_months=9)
        run = run_one(sc, 11)
        C = run.customers
        early = C["start"] < 3 * M  # their whole window is inside the horizon
        churned = C["end"][early] <= C["start"][early] + 90
        fit = C["fit"][early]
        for group, p in ((fit, 0.1 * mult), (~fit, 0.2 * mult)):
            k = int(group.sum())
            assert abs(churned[group].mean() - p) < 4 * math.sqrt(p * (1 - p) / k)
