"""Settings that do nothing are said, not silently ignored."""

from __future__ import annotations

import subprocess
import sys

SCENARIO = """name: w
horizon_months: 36
stress:
  - {name: odd, shocks: {pilot_conversion: 0.5}}
motions:
  - template: sales_led
    team:
      ae: {hires: {6: 1, 48: 2}}
    phases:
      - {start_month: 40, deal: {acv: 50000}}
"""


def revsim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True)


def test_validate_warns_of_hires_phases_and_shock_sets_that_do_nothing(tmp_path):
    f = tmp_path / "w.yaml"
    f.write_text(SCENARIO)
    p = revsim("validate", str(f))
    assert p.returncode == 0, p.stderr
    lines = [x for x in p.stderr.splitlines() if x.startswith("warning")]
    assert len(lines) == 3, p.stderr
    assert f"{f}:8: motions[0].team.ae.hires[48]: sales_led: hiring in month 48 is after the " \
           "horizon (36 months)" in lines[1] + lines[0] + lines[2]
    assert any(":10: motions[0].phases[0].start_month" in x and "never runs" in x for x in lines)
    assert any(":4: stress[0].shocks.pilot_conversion" in x and "changes nothing" in x
               for x in lines)


def test_a_shock_that_changes_nothing_is_refused(tmp_path):
    p = revsim("stress", "scenarios/sales_led.yaml", "--shock", "pql_rate=0.5", "--seeds", "2",
               "--out", str(tmp_path / "x"))
    assert p.returncode == 2 and "governs nothing in any motion" in p.stderr
    assert not (tmp_path / "x").exists()


def test_an_unused_pilot_block_is_said_after_the_run(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("name: p\nhorizon_months: 6\nmotions:\n  - template: sales_led\n"
                 "    sources: {inbound: null, outbound: null}\n    team: {sdr: null}\n"
                 "    pilot: {fee: 20000}\n")
    p = revsim("run", str(f), "--seeds", "2", "--workers", "1", "--out", str(tmp_path / "r"),
               "--quiet")
    assert p.returncode == 0, p.stderr
    assert "its pilot: block was never used" in p.stderr
