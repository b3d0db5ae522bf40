"""Paired comparisons, P(target) and forecast variance (sim.compare)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from sim import simulate
from sim.compare import (
    COMPARISON_COLUMNS,
    LOWER_IS_BETTER,
    direction,
    forecast_variance,
    paired_comparison,
    target_probability,
    wilson_interval,
)
from sim.metrics import METRICS, t_quantile
from sim.scenario.loader import scenario_from_dict


@pytest.fixture(scope="module")
def res():
    sc = scenario_from_dict({
        "name": "compare-test", "horizon_months": 12, "seeds": 8, "seed": 7,
        "target_arr": 400_000,
        "motions": [
            {"template": "sales_led", "name": "base"},
            {"template": "sales_led", "name": "fast", "team": {"ae": {"hires": {1: 3}}}},
        ],
    })
    return simulate(sc, seeds=8, workers=1)


def test_paired_differences_match_hand_computation(res):
    cmp = paired_comparison(res.runs, ["base", "fast"])
    assert list(cmp.columns) == COMPARISON_COLUMNS
    assert set(cmp["metric"]) == {m for m in METRICS if m in res.runs}
    assert (cmp["motion_a"] == "base").all() and (cmp["motion_b"] == "fast").all()
    wide = res.runs.pivot(index="seed", columns="motion")
    for metric in ("bookings_total", "arr_end", "cac", "cac_payback_months", "win_rate",
                   "sm_spend_total", "new_customers"):
        a, b = wide[(metric, "base")], wide[(metric, "fast")]
        ok = np.isfinite(a) & np.isfinite(b)
        d = (a - b)[ok]
        row = cmp.set_index("metric").loc[metric]
        assert row["n"] == ok.sum()
        assert row["mean_a"] == pytest.approx(a[ok].mean())
        assert row["mean_b"] == pytest.approx(b[ok].mean())
        assert row["diff_mean"] == pytest.approx(d.mean())
        half = t_quantile(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
        assert row["diff_ci_low"] == pytest.approx(d.mean() - half)
        assert row["diff_ci_high"] == pytest.approx(d.mean() + half)
        sign = -1 if metric in LOWER_IS_BETTER else 1
        share = ((sign * d > 0).sum() + 0.5 * (d == 0).sum()) / len(d)
        assert row["share_a_better"] == pytest.approx(share)
        if row["unpaired_ci_half_width"] > 0:
            assert row["ci_ratio"] == pytest.approx(half / row["unpaired_ci_half_width"])


def test_pairs_follow_the_given_order(res):
    cmp = paired_comparison(res.runs, ["fast", "base"])
    assert (cmp["motion_a"] == "fast").all()
    fwd = paired_comparison(res.runs, ["base", "fast"]).set_index("metric")
    rev = cmp.set_index("metric")
    assert rev.loc["bookings_total", "diff_mean"] == pytest.approx(
        -fwd.loc["bookings_total", "diff_mean"])


def _hand_runs() -> pd.DataFrame:
    return pd.DataFrame({
        "motion": ["A"] * 4 + ["B"] * 4,
        "seed": [0, 1, 2, 3] * 2,
        "bookings_total": [10.0, 20, 30, 40, 5, 25, 30, 35],   # higher wins: A, B, tie, A
        "cac": [1.0, 2, 3, 4, 2, 1, 3, 5],                      # lower wins: A, B, tie, A
        "forecast_bias": [0.1, 0.2, 0.3, 0.4, 0.0, 0.0, 0.0, 0.0],
        "cac_payback_months": [10.0, 11, 12, 13, 12, 13, 14, 15],  # A always 2 months sooner
    })


def test_share_a_better_is_direction_aware():
    cmp = paired_comparison(_hand_runs(), ["A", "B"]).set_index("metric")
    assert direction("cac") == -1 and direction("bookings_total") == 1
    assert direction("forecast_bias") == 0
    assert direction("forecast_wape") == -1 and direction("forecast_mape") == -1
    assert cmp.loc["bookings_total", "share_a_better"] == pytest.approx(2.5 / 4)
    assert cmp.loc["cac", "share_a_better"] == pytest.approx(2.5 / 4)
    # neither direction wins on bias: no share, no winner
    assert math.isnan(cmp.loc["forecast_bias", "share_a_better"])
    assert cmp.loc["forecast_bias", "better"] == ""
    # a constant paired difference: CI [d, d], A wins though lower is better
    row = cmp.loc["cac_payback_months"]
    assert row["diff_ci_low"] == row["diff_ci_high"] == -2
    assert row["share_a_better"] == 1.0 and row["better"] == "a"
    assert row["ci_ratio"] == 0.0
    # reversed order: B is now the loser of the same seeds
    rev = paired_comparison(_hand_runs(), ["B", "A"]).set_index("metric")
    assert rev.loc["cac_payback_months", "better"] == "b"
    assert rev.loc["cac", "share_a_better"] == pytest.approx(1.5 / 4)


def test_pairing_ignores_seeds_missing_on_either_side():
    runs = _hand_runs()
    runs.loc[(runs["motion"] == "B") & (runs["seed"] == 1), "cac"] = np.nan
    runs = runs[~((runs["motion"] == "A") & (runs["seed"] == 3))]
    row = paired_comparison(runs, ["A", "B"]).set_index("metric").loc["cac"]
    assert row["n"] == 2  # seeds 0 and 2
    assert row["diff_mean"] == pytest.approx(((1 - 2) + (3 - 3)) / 2)


def test_wilson_interval_hand_case():
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4)
    assert high == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(0, 20)[0] == 0.0
    assert wilson_interval(20, 20)[1] == 1.0
    assert all(math.isnan(x) for x in wilson_interval(0, 0))


def test_target_probability_hand_case():
    arr = [1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    months = [np.nan, np.nan, 30, 28, 26, 24, 22, 20, 18, 16]
    runs = pd.DataFrame({"motion": "m", "seed": range(10), "arr_end": arr,
                         "months_to_arr_target": months})
    tp = target_probability(runs, 3.0).iloc[0]
    assert tp["n"] == 10 and tp["reached"] == 8
    assert tp["p_target"] == pytest.approx(0.8)
    assert (tp["p_ci_low"], tp["p_ci_high"]) == pytest.approx(wilson_interval(8, 10))
    hit = np.array(months[2:])
    assert tp["months_p50"] == pytest.approx(np.percentile(hit, 50))
    assert tp["months_p10"] == pytest.approx(np.percentile(hit, 10))
    assert tp["months_p90"] == pytest.approx(np.percentile(hit, 90))
    assert tp["share_never"] == pytest.approx(0.2)
    assert target_probability(runs, None).empty


def test_identical_motions_have_zero_width_paired_intervals(res):
    base = res.runs[res.runs["motion"] == "base"]
    twin = base.assign(motion="twin")
    runs = pd.concat([base, twin], ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # sd = 0 must not divide by zero anywhere
        cmp = paired_comparison(runs, ["base", "twin"])
    finite = cmp[np.isfinite(cmp["diff_mean"])]
    assert not finite.empty
    assert (finite["diff_mean"] == 0).all()
    assert (finite["diff_ci_low"] == 0).all() and (finite["diff_ci_high"] == 0).all()
    assert (finite["better"] == "").all()
    ratio = cmp["ci_ratio"].dropna()
    assert not ratio.empty and (ratio <= 1).all()
    directed = cmp[cmp["direction"] != ""]  # (neutral metrics have no share)
    assert (directed.loc[directed["n"] > 0, "share_a_better"] == 0.5).all()


def test_pairing_narrows_intervals_on_a_real_run(res):
    cmp = paired_comparison(res.runs, ["base", "fast"]).set_index("metric")
    # common random numbers: the shared lead flow cancels in the difference
    assert cmp.loc["bookings_total", "ci_ratio"] < 1


def test_forecast_variance_hand_case():
    fc = pd.DataFrame({
        "motion": "m", "seed": [0, 0, 0, 1, 1, 1], "quarter": [1, 2, 3] * 2,
        "forecast": 0.0, "actual": [0.0, 100, 50, 0, 300, 150], "open_opportunities": 0.0,
    })
    runs = pd.DataFrame({"motion": ["m", "m"], "seed": [0, 1],
                         "forecast_mape": [0.2, 0.4], "forecast_bias": [0.1, -0.3],
                         "forecast_wape": [0.25, 0.15]})
    fv = forecast_variance(runs, fc).iloc[0]
    cv = np.mean([np.std([100, 300], ddof=1) / 200, np.std([50, 150], ddof=1) / 100])
    assert fv["quarters"] == 2  # quarter 1 has mean 0 and is left out
    assert fv["bookings_cv"] == pytest.approx(cv)
    assert fv["quarterly_bookings_mean"] == pytest.approx(150)
    assert fv["forecast_mape"] == pytest.approx(0.3)
    assert fv["forecast_bias"] == pytest.approx(-0.1)
    assert fv["forecast_wape"] == pytest.approx(0.2)


def test_forecast_variance_on_a_run(res):
    fv = forecast_variance(res.runs, res.forecast)
    assert list(fv["motion"]) == ["base", "fast"]
    assert (fv["bookings_cv"] > 0).all()
    assert (fv["forecast_wape"] >= 0).all()


def test_named_pairs_limit_the_comparison():
    runs = pd.concat([_hand_runs(), _hand_runs().assign(motion=lambda d: d["motion"] + "2")])
    cmp = paired_comparison(runs, ["A", "B", "A2", "B2"], [("B", "A"), ("A2", "B2")])
    assert list(dict.fromkeys(zip(cmp["motion_a"], cmp["motion_b"], strict=True))) == [
        ("B", "A"), ("A2", "B2")]
    row = cmp[(cmp["motion_a"] == "B") & (cmp["metric"] == "cac_payback_months")].iloc[0]
    assert row["diff_mean"] == pytest.approx(2.0) and row["better"] == "b"


def _payback_runs(a: list[float], b: list[float]) -> pd.DataFrame:
    n = len(a)
    return pd.DataFrame({"motion": ["A"] * n + ["B"] * n, "seed": list(range(n)) * 2,
                         "cac_payback_months": a + b})


INF = math.inf


def test_a_payback_beats_never_seed_for_seed():
    # B never pays back in 3 of 10 seeds; A pays back in 10 months every time
    row = paired_comparison(_payback_runs([10.0] * 10, [12.0] * 7 + [INF] * 3),
                            ["A", "B"]).iloc[0]
    assert row["n"] == 7 and row["n_compared"] == 10
    assert row["never_a"] == 0.0 and row["never_b"] == pytest.approx(0.3)
    assert row["mean_b"] == 12.0 and row["diff_mean"] == -2.0  # finite seeds only
    assert row["share_a_better"] == 1.0  # the three "never" seeds count for A
    # sign test: A wins 10 of 10 untied seeds; Wilson lower bound 10 / (10 + 1.96^2) > 0.5
    assert row["better"] == "a"


def test_never_seeds_can_overturn_the_finite_seed_verdict():
    # on the 6 seeds where A pays back it is 3 months sooner, but it never does in 4
    row = paired_comparison(_payback_runs([5.0] * 6 + [INF] * 4, [8.0] * 10),
                            ["A", "B"]).iloc[0]
    assert row["n"] == 6 and row["diff_ci_low"] == row["diff_ci_high"] == -3.0
    assert row["share_a_better"] == pytest.approx(0.6)
    low, high = wilson_interval(6, 10)
    assert low < 0.5 < high
    assert row["better"] == ""  # 6 of 10 is not clear, whatever the finite seeds say


def test_two_nevers_tie_and_nan_seeds_drop_out():
    a = [INF] * 5 + [10.0] * 5 + [math.nan]
    b = [INF] * 5 + [12.0] * 5 + [11.0]
    row = paired_comparison(_payback_runs(a, b), ["A", "B"]).iloc[0]
    assert row["n_compared"] == 10 and row["n"] == 5
    assert row["never_a"] == row["never_b"] == 0.5
    assert row["share_a_better"] == pytest.approx((5 + 0.5 * 5) / 10)
    # both never in the same seeds: ties, so the finite-seed interval decides ([-2, -2])
    assert row["diff_ci_low"] == row["diff_ci_high"] == -2.0
    assert row["better"] == "a"


# A wins by 10 months in 8 seeds and loses by 1 month in 12: d = -10 (x8), +1 (x12),
# mean -3.4, squared deviations 8 * 6.6^2 + 12 * 4.4^2 = 580.8, sd^2 = 580.8 / 19
_A20 = [10.0] * 8 + [11.0] * 12
_B20 = [20.0] * 8 + [10.0] * 12
_HALF20 = t_quantile(0.975, 19) * math.sqrt(580.8 / 19 / 20)  # 2.588


def test_finite_seeds_alone_give_a_clear_interval_and_no_clear_sign_test():
    row = paired_comparison(_payback_runs(_A20, _B20), ["A", "B"]).iloc[0]
    assert row["n"] == row["n_compared"] == 20 and row["never_a"] == row["never_b"] == 0.0
    assert row["diff_mean"] == pytest.approx(-3.4)
    assert row["diff_ci_high"] == pytest.approx(-3.4 + _HALF20) and row["diff_ci_high"] < 0
    assert row["share_a_better"] == pytest.approx(8 / 20)
    low, high = wilson_interval(8, 20)
    assert low < 0.5 < high  # a sign test would not call it
    assert row["better"] == "a"  # no "never": the interval decides


def test_seeds_where_only_the_other_side_never_pays_back_keep_a_clear_verdict():
    # the 20 seeds above plus 2 where B never pays back: they can only help A
    row = paired_comparison(_payback_runs(_A20 + [10.0] * 2, _B20 + [INF] * 2),
                            ["A", "B"]).iloc[0]
    assert row["n"] == 20 and row["n_compared"] == 22
    assert row["never_a"] == 0.0 and row["never_b"] == pytest.approx(2 / 22)
    assert row["diff_ci_high"] == pytest.approx(-3.4 + _HALF20)
    assert row["share_a_better"] == pytest.approx(10 / 22)
    low, high = wilson_interval(10, 22)
    assert low < 0.5 < high  # the sign test alone would say "no clear difference"
    assert row["better"] == "a"  # clear where both pay back, and better in every other seed
    rev = paired_comparison(_payback_runs(_A20 + [10.0] * 2, _B20 + [INF] * 2),
                            ["B", "A"]).iloc[0]
    assert rev["share_a_better"] == pytest.approx(12 / 22) and rev["better"] == "b"


def test_seeds_where_both_never_pay_back_leave_the_verdict_to_the_interval():
    row = paired_comparison(_payback_runs(_A20 + [INF] * 3, _B20 + [INF] * 3),
                            ["A", "B"]).iloc[0]
    assert row["n"] == 20 and row["n_compared"] == 23
    assert row["never_a"] == row["never_b"] == pytest.approx(3 / 23)
    assert row["share_a_better"] == pytest.approx((8 + 0.5 * 3) / 23)
    assert row["better"] == "a"


def test_a_clear_finite_lead_with_nevers_on_the_same_side_is_not_clear():
    # A leads where both pay back, but A alone never pays back in 2 seeds: neither the
    # interval (it leaves those out) nor a sign test (10 of 22) may call it
    row = paired_comparison(_payback_runs(_A20 + [INF] * 2, _B20 + [10.0] * 2),
                            ["A", "B"]).iloc[0]
    assert row["diff_ci_high"] == pytest.approx(-3.4 + _HALF20)  # clear on finite seeds
    assert row["never_a"] == pytest.approx(2 / 22) and row["never_b"] == 0.0
    assert row["share_a_better"] == pytest.approx(8 / 22)
    assert row["better"] == ""


def test_infinity_is_the_best_value_when_higher_is_better():
    # arr_end: d = +10 (x8), -1 (x12) as above, and A is +inf in 2 more seeds
    a, b = [20.0] * 8 + [10.0] * 12 + [INF] * 2, [10.0] * 8 + [11.0] * 12 + [5.0] * 2
    runs = _payback_runs(a, b).rename(columns={"cac_payback_months": "arr_end"})
    row = paired_comparison(runs, ["A", "B"]).iloc[0]
    assert row["direction"] == "higher" and row["never_a"] == pytest.approx(2 / 22)
    assert row["diff_mean"] == pytest.approx(3.4)
    assert row["share_a_better"] == pytest.approx(10 / 22)
    assert row["better"] == "a"


def test_one_side_never_in_every_seed():
    row = paired_comparison(_payback_runs([10.0] * 8, [INF] * 8), ["A", "B"]).iloc[0]
    assert row["n"] == 0 and math.isnan(row["diff_mean"])
    assert row["n_compared"] == 8 and row["never_b"] == 1.0
    assert row["share_a_better"] == 1.0 and row["better"] == "a"
    # and the other way round the same seeds make B the winner
    rev = paired_comparison(_payback_runs([10.0] * 8, [INF] * 8), ["B", "A"]).iloc[0]
    assert rev["share_a_better"] == 0.0 and rev["better"] == "b"


def test_never_note_only_when_a_side_never_pays_back():
    from sim.report.narrative import _never_note

    none = {"never_a": 0.0, "never_b": 0.0, "n": 10, "n_compared": 10}
    assert _never_note("cac_payback_months", none, "A", "B") == ""
    some = {"never_a": 0.0, "never_b": 0.3, "n": 7, "n_compared": 10}
    assert _never_note("cac_payback_months", some, "A", "B") == (
        "B never pays back its CAC in 30% of seeds, A in none "
        "(a recurring gross margin that is not positive, or no new recurring ARR)")
    both = {"never_a": 1.0, "never_b": 0.25, "n": 0, "n_compared": 8}
    assert _never_note("cac_payback_months", both, "A", "B") == (
        "A never pays back its CAC in any seed, B in 25% "
        "(a recurring gross margin that is not positive, or no new recurring ARR)")


def test_a_difference_of_shares_stays_within_minus_one_and_one():
    n = 10
    runs = pd.DataFrame({"motion": ["A"] * n + ["B"] * n, "seed": list(range(n)) * 2,
                         "reached_target": [1.0] * n + [0.0] * 9 + [1.0]})
    row = paired_comparison(runs, ["A", "B"]).iloc[0]
    # +0.9 with sd sqrt(0.1): the t interval 0.674 to 1.126 is cut at 1 (all seeds)
    assert row["diff_mean"] == pytest.approx(0.9)
    assert row["diff_ci_high"] == 1.0
    assert row["diff_ci_low"] == pytest.approx(0.9 - t_quantile(0.975, 9) * math.sqrt(0.1 / n))
    assert row["better"] == "a"


def test_every_metric_has_a_comparison_direction() -> None:
    from sim.compare import HIGHER_IS_BETTER, LOWER_IS_BETTER, NEUTRAL, direction

    declared = [HIGHER_IS_BETTER, LOWER_IS_BETTER, NEUTRAL]
    for metric in METRICS:
        assert sum(metric in s for s in declared) == 1, metric
    # less custom work per unit of product, and less revenue handed to a platform, is better
    assert direction("custom_to_productised") == -1
    assert direction("platform_fees_total") == -1
    assert direction("cycle_days_to_production") == -1
    assert direction("win_rate_to_production") == 1
    assert direction("self_serve_share") == 0
    assert direction("one_off_revenue") == 0  # shown beside recurring revenue, not ranked


def test_comparison_csv_leaves_out_metrics_a_pair_cannot_have():
    """comparison.csv carried hundreds of all-zero or NaN rows (pilot bookings of two
    motions without pilots; a win rate of two self-serve motions)."""
    from sim.compare import informative_rows, paired_comparison

    runs = pd.DataFrame({
        "motion": ["a"] * 3 + ["b"] * 3, "seed": [0, 1, 2] * 2,
        "arr_end": [1.0, 2.0, 3.0, 1.5, 2.5, 2.0],
        "pilot_bookings_total": [0.0] * 6,
        "win_rate": [np.nan] * 6,
    })
    cmp = paired_comparison(runs, ["a", "b"])
    assert set(cmp.metric) == {"arr_end", "pilot_bookings_total", "win_rate"}
    assert list(informative_rows(cmp).metric) == ["arr_end"]
