"""The report's funnel table: counts are means per seed, the advance rate is pooled over
seeds (all seeds' advanced over all seeds' entered) and the mean days in a stage are over
every deal that left it; every stage adds up: entered = advanced + lost + still open.

Hand-worked (two seeds, one stage): seed 0 has 10 deals enter, all 10 advance, 10 days
each on average; seed 1 has 90 enter, none advance, 30 are lost after 40 days on average
and 60 are still open. Means per seed: entered 50, advanced 5, lost 15, open 30. Pooled
advance rate 10 / 100 = 10% (the mean of the per-seed rates, 50%, and their median, 50%,
would say otherwise). Mean days over the 40 deals that left: (10 x 10 + 30 x 40) / 40 =
32.5 (weighting the seeds by deals entered would give 37).
"""

from __future__ import annotations

import html as htmllib
import re
from types import SimpleNamespace

import pandas as pd
import pytest

from sim import simulate
from sim.report.funnel import funnel_table
from sim.report.html import write_report
from sim.scenario.loader import scenario_from_dict


def test_funnel_table_pools_the_advance_rate_and_the_days_hand_worked():
    fu = pd.DataFrame({
        "motion": ["m", "m"], "seed": [0, 1], "stage": ["qualify", "qualify"],
        "stage_index": [0, 0], "owner": ["ae", "ae"], "entered": [10.0, 90.0],
        "advanced": [10.0, 0.0], "lost": [0.0, 30.0], "open": [0.0, 60.0],
        "mean_days": [10.0, 40.0]})
    t = funnel_table(SimpleNamespace(funnel=fu, motions=lambda: ["m"]))
    r = t.iloc[0]
    assert (r["entered"], r["advanced"], r["lost"], r["open"]) == (50.0, 5.0, 15.0, 30.0)
    assert r["conversion"] == pytest.approx(0.10, abs=1e-12)
    assert r["mean_days"] == pytest.approx(32.5, abs=1e-12)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    # hybrid: product-qualified leads join the sales stages part-way
    sc = scenario_from_dict({
        "name": "funnel-test", "horizon_months": 12, "seeds": 6, "seed": 3,
        "motions": [{"template": "sales_led", "name": "sales"},
                    {"template": "hybrid", "name": "hybrid"}]})
    res = simulate(sc, seeds=6, workers=1)
    out = tmp_path_factory.mktemp("funnel") / "run"
    res.save(out)
    write_report(res, out)
    return res, (out / "report.html").read_text(encoding="utf-8")


def _section(html: str) -> str:
    return html[html.index('<h2 id="funnel">'):html.index("</table>", html.index('id="funnel"'))]


def _rows(html: str) -> list[list[str]]:
    body = _section(html).split("<tbody>")[1]
    return [[htmllib.unescape(re.sub(r"<[^>]+>", "", c)).strip()
             for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, flags=re.S)]
            for tr in re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)]


def _num(s: str) -> float:
    return float(s.replace(",", "").removesuffix("%").removesuffix(" d"))


def test_the_header_and_caption_say_what_each_figure_is(run):
    _, html = run
    sec = re.sub(r"\s+", " ", _section(html))
    assert "Counts are means per seed" in sec
    assert "Advance rate (pooled over seeds: advanced / entered)" in sec
    assert "not a mean or median of per-seed rates" in sec
    assert "Mean days in stage (deals that left it, all seeds)" in sec
    for h in ("Entered (mean)", "Advanced (mean)", "Lost (mean)", "Still open (mean)"):
        assert h in sec


def test_every_stage_adds_up_and_the_rate_is_the_pooled_one(run):
    res, html = run
    rows = _rows(html)
    fu = res.funnel
    assert len(rows) == len(funnel_table(res)) > 4
    assert {r[0] for r in rows} == {"sales", "hybrid"}
    for motion, stage, _owner, entered, advanced, lost, still, rate, _days in rows:
        e, a, lo, o = (_num(x) for x in (entered, advanced, lost, still))
        step = 0.05 if e < 100 else 0.5  # each count shown to 0.1 below 100, else to 1
        assert abs(e - (a + lo + o)) <= 4 * step, (motion, stage)
        g = fu[(fu["motion"] == motion) & (fu["stage"] == stage)]
        assert (g["entered"] == g["advanced"] + g["lost"] + g["open"]).all()  # seed by seed
        pooled = g["advanced"].sum() / g["entered"].sum()
        assert rate == f"{pooled * 100:.0f}%", (motion, stage)
