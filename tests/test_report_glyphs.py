"""Names the chart font has no glyphs for (Chinese, Japanese, Korean, ...).

DejaVu Sans, the charts' font, has no CJK glyphs. A name is drawn with an installed
font that has its glyphs (a fallback family), or else under a neutral label that the
report's chart section spells out; either way matplotlib never draws a missing glyph
and never warns, and the page shows the name itself, escaped.
"""

from __future__ import annotations

import io
import warnings

import matplotlib as mpl
import pytest

from sim import simulate
from sim.report.glyphs import BASE_FONT, ChartNames, fallback_fonts, has_glyphs
from sim.report.html import write_report
from sim.report.style import new_figure
from sim.scenario.loader import scenario_from_dict

CJK = "销售主导 <営業> 영업 $x$"  # Chinese, Japanese, Korean; markup and a dollar sign
STAGE = "资格审查"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    sc = scenario_from_dict({
        "name": "名前 report", "horizon_months": 12, "seeds": 20, "seed": 5,
        "motions": [
            {"template": "sales_led", "name": "base"},
            {"template": "sales_led", "name": CJK,
             "stages": [{"name": STAGE, "duration": 10, "advance": 0.4},
                        {"name": "close", "owner": "ae", "duration": 30, "advance": 0.5}]},
        ],
    })
    res = simulate(sc, seeds=20, workers=1)  # enough for the drivers chart
    out = tmp_path_factory.mktemp("glyphs") / "run"
    res.save(out)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        write_report(res, out)
    return (out / "report.html").read_text(encoding="utf-8"), [str(w.message) for w in caught]


def test_no_chart_draws_a_missing_glyph(report):
    html, caught = report
    assert 'id="drivers"' in html and 'alt="What drives the spread"' in html  # its chart too
    assert not [m for m in caught if "Glyph" in m and "missing" in m]


def test_the_page_shows_the_names_escaped_and_keys_the_neutral_labels(report):
    html, _ = report
    escaped = "销售主导 &lt;営業&gt; 영업 $x$"
    assert escaped in html and CJK not in html
    assert "<title>名前 report: revenue simulation report</title>" in html
    assert f"<td>{STAGE}</td>" in html  # the funnel table names the stage
    if has_glyphs(CJK, fallback_fonts([CJK])):  # an installed font draws the name itself
        assert "under a neutral label" not in html
    else:
        assert "show them under a neutral label" in html
        assert f"<b>motion 2</b> is\n{escaped}" in html
        assert f"<b>stage 5</b> is\n{STAGE}" in html


def test_neutral_labels_replace_names_in_every_text_of_a_figure():
    names = ChartNames({"motion": ["plain", "中文"], "stage": ["qualify"]})
    if names.families[1:]:
        pytest.skip("an installed font has CJK glyphs: no neutral label is needed")
    assert names.labels == {"中文": "motion 2"} and names.key == [("motion 2", "中文")]
    fig = new_figure()
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], label="中文")
    ax.set_yticks([0, 1], ["plain", "中文: qualify"])
    ax.set_title("中文: revenue")
    ax.legend()
    names.apply(fig)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(io.BytesIO(), format="png")
    assert not [w for w in caught if "Glyph" in str(w.message)]
    assert ax.get_title() == "motion 2: revenue"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["motion 2"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["plain", "motion 2: qualify"]


def test_an_installed_font_with_the_glyphs_is_a_fallback_not_a_label():
    """U+2316 (position indicator) is not in DejaVu Sans but is in STIXGeneral, which
    matplotlib ships: the name keeps itself and draws without a warning."""
    name = "pipeline \u2316"
    assert not has_glyphs(name)
    names = ChartNames({"motion": [name]})
    assert names.families == [BASE_FONT, "STIXGeneral"] and names.labels == {}
    with mpl.rc_context({"text.parse_math": False, **names.rc}):
        fig = new_figure()
        fig.add_subplot().set_title(name)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fig.savefig(io.BytesIO(), format="png")
    assert not [w for w in caught if "Glyph" in str(w.message)]
