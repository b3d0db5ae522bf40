"""What a motion costs in cash: peak monthly burn and the month its spend is recovered.

Hand-worked: a motion spending 100 a month on sales and marketing and 10 on customer
success, whose customers bring gross profit 0, 30, 60, ... (30 more each month).
Burn by month: 110, 80, 50, 20, -10, ...: the peak is 110 (month 1). Cumulative spend
after month t is 110 t; cumulative gross profit 30 t (t - 1) / 2; they meet when
15 (t - 1) >= 110, t >= 8.33: month 9.
"""

from __future__ import annotations

import math

import numpy as np
from conftest import make_scenario

from sim.metrics import spend_metrics
from sim.runner.api import simulate


def _spend(monthly: dict[str, np.ndarray]) -> dict[str, float]:
    out: dict[str, float] = {}
    spend_metrics(monthly, out)
    return out


def test_peak_burn_and_recovery_month_hand_worked():
    n = 12
    monthly = {"sm_spend": np.full(n, 100.0), "cs_spend": np.full(n, 10.0),
               "gross_profit": 30.0 * np.arange(n)}
    out = _spend(monthly)
    assert out["monthly_burn"] == 110.0
    assert out["months_to_recover_spend"] == 9.0
    assert out["recovered_spend"] == 1.0
    # cut at month 8: not recovered within the horizon
    cut = _spend({k: v[:8] for k, v in monthly.items()})
    assert math.isnan(cut["months_to_recover_spend"]) and cut["recovered_spend"] == 0.0


def test_a_motion_earning_more_than_it_spends_has_no_burn():
    out = _spend({"sm_spend": np.full(3, 5.0), "cs_spend": np.zeros(3),
                  "gross_profit": np.full(3, 8.0)})
    assert out["monthly_burn"] == 0.0 and out["months_to_recover_spend"] == 1.0


def test_spend_metrics_of_a_run_read_its_monthly_books():
    """One AE at $120K a year and nothing won: burn is $10K every month, never recovered."""
    sc = make_scenario({"team": {"ae": {"cost_per_year": 120_000}}}, horizon_months=6)
    m = simulate(sc, seeds=1, workers=1).runs.iloc[0]
    assert m["monthly_burn"] == 10_000.0
    assert m["recovered_spend"] == 0.0 and math.isnan(m["months_to_recover_spend"])
