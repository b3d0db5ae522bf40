"""`revsim calibrate`: the templates as shipped land inside their benchmarks.

Only figures marked stable are asserted at this seed count: they are ratios of
large counts whose median barely moves between 24 and 1,000 seeds.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from sim.calibration import BENCHMARKS, calibrate, figure_values, range_text
from sim.scenario.templates import template_names


def test_every_template_has_benchmarks():
    assert set(BENCHMARKS) == set(template_names())


def test_stable_figures_are_inside_their_benchmarks():
    _, table = calibrate(seeds=24, workers=2)
    stable = table[table.stable]
    assert len(stable) >= 30
    # every template is checked against at least one figure
    assert set(stable.template) == set(template_names())
    outside = stable[~stable.inside]
    assert outside.empty, outside[["template", "metric", "p50", "low", "high"]].to_string()


def test_derived_figures_are_computed_per_seed():
    """The platform take rate is platform fees over recognised revenue, seed by seed."""
    runs = pd.DataFrame({"platform_fees_total": [20.0, 0.0, 30.0],
                         "retained_revenue": [100.0, 0.0, 100.0]})
    assert list(figure_values(runs, "platform_take_rate")) == [0.2, 0.3]  # 0/0 is skipped


def test_benchmark_ranges_read_as_words():
    assert range_text("platform_take_rate", 0.15, 0.30) == "15% to 30%"
    assert range_text("gross_margin_first_year", -math.inf, 0.10) == "up to 10%"
    assert range_text("custom_to_productised", 0.0, 1.0) == "0.00 to 1.00"


@pytest.mark.parametrize("metric, value, low, high, text", [
    ("avg_new_acv", 24_906.3, 25_000, 250_000, "$24,906"),  # would read "$25K", the bound
    ("avg_new_acv", 30_000.0, 25_000, 250_000, "$30K"),  # inside: as the report prints it
    ("cac_payback_months", 3.96, 4.0, 9.0, "3.96 mo"),
    ("cycle_days_median", 89.6, 90, 180, "89.6 d"),
    ("free_to_paid", 0.0298, 0.03, 0.05, "2.98%"),
    ("avg_new_acv", 12_000.0, 25_000, 250_000, "$12K"),  # plainly outside: no extra digits
])
def test_a_figure_outside_its_range_never_prints_as_the_bound(metric, value, low, high, text):
    from sim.calibration import figure_beside

    assert figure_beside(metric, value, low, high) == text
