"""The report's per-channel CAC (headline rows, "What this says") and its enterprise-pilots
section, read from the HTML."""

from __future__ import annotations

import re

import pytest
from conftest import BARE
from test_channel_cac import HYBRID

from sim import simulate
from sim.report.html import render_report
from sim.report.wording import fmt
from sim.scenario.loader import deep_merge, scenario_from_dict


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _p50(res, motion: str, metric: str) -> float:
    s = res.summary().set_index(["motion", "metric"])
    return float(s.loc[(motion, metric), "p50"])


@pytest.fixture(scope="module")
def blended():
    sales = deep_merge(BARE, {"name": "sales", "sources": {"inbound": {"leads_per_month": 3}},
                              "team": {"ae": {"cost_per_year": 120_000}}})
    hybrid = deep_merge(BARE, {**HYBRID, "name": "hybrid"})
    sc = scenario_from_dict({"name": "channels", "horizon_months": 12, "seeds": 4, "seed": 5,
                             "motions": [sales, hybrid]})
    res = simulate(sc, seeds=4, workers=1)
    return res, render_report(res, {})


def test_headline_shows_each_channel_beside_the_blend(blended):
    res, html = blended
    text = _text(html)
    for row in ("CAC, self-serve", "CAC, sales-assisted", "CAC payback, self-serve",
                "CAC payback, sales-assisted"):
        assert row in text
    for metric in ("cac_self_serve", "cac_sales_assisted"):
        assert fmt(metric, _p50(res, "hybrid", metric), "$") in text
    # the rows follow the blend's
    assert text.index("CAC payback ") < text.index("CAC, self-serve")


def test_what_this_says_names_the_channels_of_a_blended_motion(blended):
    res, html = blended
    what = _text(html.split('class="what"')[1].split("</div>")[0])
    blend = fmt("cac", _p50(res, "hybrid", "cac"), "$")
    ss = fmt("cac_self_serve", _p50(res, "hybrid", "cac_self_serve"), "$")
    sa = fmt("cac_sales_assisted", _p50(res, "hybrid", "cac_sales_assisted"), "$")
    assert (f"hybrid's blended CAC of {blend} mixes self-serve customers at {ss} with "
            f"sales-assisted ones at {sa}") in what
    assert "sales's blended" not in what  # one channel: nothing to unblend


@pytest.fixture(scope="module")
def pilots():
    sc = scenario_from_dict({
        "name": "pilots", "horizon_months": 12, "seeds": 4, "seed": 7,
        "motions": [{"template": "enterprise_pilot", "name": "with_clause"},
                    {"template": "enterprise_pilot", "name": "without_clause",
                     "pilot": {"conversion_clause": False}}]})
    res = simulate(sc, seeds=4, workers=1)
    return res, render_report(res, {})


def test_pilot_section_reports_each_pilot_motion(pilots):
    res, html = pilots
    assert 'id="pilots"' in html and 'href="#pilots"' in html
    section = _text(html.split('id="pilots"')[1].split("<h2")[0])
    assert "with clause" in section and "without clause" in section
    for label in ("Pilots started", "Pilot success rate", "Conversion to production",
                  "Win rate, opportunity to production", "Pilot fees recognised",
                  "Pilot margin", "The pilot stage of the funnel"):
        assert label in section
    for motion in ("with_clause", "without_clause"):
        for metric in ("pilots_started", "pilot_conversion", "pilot_fees_total"):
            assert fmt(metric, _p50(res, motion, metric), "$") in section
    # the funnel's pilot stage: mean pilots started per seed, from the monthly books
    mo = res.monthly
    started = mo[mo["motion"] == "with_clause"].groupby("seed")["pilots_started"].sum().mean()
    assert f"{started:,.1f}" in section
    assert "extensions are not counted" in section


def test_no_pilot_section_without_pilots(blended):
    _, html = blended
    assert 'id="pilots"' not in html and 'href="#pilots"' not in html
