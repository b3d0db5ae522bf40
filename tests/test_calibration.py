"""`revsim calibrate`: the templates as shipped land inside their benchmarks.

Only figures marked stable are asserted at this seed count: they are ratios of
large counts whose median barely moves between 24 and 1,000 seeds.
"""

from __future__ import annotations

from sim.calibration import BENCHMARKS, calibrate
from sim.scenario.templates import template_names


def test_every_template_has_benchmarks():
    assert set(BENCHMARKS) == set(template_names())


def test_stable_figures_are_inside_their_benchmarks():
    _, table = calibrate(seeds=24, workers=2)
    stable = table[table.stable]
    assert len(stable) >= 15
    outside = stable[~stable.inside]
    assert outside.empty, outside[["template", "metric", "p50", "low", "high"]].to_string()
