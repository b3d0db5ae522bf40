"""sources.inbound.seasonality: month m of the simulation has its lead rate times seasonality[m % 12]."""

from __future__ import annotations

import numpy as np
import pytest

from sim.runner.api import simulate
from sim.scenario.errors import ScenarioError
from sim.scenario.loader import scenario_from_dict


def _scenario(season: list[float]) -> dict[str, object]:
    return {"name": "season", "horizon_months": 14, "seed": 5,
            "motions": [{"template": "sales_led", "sources": {
                "inbound": {"leads_per_month": 100, "growth_per_month": 0.0,
                            "seasonality": season}, "outbound": None}}]}


def test_monthly_leads_follow_the_multipliers() -> None:
    season = [2.0, 0.0, 0.5, 1.5] + [1.0] * 8
    seeds = 30
    res = simulate(scenario_from_dict(_scenario(season)), seeds=seeds, workers=1)
    m = res.monthly.groupby("month")["leads"].sum()
    for month in (1, 2, 3, 4, 5, 13, 14):  # months are numbered from 1; month 13 is m = 12
        expected = 100 * season[(month - 1) % 12] * seeds
        assert abs(m[month] - expected) <= 4 * np.sqrt(max(expected, 1)), (month, m[month])


@pytest.mark.parametrize("season, words", [([1.0] * 11, "expected 12 monthly multipliers"),
                                           ([2.0] * 12, "mean 1")])
def test_bad_seasonality_is_refused(season: list[float], words: str) -> None:
    with pytest.raises(ScenarioError) as e:
        scenario_from_dict(_scenario(season))
    assert words in str(e.value) and "seasonality" in str(e.value)
