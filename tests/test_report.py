"""The HTML report and its figures (sim.report.figures, sim.report.html)."""

from __future__ import annotations

import base64
import dataclasses
import math
import re
import struct

import matplotlib as mpl
import numpy as np
import pandas as pd
import pytest

from sim import simulate
from sim.metrics import HEADLINE
from sim.report.figures import DPI, FIGSIZE, make_figures, money
from sim.report.html import template_overrides, write_report
from sim.report.terminal import fmt_value
from sim.scenario.loader import scenario_from_dict


@pytest.fixture(scope="module")
def res():
    sc = scenario_from_dict({
        "name": "report-test", "description": "A tiny run for the report tests.",
        "horizon_months": 12, "seeds": 8, "seed": 11, "target_arr": 400_000,
        "motions": [
            {"template": "sales_led", "name": "base"},
            {"template": "sales_led", "name": "fast", "team": {"ae": {"hires": {1: 3}}},
             "deal": {"acv": {"dist": "lognormal", "mean": 30000, "sd": 12000}}},
        ],
    })
    return simulate(sc, seeds=8, workers=1)


@pytest.fixture(scope="module")
def folder(res, tmp_path_factory):
    out = tmp_path_factory.mktemp("results") / "run"
    res.save(out)
    path = write_report(res, out)
    assert path == out / "report.html"
    return out


@pytest.fixture(scope="module")
def html(folder):
    return (folder / "report.html").read_text(encoding="utf-8")


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_report_files_are_written(folder):
    assert (folder / "report.html").is_file()
    pngs = sorted((folder / "figures").glob("*.png"))
    names = {p.name for p in pngs}
    assert {"arr_fan.png", "bookings_distribution.png", "cac_payback_distribution.png",
            "forecast_error.png", "funnel.png", "headcount_spend.png", "p_target.png"} <= names
    for p in pngs:
        assert p.stat().st_size > 5_000
    cmp = pd.read_csv(folder / "comparison.csv")
    assert {"motion_a", "motion_b", "metric", "diff_mean", "diff_ci_low", "diff_ci_high",
            "share_a_better", "better", "ci_ratio"} <= set(cmp.columns)
    assert set(cmp["motion_a"]) == {"base"} and set(cmp["motion_b"]) == {"fast"}


def test_every_figure_is_embedded(folder, html):
    pngs = sorted((folder / "figures").glob("*.png"))
    assert html.count("data:image/png;base64,") == len(pngs)
    for p in pngs:
        assert base64.b64encode(p.read_bytes()).decode("ascii") in html


def test_headline_p50s_appear_formatted(folder, html):
    summary = pd.read_csv(folder / "summary.csv")
    checked = 0
    for _, r in summary[summary["metric"].isin(HEADLINE)].iterrows():
        if r["n"] > 0 and np.isfinite(r["p50"]):
            assert fmt_value(r["metric"], r["p50"], "$") in html, (r["motion"], r["metric"])
            checked += 1
    assert checked >= 2 * 6


def test_page_is_self_contained(html):
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert not re.search(r"url\(\s*['\"]?\s*(?:https?:)?//", html, re.I)
    assert "<script" not in html.lower()
    assert "<link" not in html.lower()


def test_page_has_the_sections_a_reader_needs(res, html):
    for text in ("report-test", "A tiny run for the report tests.", "What this says",
                 "What was assumed", "STRESS-DES", "Funnel by stage", "Forecast",
                 "Inputs changed from the template", "Root seed", "11",
                 res.manifest["scenario_hash"], "numpy", "pandas", "simpy",
                 "common random numbers", "P(ARR at least $400K)"):
        assert text.lower() in html.lower(), text
    # the flow diagram names every stage of every motion
    for m in res.scenario.motions:
        for st in m.stages:
            assert f"<b>{st.name}</b>" in html


def test_overrides_list_what_differs_from_the_template(res):
    rows = {o["path"]: o for o in template_overrides(res.scenario.motions[1])}
    assert "team.ae.hires" in rows
    assert rows["team.ae.hires"]["value"] == "month 1: 3"
    assert rows["deal.acv"]["value"].startswith("lognormal(")
    assert "name" not in rows and "template" not in rows


def test_figures_skip_absent_data_and_keep_matplotlib_clean(res):
    before = dict(mpl.rcParams)
    no_target = dataclasses.replace(res, scenario=res.scenario.model_copy(
        update={"target_arr": None}))
    figs = make_figures(no_target)
    assert "p_target.png" not in figs
    # a 12-month horizon has no customers 12 months before the end: no retention chart
    assert res.runs["nrr"].isna().all() and "retention.png" not in figs
    nan_arr = dataclasses.replace(res, monthly=res.monthly.assign(arr=np.nan))
    assert "arr_fan.png" not in make_figures(nan_arr)
    assert dict(mpl.rcParams) == before
    import sys

    if "matplotlib.pyplot" in sys.modules:
        assert sys.modules["matplotlib.pyplot"].get_fignums() == []
    w, h = _png_size(figs["arr_fan.png"])
    assert (w, h) == (round(FIGSIZE[0] * DPI), round(FIGSIZE[1] * DPI))


def test_money_axis_format():
    assert money(1_234_000) == "$1.2M"
    assert money(350_000) == "$350K"
    assert money(2_000_000) == "$2M"
    assert money(0) == "$0"
    assert money(-1_500, "EUR ") == "-EUR 1.5K"


def test_phase_marks_are_explained_only_when_a_motion_has_phases(html, res):
    from markupsafe import escape

    from sim.report.html import render_report
    from sim.report.style import PHASE_NOTE

    note = str(escape(PHASE_NOTE))  # as the page writes it
    assert note not in html  # no motion of the fixture has phases
    phased = scenario_from_dict({
        "name": "phased", "horizon_months": 12, "seeds": 4, "seed": 3,
        "motions": [{"template": "sales_led", "name": "switch",
                     "phases": [{"name": "more", "start_month": 6,
                                 "team": {"ae": {"hires": {0: 2}}}}]}],
    })
    r = simulate(phased, seeds=4, workers=1)
    page = render_report(r, make_figures(r))
    assert page.count(note) >= 2  # the ARR chart and the headcount chart


def test_pairing_sentence_says_what_pairing_bought(res):
    from sim.compare import paired_comparison
    from sim.report.html import _comparison_section

    cmp = paired_comparison(res.runs, res.motions())
    narrow = cmp.assign(ci_ratio=0.25)
    assert "about 4.0 times narrower" in _comparison_section(res, narrow, "$")["sentence"]
    flat = cmp.assign(ci_ratio=0.99)
    sentence = _comparison_section(res, flat, "$")["sentence"]
    assert sentence.startswith("Pairing seeds barely narrows these intervals (median ratio")
    assert "0.99" in sentence and "It pays where" not in sentence  # no pair gained


def test_pairing_sentence_with_a_pair_identical_seed_for_seed(res):
    """A pair whose paired intervals are all of zero width (ratio 0) is named as identical,
    not '1 / 0 times narrower' (this raised ZeroDivisionError in revsim run)."""
    from sim.compare import paired_comparison
    from sim.report.html import _comparison_section

    cmp = paired_comparison(res.runs, res.motions())
    three = pd.concat([cmp.assign(ci_ratio=0.99), cmp.assign(motion_b="other", ci_ratio=0.99),
                       cmp.assign(motion_b="twin", ci_ratio=0.0)])
    sentence = _comparison_section(res, three, "$")["sentence"]
    assert sentence.startswith("Pairing seeds barely narrows these intervals (median ratio")
    assert sentence.endswith(" base and twin behave identically seed for seed on most of these "
                             "metrics (paired intervals of zero width).")


@pytest.mark.parametrize("value, text", [
    (999_999.0, "$1.0M"), (999_500.0, "$1.0M"), (999_499.0, "$999K"), (1_250_000.0, "$1.2M"),
    (9_960.0, "$10K"), (9_940.0, "$9.9K"), (999.7, "$1.0K"), (999.4, "$999"), (-999_800.0, "-$1.0M"),
])
def test_money_never_reads_1000_of_a_unit(value, text):
    """A figure just under a unit boundary reads in the next unit, not as '$1000K'."""
    assert fmt_value("bookings_total", value, "$") == text


@pytest.mark.parametrize("metric, value, text", [
    ("pilot_margin", -0.004, "0%"), ("pilot_margin", -0.006, "-1%"), ("pilot_margin", 0.0, "0%"),
    ("pilot_margin_total", -0.4, "$0"), ("pilot_margin_total", -30_000.0, "-$30K"),
    ("cac_payback_months", -0.04, "0.0 mo"), ("pilots_failed", -0.2, "0"),
])
def test_a_figure_that_rounds_to_zero_has_no_sign(metric, value, text):
    """A P90 of -0.4% reads 0%, not -0%."""
    assert fmt_value(metric, value, "$") == text


def test_each_pair_is_a_section_with_its_tally(html, res):
    from sim.compare import paired_comparison
    from sim.report.html import _comparison_section

    section = _comparison_section(res, paired_comparison(res.runs, res.motions()), "$")
    (g,) = section["groups"]
    sides = [r["side"] for r in g["rows"]]
    assert g["summary"] == (f"base clearly better on {sides.count('a')}, fast on "
                            f"{sides.count('b')}, no clear difference on {sides.count('')} of "
                            f"{len(sides)} metrics")
    assert html.count('<details class="pair" open>') == 1  # one pair: shown open


# --- "What this says" when a CAC payback is "never" in some seeds (+inf) ---------------

_PAIR_HEAD = '<span class="tag">Pair</span> <strong>A</strong> against <strong>B</strong>'


def _payback_runs(values: dict[str, list[float]]) -> pd.DataFrame:
    return pd.concat([pd.DataFrame({"motion": m, "seed": range(len(v)),
                                    "cac_payback_months": v}) for m, v in values.items()],
                     ignore_index=True)


def _fake_results(runs: pd.DataFrame, compare: list[tuple[str, str]] | None = None):
    from types import SimpleNamespace

    motions = list(dict.fromkeys(runs["motion"]))
    sc = SimpleNamespace(compare=compare or [], horizon_months=36, target_arr=None)
    return SimpleNamespace(scenario=sc, runs=runs, motions=lambda: motions)


def _pair_paragraph(a: list[float], b: list[float]) -> str:
    from sim.compare import paired_comparison
    from sim.report.narrative import pair_paragraphs

    runs = _payback_runs({"A": a, "B": b})
    res = _fake_results(runs, [("A", "B")])
    paras = pair_paragraphs(res, paired_comparison(runs, ["A", "B"]), "$", len(a))
    assert len(paras) == 2  # the introduction, then the pair
    return paras[1]


def test_pair_without_never_reads_as_before():
    # d = -2 in every seed: the interval is [-2, -2], A shorter in all 10 seeds
    text = _pair_paragraph([10.0] * 10, [12.0] * 10)
    assert text == (f"{_PAIR_HEAD}: CAC payback 10.0 mo against 12.0 mo (means over the seeds), 2.0 mo "
                    "shorter (95% CI of the difference -2.00 mo to -2.00 mo; shorter in 100% "
                    "of seeds): clear.")
    assert "never" not in text


def test_pair_with_never_on_one_side_says_so_and_scopes_the_average():
    # B never pays back in 3 of 10 seeds; where both do (7), 10 mo against 12 mo
    text = _pair_paragraph([10.0] * 10, [12.0] * 7 + [math.inf] * 3)
    assert text == (
        f"{_PAIR_HEAD}. B never pays back its CAC in 30% of seeds, A in none "
        "(a recurring gross margin that is not positive, or no new recurring ARR). Counting every seed (a payback beats never), A's CAC "
        "payback is shorter in 100% of them: a clear difference. Where both pay back (7 of "
        "10 seeds), CAC payback is 10.0 mo for A against 12.0 mo for B, as means over "
        "those seeds (95% CI "
        "of the difference -2.00 mo to -2.00 mo).")


def test_pair_where_one_side_never_pays_back_at_all_is_not_left_out():
    text = _pair_paragraph([10.0] * 8, [math.inf] * 8)
    assert text == (
        f"{_PAIR_HEAD}. B never pays back its CAC in any seed, A in none "
        "(a recurring gross margin that is not positive, or no new recurring ARR). Counting every seed (a payback beats never), A's CAC payback "
        "is shorter in 100% of them: a clear difference. In no seed do both pay back, so "
        "there is no mean to compare.")


def test_pair_clear_on_finite_seeds_and_never_only_on_the_other_side():
    # d = -10 (x8), +1 (x12): mean -3.4, 95% CI -3.4 -+ 2.093 * sqrt(580.8 / 19 / 20) =
    # -6.0 to -0.8; then 2 seeds where B never pays back: A wins 10 of 22 seeds
    a = [10.0] * 8 + [11.0] * 12 + [10.0] * 2
    b = [20.0] * 8 + [10.0] * 12 + [math.inf] * 2
    text = _pair_paragraph(a, b)
    assert text == (
        f"{_PAIR_HEAD}. B never pays back its CAC in 9% of seeds, A in none "
        "(a recurring gross margin that is not positive, or no new recurring ARR). Counting every seed (a payback beats never), B's CAC payback "
        "is shorter in 55% of them; still A is clearly better: its CAC payback is shorter "
        "(mean over the seeds) where both pay back, and it pays back in every seed where B "
        "does. Where both pay back (20 of 22 seeds), CAC payback is 10.6 mo for A against "
        "14.0 mo for B, as means over those seeds (95% CI of the difference -6.0 mo to "
        "-0.8 mo).")


def test_leader_paragraph_names_motions_that_never_pay_back():
    from sim.compare import paired_comparison
    from sim.metrics import summarize
    from sim.report.narrative import what_this_says

    def efficiency(c_values: list[float]) -> str:
        runs = _payback_runs({"A": [4.0] * 8, "B": [6.0] * 8, "C": c_values})
        res = _fake_results(runs)
        paras = what_this_says(res, summarize(runs, ("cac_payback_months",)),
                               paired_comparison(runs, res.motions()), pd.DataFrame(), "$")
        (text,) = [p for p in paras if p.startswith('<span class="tag">Efficiency')]
        return text

    lead = ('<span class="tag">Efficiency</span> <strong>A</strong> pays back its CAC '
            "soonest on average (mean 4.0 mo against 6.0 mo for B; median 4.0 mo against "
            "6.0 mo). Seed for seed its CAC payback is "
            "2.0 mo shorter than B's (mean of the paired differences; 95% CI 2.00 mo to "
            "2.00 mo), and shorter in "
            "100% of seeds: a clear difference.")
    # C pays back in 5 months (between A and B) but never in 2 of 8 seeds: its mean is
    # +inf, so it ranks last, and the paragraph says why it is not in the lead
    assert efficiency([5.0] * 6 + [math.inf] * 2) == lead + (
        " C never pays back its CAC in 25% of seeds (a recurring gross margin that is not"
        " positive, or no new recurring ARR).")
    assert efficiency([8.0] * 8) == lead  # no "never": no such sentence


def test_team_cost_and_its_sm_share_are_shown_as_assumed(tmp_path):
    from sim.report.flow import team_cost_lines

    sc = scenario_from_dict({"name": "x", "motions": [{"template": "founder_led"}]})
    lines = team_cost_lines(sc.motions[0], "USD")
    assert any("founder" in s and "40% counted as S&M" in s and "selling_share" in s
               for s in lines)
    res = simulate(scenario_from_dict({"name": "founder", "horizon_months": 12, "seed": 3,
                                       "motions": [{"template": "founder_led"}]}),
                   seeds=2, workers=1)
    html = write_report(res, tmp_path).read_text(encoding="utf-8")
    assert "Team cost" in html and "40% counted as S&amp;M (team.founder.selling_share)" in html


def test_leader_is_named_by_the_mean_and_the_paragraph_says_so():
    """A pays back in 2 months in 4 seeds and 10 in the fifth (mean 3.6, median 2.0); B
    in 3 months every seed (mean and median 3.0). B leads by the mean although A's median
    is lower: the paragraph says the lead is on average and gives both figures."""
    from sim.compare import paired_comparison
    from sim.metrics import summarize
    from sim.report.narrative import what_this_says

    runs = _payback_runs({"A": [2.0, 2.0, 2.0, 2.0, 10.0], "B": [3.0] * 5})
    res = _fake_results(runs)
    paras = what_this_says(res, summarize(runs, ("cac_payback_months",)),
                           paired_comparison(runs, res.motions()), pd.DataFrame(), "$")
    (text,) = [p for p in paras if p.startswith('<span class="tag">Efficiency')]
    assert text.startswith(
        '<span class="tag">Efficiency</span> <strong>B</strong> pays back its CAC soonest on '
        "average (mean 3.0 mo against 3.6 mo for A; median 3.0 mo against 2.0 mo). Seed for "
        "seed its CAC payback is only 0.6 mo shorter (mean of the paired differences;")


def test_a_pilot_motion_says_what_its_production_contract_is_worth():
    from sim.report.flow import flow

    sc = scenario_from_dict({"name": "x", "motions": [{"template": "enterprise_pilot"}]})
    customer = flow(sc.motions[0], "$")["customer"]
    # fee uniform $25-100K (mean $62.5K) x multiplier uniform 3-10 (mean 6.5)
    assert "production contract 6.5x the fee ($406.2K mean)" in customer


def test_a_motion_without_the_metric_takes_no_part_in_the_star():
    """founder_led's win rate is clearly ahead of sales_led's; plg has no win rate at
    all, so it must not stop founder_led's star (it read 'best on average, not clearly')."""
    from sim.compare import paired_comparison
    from sim.report.html import _significant_vs_all

    n = 40
    rng = np.random.default_rng(1)
    runs = pd.concat([
        pd.DataFrame({"motion": "founder_led", "seed": range(n),
                      "win_rate": 0.47 + rng.normal(0, 0.02, n)}),
        pd.DataFrame({"motion": "sales_led", "seed": range(n),
                      "win_rate": 0.22 + rng.normal(0, 0.02, n)}),
        pd.DataFrame({"motion": "plg", "seed": range(n), "win_rate": np.nan}),
    ], ignore_index=True)
    cmp = paired_comparison(runs, ["founder_led", "sales_led", "plg"])
    assert _significant_vs_all(cmp, "win_rate", "founder_led")
    # with no motion to beat at all there is no clear winner
    only = paired_comparison(runs[runs.motion != "sales_led"], ["founder_led", "plg"])
    assert not _significant_vs_all(only, "win_rate", "founder_led")


def test_retention_labels_never_overlap_and_forecast_error_has_a_panel_per_motion():
    """Seven motions: retention labels read '88%88%87%' on one axis, and seven forecast
    bands stacked under the legend. Each label now has its own row, each motion its panel."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from sim.report.figures import _forecast_error, _retention
    from sim.report.style import ChartContext

    n = 30
    names = [f"m{i}" for i in range(7)]
    rng = np.random.default_rng(0)
    runs = pd.concat([pd.DataFrame({"motion": m, "seed": range(n),
                                    "grr": 0.87 + rng.normal(0, 0.01, n),
                                    "nrr": 1.05 + rng.normal(0, 0.01, n)}) for m in names])
    fc = pd.concat([pd.DataFrame({"motion": m, "seed": np.repeat(range(n), 4),
                                  "quarter": np.tile(range(1, 5), n),
                                  "forecast": rng.uniform(80, 120, 4 * n), "actual": 100.0})
                    for m in names])

    class Res:
        scenario = scenario_from_dict({"name": "x", "horizon_months": 12, "motions": [
            {"template": "sales_led", "name": m} for m in names]})

        def __init__(self):
            self.runs, self.forecast = runs, fc

        def motions(self):
            return names

    c = ChartContext.__new__(ChartContext)
    c.res, c.motions, c.colors = Res(), names, {m: "#333333" for m in names}
    fig = _retention(c)
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    for ax in fig.axes:
        boxes = [t.get_window_extent(renderer) for t in ax.texts]
        assert len(boxes) == 7
        assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    fe = _forecast_error(c)
    assert [ax.get_title() for ax in fe.axes if ax.get_visible()] == names
