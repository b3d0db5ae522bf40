"""The report's per-channel CAC (headline rows, "What this says") and its enterprise-pilots
section, read from the HTML."""

from __future__ import annotations

import re

import pytest
from conftest import BARE
from test_channel_cac import HYBRID

from sim import simulate
from sim.report.html import render_report
from sim.report.wording import fmt, share_of_seeds
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
                  "Successful pilots extended", "Extensions granted",
                  "Win rate, opportunity to production", "Pilot fees recognised",
                  "Pilot margin", "The pilot stage of the funnel"):
        assert label in section
    for motion in ("with_clause", "without_clause"):
        for metric in ("pilots_started", "pilot_conversion", "pilot_fees_total",
                       "pilot_extension_rate", "pilot_extensions"):
            assert fmt(metric, _p50(res, motion, metric), "$") in section
    assert "extensions are not counted" not in section
    # ranges read "low to high" (a negative bound would make "-30% - -5%" hard to read),
    # and a figure that rounds to zero carries no sign
    assert re.search(r"\d% to -?\d+%", section) and " - " not in section.split("Metric")[1]
    assert "-0%" not in section and "-$0 " not in section
    # the funnel points to the pilot stage
    funnel = _text(html.split('id="funnel"')[1].split("<h2")[0])
    assert "the pilot stage that follows is in Enterprise pilots" in funnel


def test_pilot_extensions_row_reads_the_runs(pilots):
    res, html = pilots
    section = html.split('id="pilots"')[1].split("<h2")[0]
    row = section.split("Successful pilots extended")[1].split("</tr>")[0]
    cells = [_text(c).split() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)]
    runs = res.runs.set_index("motion")
    # with a clause nothing is put off; without one about extension_probability (0.46-0.64)
    assert runs.loc["with_clause", "pilot_extensions"].max() == 0
    assert cells[0] == ["0%", "0%", "to", "0%"]  # median, then P10 to P90
    without = runs.loc["without_clause", "pilot_extension_rate"].dropna()
    assert cells[1][0] == fmt("pilot_extension_rate", float(without.median()), "$")
    assert 0 < without.median() < 1
    assert (runs.loc["without_clause", "pilot_extensions"] > 0).any()


def test_pilot_stage_adds_up_to_the_pilots_started(pilots):
    res, html = pilots
    section = html.split('id="pilots"')[1].split("<h2")[0]
    table = section.split("The pilot stage of the funnel")[1].split("</table>")[0]
    assert "mean per seed" in _text(table)
    heads = [_text(h).strip() for h in re.findall(r"<th[^>]*>(.*?)</th>", table)]
    assert heads == ["Motion", "Pilots started (mean)", "Converted", "Failed", "Declined",
                     "Abandoned", "Still running", "Awaiting a decision", "Converted / started"]
    assert "means, not the medians above" in _text(section)
    rows = re.findall(r"<tr><td>(.*?)</tr>", table, flags=re.S)
    assert len(rows) == 2
    runs = res.runs
    for row in rows:
        cells = [_text(c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", "<td>" + row)]
        motion, values = cells[0], [float(c.replace(",", "")) for c in cells[1:8]]
        g = runs[runs["motion"] == motion]
        keys = ("pilots_started", "pilots_converted", "pilots_failed", "pilots_declined",
                "pilots_abandoned", "pilots_running", "pilots_awaiting_decision")
        assert cells[1:8] == [f"{g[k].mean():,.1f}" for k in keys]
        # the outcomes are means per seed of a partition of the pilots started: they add up
        # (each printed figure is within 0.05 of its mean)
        assert g[list(keys[1:])].to_numpy().sum() == g["pilots_started"].sum()
        assert sum(values[1:]) == pytest.approx(values[0], abs=0.05 * 7)
        # mean pilots started, per seed, agrees with the monthly books
        mo = res.monthly
        started = mo[mo["motion"] == motion].groupby("seed")["pilots_started"].sum().mean()
        assert cells[1] == f"{started:,.1f}"
    with_clause = [r for r in rows if "with_clause" in r][0]
    cells = [_text(c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", "<td>" + with_clause)]
    assert cells[5] == "0.0"  # nothing is abandoned with a clause


def test_no_pilot_section_without_pilots(blended):
    _, html = blended
    assert 'id="pilots"' not in html and 'href="#pilots"' not in html


def test_a_share_of_seeds_that_rounds_to_0_or_100_percent_is_said_as_a_count():
    assert share_of_seeds(2 / 500, 500) == "2 of 500 seeds"
    assert share_of_seeds(498 / 500, 500) == "498 of 500 seeds"
    assert share_of_seeds(0.7, 500) == "70% of seeds"
    assert share_of_seeds(0.0, 500) == "0% of seeds"
