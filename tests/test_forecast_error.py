"""Forecast error metrics (sim.metrics.forecast_error) on hand-worked quarters.

Standard definitions over the quarters after the first, F and A a quarter's
forecast and actual bookings: WAPE = sum |F - A| / sum A, bias = (sum F - sum A)
/ sum A; MAPE (secondary) = mean |F - A| / A over quarters with bookings.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.metrics import forecast_error


def test_wape_and_bias_on_hand_worked_quarters():
    # quarter 0 is left out; quarter 3 is forecast 10 with nothing booked
    fc = {"quarter": np.arange(5), "forecast": np.array([50.0, 100, 20, 10, 150]),
          "actual": np.array([0.0, 100, 10, 0, 200]), "open_opportunities": np.ones(5)}
    e = forecast_error(fc)
    # sum A = 310, sum F = 280, sum |F - A| = 0 + 10 + 10 + 50
    assert e["forecast_wape"] == pytest.approx(70 / 310)
    assert e["forecast_bias"] == pytest.approx(-30 / 310)
    # per-quarter mean over quarters with bookings: (0 + 1 + 0.25) / 3, and its sign is
    # the opposite of the aggregate's (+25% per quarter vs -9.7% overall)
    assert e["forecast_mape"] == pytest.approx(1.25 / 3)


def test_error_metrics_are_nan_without_bookings_after_the_first_quarter():
    fc = {"quarter": np.arange(3), "forecast": np.array([0.0, 5, 5]),
          "actual": np.array([10.0, 0, 0]), "open_opportunities": np.ones(3)}
    assert all(math.isnan(v) for v in forecast_error(fc).values())
