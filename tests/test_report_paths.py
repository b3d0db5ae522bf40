"""The report shows the paths a motion uses, the price each path's customer pays, only the
segments a motion books, and says of every figure whether it is a median, a mean or a
share of seeds (plg against hybrid, small seeds)."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from sim import simulate
from sim.calibration import calibration_section
from sim.report.flow import flow
from sim.report.html import write_report
from sim.report.style import new_figure
from sim.report.timeline import segment_motions, segment_revenue
from sim.scenario.loader import scenario_from_dict
from sim.stress import all_sets_section, sensitivity_section


def _motion(template: str, **over: object):
    sc = scenario_from_dict({"name": "x", "motions": [{"template": template, **over}]})
    return sc.motions[0]


@pytest.fixture(scope="module")
def res():
    sc = scenario_from_dict({
        "name": "paths", "horizon_months": 12, "seeds": 3, "seed": 5, "target_arr": 300_000,
        "motions": [{"template": "plg", "name": "plg"}, {"template": "hybrid", "name": "hy"}],
    })
    return simulate(sc, seeds=3, workers=1)


@pytest.fixture(scope="module")
def html(res, tmp_path_factory):
    out = tmp_path_factory.mktemp("paths") / "run"
    res.save(out)
    return write_report(res, out).read_text(encoding="utf-8")


def _card(html: str, name: str) -> str:
    cards = html.split('<div class="motion-card">')[1:]
    card = next(c for c in cards if f"</span>{name}\n" in c)
    # the flow diagrams and the PQL route, after the motion's description
    return card.split('<div class="flow"', 1)[1].split("<h4>Inputs changed")[0]


def test_plg_flow_shows_the_product_path_and_no_unused_sales_path(html):
    card = _card(html, "plg")
    # no source feeds plg's sales stages: no sales path, no deal ACV ($8K) anywhere
    assert "Sales path of" not in card
    assert "<b>qualify</b>" not in card and "<b>close</b>" not in card
    assert "ACV" not in card
    # sign-ups, activation, the freemium upgrade and what a self-serve customer pays:
    # 3 seats (mean) x $20 / seat / month x 12 = $720 a year
    assert "<b>signups</b>2,500 signups / month" in card
    assert "<b>activation</b>42% reach the value moment" in card
    assert "<b>upgrade</b>freemium<br>1.6% / month upgrade<br>12.0% / month go dormant" in card
    assert "3 seats mean x $20 / seat / month x 12 = $720 a year" in card


def test_hybrid_flow_shows_both_paths_and_the_pql_route(html):
    card = _card(html, "hy")
    assert "Product path of" in card and "Sales path of" in card
    assert "<b>PQL route</b>" in card and "to sales at discovery; 29% convert at ACV $12K mean" in card
    assert "<b>PQLs</b>from the product path, enter at discovery" in card
    # inbound leads enter at qualify; the sales customer pays the deal ACV or the PQL ACV
    assert "<b>inbound</b>" in card and "<b>qualify</b>" in card
    assert "<b>sales customer</b>ACV $15K mean<br>PQL deals: ACV $12K mean" in card


def test_flow_keeps_only_the_stages_a_deal_can_enter():
    plg = flow(_motion("plg"), "$")
    assert not plg["sales"] and plg["stages"] == [] and plg["customer"] == []
    assert plg["product"]["customer"][0].endswith("= $720 a year")
    # a source that feeds sales, or open deals carried in, brings the sales path back
    with_inbound = flow(_motion("plg", sources={"inbound": {"leads_per_month": 10}}), "$")
    assert [s["name"] for s in with_inbound["stages"]] == ["qualify", "close"]
    assert with_inbound["customer"][0] == "ACV $8K mean"
    assert [s["name"] for s in flow(_motion("plg"), "$", open_deals=True)["stages"]] == [
        "qualify", "close"]
    # PQLs alone enter after qualification, and pay the PQL ACV, not the deal's
    pql_only = flow(_motion("hybrid", sources={"inbound": None}), "$")
    assert [s["name"] for s in pql_only["stages"]] == ["discovery", "close"]
    assert pql_only["sources"] == []
    assert pql_only["customer"][0] == "PQL deals: ACV $12K mean"
    # trial: its length and the share of activated accounts that pay
    trial = flow(_motion("plg", conversion={"model": "trial", "trial": "opt_out",
                                            "opt_out": 0.5}), "$")
    assert trial["product"]["upgrade"] == ["trial of 14 d, opt-out",
                                           "50% of activated accounts pay"]
    # a sales-only motion has no product path
    assert flow(_motion("sales_led"), "$")["product"] is None
    # an AE role nobody fills costs nothing and is not listed, unless a phase hires one
    # or the company starts with one
    def ae_lines(staffed: frozenset[str] = frozenset(), **kw: object) -> list[str]:
        m = _motion("hybrid", **kw)
        return [x for x in flow(m, "$", staffed=staffed)["team"] if x.startswith("ae:")]

    assert ae_lines()[0].startswith("ae: $150K a year each")
    none = {"team": {"ae": {"start": 0, "hires": {}}}}
    assert ae_lines(**none) == []
    assert len(ae_lines(**none, phases=[{"start_month": 6,
                                         "team": {"ae": {"hires": {6: 1}}}}])) == 1
    assert len(ae_lines(staffed=frozenset({"ae"}), **none)) == 1


def test_segment_chart_leaves_out_a_segment_nobody_books(res):
    m = res.monthly
    sales = (m["bookings_new"] - m["bookings_self_serve"]).groupby(m["motion"]).sum()
    assert sales["plg"] == 0 and sales["hy"] > 0  # plg books no sales deal in any seed
    assert segment_motions(res) == ["hy"]
    fig = segment_revenue(res, {"plg": "#000", "hy": "#111"}, new_figure())
    assert [ax.get_title() for ax in fig.axes] == ["hy: revenue per month by segment (medians)"]
    only_plg = res.scenario.model_copy(update={"motions": res.scenario.motions[:1]})
    plg = dataclasses.replace(res, scenario=only_plg, runs=res.runs[res.runs.motion == "plg"],
                              monthly=m[m.motion == "plg"])
    assert segment_motions(plg) == []


def test_every_figure_says_median_mean_or_share(html):
    for text in (
        "Each cell: the median over 3 seeds",  # headline
        "a P(...) row is the share of seeds",
        "share of seeds; higher is better",  # the P(target) row
        "median of the seeds that reach it",  # the month the target is reached
        "(median), with a median peak monthly burn",  # What this says: cost
        "Chance (share of seeds) of ending month 12",
        "(mean of the paired differences; 95% CI",  # What this says: paired gaps
        '<th class="num">Mean A</th>', '<th class="num">Mean A - B</th>',
        '<th class="num">Share of seeds A better</th>',
        "Forecast error (WAPE, mean)", "Forecast bias (mean)", "MAPE (mean)",
        "Entered (mean)", "Mean days in stage",
        "Advance rate (pooled over seeds: advanced / entered)",
        "<th>misses (share of seeds)</th>",  # where the plan breaks
        "on average (mean ",  # What this says: the leader is ranked by the mean
        "Line: median ARR across seeds",  # captions
        "each motion&#39;s median marked", "line at the median over seeds",
        "Mean number entering each stage", "Median total headcount",
    ):
        assert text in html, text


def test_stress_and_sensitivity_tables_say_they_show_means():
    table = pd.DataFrame({"set": ["slump"], "shocks": ["lead_volume x0.5"], "motion": ["a"],
                          "metric": ["arr_end"], "baseline": [1e6], "shocked": [8e5],
                          "change": [-2e5], "ci_low": [-3e5], "ci_high": [-1e5]})
    sec = all_sets_section(table, 4, "$")
    assert sec["headers"][3:6] == ["baseline (mean)", "shocked (mean)", "change (mean, paired)"]
    assert "Figures are means over the seeds" in sec["intro"]
    tornado = pd.DataFrame({"motion": ["a"], "rank": [1], "lever": ["lead_volume"],
                            "baseline": [1e6], "down": [9e5], "up": [1.1e6], "swing": [2e5]})
    sec = sensitivity_section(tornado, "arr_end", 0.2, 4, "$")
    assert sec["headers"][3:] == ["baseline (mean)", "x0.8 (mean)", "x1.2 (mean)",
                                  "swing (of the means)"]


def test_calibration_table_says_its_figure_is_the_median():
    table = pd.DataFrame({"template": ["plg"], "metric": ["cac"], "p50": [400.0],
                          "p10": [300.0], "p90": [500.0], "low": [200.0], "high": [800.0],
                          "status": ["inside"], "band": ["within"], "source": ["003"]})
    sec = calibration_section(table, 20)
    assert sec["headers"][2:4] == ["median (P50)", "P10 to P90"]
    assert sec["headers"][6] == "P10-P90 against the range"


def test_calibration_status_prints_as_a_word_not_as_markup():
    """The terminal table escapes every cell, so a status is a plain word."""
    from rich.console import Console

    from sim.report.terminal import section_table

    table = pd.DataFrame({"template": ["plg", "plg"], "metric": ["cac", "nrr"],
                          "p50": [400.0, 0.9], "p10": [300.0, 0.8], "p90": [500.0, 1.0],
                          "low": [200.0, 1.0], "high": [800.0, 1.3],
                          "status": ["inside", "outside"], "band": ["within", "wider"],
                          "source": ["003", "003"]})
    sec = calibration_section(table, 20)
    assert [r[5] for r in sec["rows"]] == ["inside", "OUTSIDE"]
    console = Console(width=200, record=True)
    console.print(section_table(sec))
    text = console.export_text()
    assert "OUTSIDE" in text and "[/" not in text
