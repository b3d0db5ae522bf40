"""Motion mechanics against hand-worked figures: founder calendar, partner enablement."""

from __future__ import annotations

import math

import numpy as np
from conftest import make_scenario, run_one

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
