"""A per-seed ``level`` on a per-entity distribution (the typical deal's ACV is uncertain,
the deal-to-deal spread stays per deal): drawn once per seed with the seed's other
uncertain inputs (``params.seed_inputs``, key ``deal.acv.level``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.engine.params import seed_inputs
from sim.scenario.distributions import LogNormal, Pert
from sim.scenario.errors import ScenarioError
from sim.scenario.loader import scenario_from_dict

LEVEL = {"dist": "pert", "low": 0.75, "mode": 1.0, "high": 1.4}


def realize(sc, m, i: int):
    """Seed ``i``'s motion, its uncertain inputs (the level among them) drawn."""
    return seed_inputs(sc, m, i).motion


def _motion(acv: dict, **extra):
    sc = scenario_from_dict({"name": "level", "seed": 11, "motions": [
        {"template": "sales_led", "deal": {"acv": acv}, **extra}]})
    return sc, sc.motions[0]


def test_the_level_is_drawn_once_per_seed_and_scales_the_deal_distribution():
    sc, m = _motion({"dist": "lognormal", "mean": 26_000, "sd": 13_000, "level": LEVEL})
    n = 800
    drawn = [realize(sc, m, i).deal.acv for i in range(n)]
    assert all(isinstance(d, LogNormal) and d.level is None for d in drawn)
    levels = np.array([d.mean / 26_000 for d in drawn])
    # every seed keeps the per-deal spread (coefficient of variation 0.5) at its own level
    assert np.allclose([d.sd / d.mean for d in drawn], 0.5)
    pert = Pert(**{k: v for k, v in LEVEL.items() if k != "dist"})
    assert abs(levels.mean() - pert.mean) <= 4 * math.sqrt(pert.variance / n)
    assert levels.min() >= 0.75 and levels.max() <= 1.4
    # the same seed draws the same level (common random numbers across motions and runs)
    again = realize(sc, m, 5).deal.acv
    assert again.mean == pytest.approx(drawn[5].mean, rel=0, abs=0)


def test_adding_a_level_moves_no_other_draw():
    """Each uncertain parameter has its own stream keyed by its path."""
    churn = {"dist": "pert", "low": 0.008, "mode": 0.01, "high": 0.014}
    sc, plain = _motion({"dist": "lognormal", "mean": 26_000, "sd": 13_000},
                        retention={"monthly_churn": churn})
    _, leveled = _motion({"dist": "lognormal", "mean": 26_000, "sd": 13_000, "level": LEVEL},
                         retention={"monthly_churn": churn})
    for i in range(20):
        a, b = realize(sc, plain, i), realize(sc, leveled, i)
        assert a.retention.monthly_churn == b.retention.monthly_churn
        assert a.deal.acv == LogNormal(mean=26_000, sd=13_000)
        assert seed_inputs(sc, leveled, i).record["deal.acv.level"] == pytest.approx(
            b.deal.acv.mean / 26_000)


def test_a_level_on_a_per_seed_parameter_is_an_error_with_its_path():
    with pytest.raises(ScenarioError) as e:
        scenario_from_dict({"name": "x", "motions": [{"template": "sales_led", "retention": {
            "monthly_churn": {"dist": "pert", "low": 0.008, "mode": 0.01, "high": 0.012,
                              "level": 1.1}}}]})
    assert "motions[0].retention.monthly_churn" in str(e.value)
    assert "per-entity" in str(e.value)
