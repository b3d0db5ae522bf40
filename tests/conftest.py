"""Shared test helpers: small scenarios built from dicts, run one seed or many."""

from __future__ import annotations

from typing import Any

import pytest

from sim.engine.model import SeedRun, simulate_seed
from sim.scenario.loader import scenario_from_dict
from sim.scenario.schema import Scenario

# A motion with no sources, no costs and no churn, and no uncertain input (every value
# the template draws per seed is fixed here): tests switch on what they need.
BARE: dict[str, Any] = {
    "template": "sales_led",
    "name": "bare",
    "sources": {"inbound": None, "outbound": None},
    "team": {"sdr": None, "ae": {"start": 1, "hires": {}, "ramp_months": 0, "ramp_start": 1.0,
                                 "ramp_win_factor": 1.0, "cost_per_year": 0, "commission_rate": 0,
                                 "attrition_annual": 0, "max_open_deals": 1000}},
    "stages": [{"name": "work", "owner": "ae", "duration": 10, "advance": 1.0}],
    "queue": {"decay_per_week": 0.0, "max_wait_days": None},
    "qualification": {"strictness": 0.0},
    "deal": {"acv": 12000, "contract": "annual", "bad_fit_win_factor": 1.0},
    "handoff": {"acceptance_criteria": True, "criteria_win_factor": 1.0},
    "retention": {"early_churn": 0.0, "early_window_days": 0, "monthly_churn": 0.0,
                  "expansion_rate_annual": 0.0, "contraction_rate_annual": 0.0,
                  "bad_fit_multiplier": 1.0, "poor_handoff_multiplier": 1.0},
    "costs": {"gross_margin": 0.8, "other_sm_per_month": 0},
    "forecast": {"stage_inflation": 0.0},
}

# A product path on top of BARE: 3,000 sign-ups a month, 40% activating in 2 days, on
# freemium (2% a month upgrade, 10% go dormant), 3 seats at $10 a month, no churn.
PLG: dict[str, Any] = {
    "sources": {"signups": {"signups_per_month": 3000, "growth_per_month": 0.0,
                            "activation_rate": 0.4, "time_to_value_days": 2,
                            "marketing_spend_per_month": 0}},
    "conversion": {"model": "freemium", "freemium_monthly": 0.02, "dormancy_monthly": 0.1},
    "self_serve": {"seats": 3, "price_per_seat_month": 10, "monthly_churn": 0.0,
                   "expansion_rate_annual": 0.0, "early_churn": 0.0},
}


def make_scenario(motion: dict[str, Any] | None = None, **top: Any) -> Scenario:
    """A scenario with one motion: BARE deep-merged with ``motion``."""
    from sim.scenario.loader import deep_merge

    m = deep_merge(BARE, motion or {})
    data = {"name": "test", "horizon_months": 12, "seeds": 1, "seed": 1, "motions": [m]}
    data.update(top)
    return scenario_from_dict(data)


def run_one(scenario: Scenario, seed: int = 0) -> SeedRun:
    return simulate_seed(scenario, scenario.motions[0], seed)


@pytest.fixture
def bare() -> dict[str, Any]:
    import copy

    return copy.deepcopy(BARE)
