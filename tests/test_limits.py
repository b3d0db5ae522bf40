"""Sizes: refused past the documented limits in seconds and under a memory cap, with
nothing written; a heavy but legal run is told its time and memory before it starts."""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim.runner.budget import expected_leads
from sim.scenario.loader import scenario_from_dict

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "bad_scenarios"
MEMORY_CAP = 3 * 2**30  # address space: far below what any of these inputs used to take


def _capped() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def _revsim(*args: str, cwd: Path = REPO) -> tuple[subprocess.CompletedProcess[str], float]:
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True,
                       cwd=cwd, timeout=120, preexec_fn=_capped)
    return p, time.perf_counter() - t0


@pytest.mark.parametrize("name", ["seeds_too_many", "leads_too_many", "max_open_deals_huge",
                                  "reps_too_many", "hires_too_many", "yaml_alias_bomb",
                                  "horizon_too_long", "duration_normal_negative_mean"])
def test_an_oversized_scenario_is_refused_before_it_runs(name, tmp_path):
    file = CORPUS / f"{name}.yaml"
    p, _ = _revsim("run", str(file), "--out", str(tmp_path / "out"), "--workers", "1")
    assert p.returncode == 2, p.stderr
    assert f"error {file}" in p.stderr and "Traceback" not in p.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_huge_file_is_refused_without_being_parsed(tmp_path):
    big = tmp_path / "big.yaml"
    line = "# " + "x" * 98 + "\n"
    big.write_text("name: big\nmotions:\n  - template: sales_led\n" + line * 60_000)
    p, _ = _revsim("validate", str(big))
    assert p.returncode == 2, p.stderr
    assert "at most 5 MB" in p.stderr


def test_expected_leads_of_a_steady_inbound_source_is_rate_times_months():
    sc = scenario_from_dict({"name": "x", "horizon_months": 12, "motions": [{
        "template": "sales_led", "sources": {"outbound": None,
                                             "inbound": {"leads_per_month": 100,
                                                         "growth_per_month": 0.0}}}]})
    assert expected_leads(sc, sc.motions[0]) == pytest.approx(1200)


def test_expected_leads_follow_growth():
    sc = scenario_from_dict({"name": "x", "horizon_months": 24, "motions": [{
        "template": "sales_led", "sources": {"outbound": None,
                                             "inbound": {"leads_per_month": 50,
                                                         "growth_per_month": 0.05}}}]})
    # the engine's grid: 30 steps a month at their midpoints; the integral of
    # 50 x 1.05^t over 24 months is close to it
    exact = 50 * (1.05**24 - 1) / __import__("math").log(1.05)
    assert expected_leads(sc, sc.motions[0]) == pytest.approx(exact, rel=1e-3)


def test_a_heavy_legal_run_is_told_its_time_and_memory(tmp_path):
    f = tmp_path / "heavy.yaml"
    f.write_text("name: heavy\nseeds: 100000\nhorizon_months: 120\nmotions:\n"
                 "  - template: sales_led\n    sources: {inbound: {leads_per_month: 2000, growth_per_month: 0}}\n")
    p, _ = _revsim("validate", str(f))
    assert p.returncode == 0, p.stderr
    assert "warning: a heavy run: about" in p.stderr and "GB" in p.stderr
    assert " h " in p.stderr or " min " in p.stderr
