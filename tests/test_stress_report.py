"""The stress report says what it shows: baseline against shocked first, the shocked
plan labelled as such everywhere, and every shock set in one table."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd

from sim.scenario.levers import SHOCK_SETS

SCENARIO = """
name: stress-report
horizon_months: 12
seeds: 4
target_arr: 500_000
stress:
  - {name: my_slump, shocks: {lead_volume: 0.5}}
motions:
  - template: sales_led
"""


def revsim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True)


def test_shocked_report_leads_with_the_comparison_and_labels_the_shocked_plan(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(SCENARIO)
    out = tmp_path / "r"
    p = revsim("stress", str(f), "--set", "downturn", "--workers", "1", "--out", str(out),
               "--quiet")
    assert p.returncode == 0, p.stderr
    html = (out / "report.html").read_text()
    table = html.index('id="stress"')
    headline = html.index('id="headline"')
    assert table < headline  # baseline vs shocked comes first
    assert "Headline results: shocked plan" in html
    assert 'class="variant">Shocked plan: lead_volume x0.7' in html
    assert "baseline (mean)" in html and "shocked (mean)" in html
    assert "change (mean, paired)" in html
    # months to target exist only in the seeds that reach the target: the row says so
    assert "Months to target (mean of the seeds that reach it)" in html
    assert "Months to target: means over the seeds that reach the target" in html
    # every chart's title says it shows the shocked plan
    titles = [t for t in html.split("<figcaption>")[1:]]
    assert titles and all(t.lstrip().startswith("<strong>Shocked plan:") for t in titles), titles[0][:80]


def test_all_sets_runs_every_builtin_and_scenario_set_into_one_table(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(SCENARIO)
    out = tmp_path / "r"
    p = revsim("stress", str(f), "--all-sets", "--workers", "1", "--out", str(out), "--quiet")
    assert p.returncode == 0, p.stderr
    table = pd.read_csv(out / "stress.csv")
    assert list(dict.fromkeys(table["set"])) == [*SHOCK_SETS, "my_slump"]
    slump = table[(table["set"] == "my_slump") & (table.metric == "bookings_total")]
    assert slump["change"].iloc[0] < 0
    html = (out / "report.html").read_text()
    assert html.index('id="stress"') < html.index('id="headline"')
    assert "Shocked plan" not in html  # the page shows the baseline


def test_all_sets_with_a_set_is_refused():
    p = revsim("stress", "scenarios/sales_led.yaml", "--all-sets", "--set", "downturn")
    assert p.returncode == 2 and "without --set" in p.stderr and "Traceback" not in p.stderr
