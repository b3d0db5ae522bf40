"""Levers, stress tests and sensitivity."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim.scenario.distributions import LogNormal
from sim.scenario.levers import LEVERS, apply_levers, governed_paths
from sim.scenario.loader import scenario_from_dict
from sim.scenario.schema_types import mean_of
from sim.stress import paired_deltas, run_sensitivity, run_stress


@pytest.fixture(scope="module")
def sc():
    return scenario_from_dict({"name": "s", "horizon_months": 12, "seeds": 6, "seed": 3,
                               "motions": [{"template": "sales_led"}, {"template": "hybrid"}]})


def _flat(m):
    return pd.json_normalize(m.model_dump(mode="json", by_alias=True), sep=".").iloc[0].to_dict()


def test_a_lever_moves_exactly_the_parameters_it_names(sc):
    m = sc.motions[0]
    shocked = apply_levers(m, {"win_rate": 0.8})
    before, after = _flat(m), _flat(shocked)
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {"stages"}  # only inside the stage list...
    assert [s.advance for s in shocked.stages[:-1]] == [s.advance for s in m.stages[:-1]]
    # the templates' advances are uncertain (a PERT per seed): the lever scales the distribution
    assert mean_of(shocked.stages[-1].advance) == pytest.approx(0.8 * mean_of(m.stages[-1].advance))
    # distributions scale as distributions
    acv = apply_levers(m, {"acv": 1.5}).deal.acv
    assert isinstance(acv, LogNormal) and acv.mean == pytest.approx(1.5 * m.deal.acv.mean)
    # probabilities are capped at 1
    assert mean_of(apply_levers(m, {"win_rate": 10}).stages[-1].advance) == 1.0
    # a lever that governs nothing leaves the motion as it was
    assert governed_paths(m, "activation") == []
    assert apply_levers(m, {"activation": 2.0}).model_dump() == m.model_dump()


def test_every_lever_applies_to_every_template_without_error():
    from sim.scenario.templates import template_names

    sc = scenario_from_dict({"name": "x", "motions": [{"template": t} for t in template_names()]})
    for m in sc.motions:
        for lever in LEVERS:
            apply_levers(m, {lever: 1.3})


def test_stress_at_factor_one_changes_nothing(sc):
    r = run_stress(sc, {k: 1.0 for k in LEVERS}, workers=1)
    assert (r.deltas["change"].fillna(0) == 0).all()
    pd.testing.assert_frame_equal(r.baseline.runs, r.shocked.runs)


def test_paired_deltas_are_differences_of_per_seed_metrics(sc):
    r = run_stress(sc, {"lead_volume": 0.7}, workers=1)
    j = r.baseline.runs.merge(r.shocked.runs, on=["motion", "seed"])
    g = j[j.motion == "sales_led"]
    expect = (g["bookings_total_y"] - g["bookings_total_x"]).mean()
    row = r.deltas[(r.deltas.motion == "sales_led") & (r.deltas.metric == "bookings_total")]
    assert row["change"].iloc[0] == pytest.approx(expect)
    assert row["ci_low"].iloc[0] < row["change"].iloc[0] < row["ci_high"].iloc[0] < 0
    d = paired_deltas(r.baseline.runs, r.baseline.runs, ("arr_end",))
    assert (d["change"] == 0).all()


def test_sensitivity_ranking_is_reproducible(sc):
    small = sc.model_copy(update={"seeds": 4, "motions": sc.motions[:1]})
    _, a = run_sensitivity(small, "bookings_total", 0.2, workers=1)
    _, b = run_sensitivity(small, "bookings_total", 0.2, workers=2)
    pd.testing.assert_frame_equal(a, b)
    assert a["swing"].is_monotonic_decreasing
    top = a.iloc[0]
    assert top["up"] > top["baseline"] > top["down"] or top["down"] > top["baseline"] > top["up"]
    assert np.isfinite(a["swing"]).all()


def test_a_share_change_interval_stays_within_minus_one_and_one():

    seeds = list(range(10))
    base = pd.DataFrame({"motion": "m", "seed": seeds, "reached_target": 1.0, "nrr": 1.2})
    shocked = pd.DataFrame({"motion": "m", "seed": seeds,
                            "reached_target": [0.0] * 9 + [1.0], "nrr": [0.2] * 9 + [1.2]})
    d = paired_deltas(base, shocked, ("reached_target", "nrr")).set_index("metric")
    # change -0.9, sd sqrt(0.1), t(0.975, 9) = 2.262: the t interval is -1.126 to -0.674
    half = 2.2622 * math.sqrt(0.1) / math.sqrt(10)
    assert d.loc["reached_target", "change"] == pytest.approx(-0.9)
    assert d.loc["reached_target", "ci_low"] == -1.0  # cut: no share falls by more than all
    assert d.loc["reached_target", "ci_high"] == pytest.approx(-0.9 + half, abs=1e-4)
    # NRR is not a share of a whole: its interval is left as it is
    assert d.loc["nrr", "ci_low"] == pytest.approx(-0.9 - half, abs=1e-4)


def test_sensitivity_in_one_run_equals_each_lever_run_on_its_own(sc):
    """The baseline and every lever's ends run as one simulation; each end's mean and
    paired change are exactly those of a separate run of the shocked scenario."""
    from sim.runner.api import simulate
    from sim.scenario.levers import shock_scenario

    small = sc.model_copy(update={"seeds": 3})
    base, table = run_sensitivity(small, "arr_end", 0.2, workers=1)
    assert base.motions() == ["sales_led", "hybrid"]
    assert set(base.runs["motion"]) == {"sales_led", "hybrid"}
    assert set(base.monthly["motion"]) == {"sales_led", "hybrid"}  # the subset's own tables
    alone = simulate(small, workers=1)
    pd.testing.assert_frame_equal(base.runs, alone.runs)
    row = table[(table.motion == "hybrid") & (table.lever == "churn")].iloc[0]
    up = simulate(shock_scenario(small, {"churn": 1.2}), workers=1).runs
    assert row["up"] == up[up.motion == "hybrid"]["arr_end"].mean()
