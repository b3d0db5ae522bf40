"""`based_on:` — an option is a change to one company, not a different company."""

from __future__ import annotations

import pandas as pd
import pytest

from sim.runner.api import simulate
from sim.scenario.errors import ScenarioError
from sim.scenario.loader import scenario_from_yaml_text

BASE = """
name: options
horizon_months: 12
seeds: 6
seed: 7
motions:
  - template: sales_led
    name: today
    stages:
      - {name: discovery, owner: ae, duration: {dist: lognormal, mean: 20, sd: 8}, advance: 0.4}
      - {name: close, owner: ae, duration: 30, advance: 0.5}
"""


def test_based_on_with_no_overrides_is_identical_seed_for_seed():
    sc = scenario_from_yaml_text(BASE + "  - {based_on: today, name: same}\n")
    a, b = sc.motions
    assert b.based_on == "today" and b.template == a.template
    assert a.model_dump(exclude={"name", "based_on"}) == b.model_dump(exclude={"name", "based_on"})
    runs = simulate(sc, seeds=6, workers=1).runs
    cols = [c for c in runs.columns if c not in ("motion",)]
    ra = runs[runs.motion == "today"][cols].reset_index(drop=True)
    rb = runs[runs.motion == "same"][cols].reset_index(drop=True)
    pd.testing.assert_frame_equal(ra, rb)
    assert ra["new_customers"].sum() > 0


def test_based_on_keeps_the_base_funnel_and_applies_its_own_overrides():
    text = BASE + """  - based_on: today
    name: with_free_tier
    sources:
      signups: {signups_per_month: 400}
"""
    sc = scenario_from_yaml_text(text)
    today, option = sc.motions
    # the base's own stages, not the sales_led template's
    assert [s.name for s in option.stages] == ["discovery", "close"]
    assert option.stages[1].advance == today.stages[1].advance == 0.5
    assert today.sources.signups is None and option.sources.signups is not None


def test_based_on_may_name_a_motion_defined_later_and_chains():
    text = """
name: chain
horizon_months: 12
motions:
  - {based_on: middle, name: last, deal: {acv: 40000}}
  - {based_on: first, name: middle, team: {ae: {start: 5}}}
  - {template: sales_led, name: first, deal: {acv: 30000}}
"""
    sc = scenario_from_yaml_text(text)
    last, middle, first = sc.motions
    assert last.team.ae.start == middle.team.ae.start == 5
    assert first.team.ae.start != 5
    assert last.deal.acv == 40000 and middle.deal.acv == 30000


@pytest.mark.parametrize("motions,path,text", [
    ("  - {based_on: nobody, name: x}\n", "motions[1].based_on", "no other motion named 'nobody'"),
    ("  - {based_on: today}\n", "motions[1].name", "needs its own 'name'"),
    ("  - {based_on: today, template: plg, name: x}\n", "motions[1].based_on", "not both"),
])
def test_based_on_mistakes_are_located(motions, path, text):
    with pytest.raises(ScenarioError) as e:
        scenario_from_yaml_text(BASE + motions, "f.yaml")
    p = e.value.problems[0]
    assert p.path == path and text in p.message and p.line == 12


def test_based_on_cycle_is_refused():
    text = """
name: cycle
horizon_months: 12
motions:
  - {based_on: b, name: a}
  - {based_on: a, name: b}
"""
    with pytest.raises(ScenarioError) as e:
        scenario_from_yaml_text(text, "f.yaml")
    assert all("cycle" in p.message for p in e.value.problems)
    assert [p.line for p in e.value.problems] == [5, 6]
