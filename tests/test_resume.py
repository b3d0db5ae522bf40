"""Interruption, checkpoints, resume and worker loss: no seed lost or counted twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from sim import ScenarioError, load_scenario, simulate
from sim.runner import pool
from sim.runner.parts import run_part

HANG = 600  # seconds before a child process is taken as hung (a loaded machine is slow)


@pytest.fixture(scope="module")
def sc():
    s = load_scenario("scenarios/sales_led.yaml", seeds=12)
    return s.model_copy(update={"horizon_months": 12})


def test_resume_after_an_interruption_equals_an_uninterrupted_run(sc, tmp_path):
    whole = simulate(sc, workers=1, chunk_size=3)
    seen = []

    def stop_after_two(r):
        seen.append(r.chunk.index)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        simulate(sc, workers=1, chunk_size=3, checkpoint=tmp_path / "cp", on_chunk=stop_after_two)
    assert len([p for p in (tmp_path / "cp").glob("chunk-*") if p.is_dir()]) == 2
    resumed = simulate(sc, workers=2, checkpoint=tmp_path / "cp")  # the chunk plan is kept
    assert resumed.manifest["resumed_chunks"] == 2
    pd.testing.assert_frame_equal(whole.runs, resumed.runs)
    pd.testing.assert_frame_equal(whole.monthly, resumed.monthly)
    assert resumed.runs.groupby("motion")["seed"].apply(list).map(sorted).tolist() == [
        list(range(12))] * 2


def test_a_checkpoint_of_another_scenario_is_refused(sc, tmp_path):
    simulate(sc, workers=1, chunk_size=6, checkpoint=tmp_path / "cp")
    other = sc.model_copy(update={"seeds": 13})
    with pytest.raises(ScenarioError, match="cannot resume"):
        simulate(other, workers=1, checkpoint=tmp_path / "cp")
    changed = sc.model_copy(update={"seed": sc.seed + 1})
    with pytest.raises(ScenarioError, match="another scenario"):
        simulate(changed, workers=1, checkpoint=tmp_path / "cp")


def _dying_chunk(scenario, c):
    """run_part, except that the worker running chunk 1 dies the first time."""
    marker = os.environ["REVSIM_TEST_DIE_MARKER"]
    if c.index == 1 and not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)  # the worker process dies mid-chunk
    return run_part(scenario, c)


def test_a_worker_that_dies_has_its_chunk_run_again(sc, tmp_path, monkeypatch):
    whole = simulate(sc, workers=1, chunk_size=3)
    monkeypatch.setenv("REVSIM_TEST_DIE_MARKER", str(tmp_path / "died"))
    monkeypatch.setattr(pool, "run_part", _dying_chunk)
    res = simulate(sc, workers=2, chunk_size=3)
    assert (tmp_path / "died").exists()
    assert res.manifest["retries"] >= 1
    pd.testing.assert_frame_equal(whole.runs, res.runs)


def test_sigterm_stops_cleanly_and_resume_finishes(tmp_path):
    out = tmp_path / "out"
    partial = tmp_path / "out.partial"
    # the one-year scenario of the fault tests: the claim does not depend on the horizon
    scenario = Path(__file__).resolve().parent / "fault_scenario.yaml"
    cmd = [sys.executable, "-m", "sim", "run", str(scenario), "--seeds", "40",
           "--workers", "1", "--out", str(out), "--quiet"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # the signal once a chunk is saved (a hang guard, not a timing: the wait ends with it)
    deadline = time.time() + HANG
    while (time.time() < deadline and p.poll() is None
           and not list(partial.glob("chunk-*/runs.parquet"))):
        time.sleep(0.05)
    assert p.poll() is None and list(partial.glob("chunk-*/runs.parquet")), "no chunk saved"
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=HANG)
    assert p.returncode == 143, err
    assert "--resume" in err and "Traceback" not in err
    assert not out.exists() and partial.is_dir()
    again = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=HANG)
    assert again.returncode == 0, again.stderr
    assert out.is_dir() and not partial.exists()
    whole = simulate(load_scenario(scenario, seeds=40), workers=2)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "runs.parquet"), whole.runs)


def test_precision_driven_runs_stop_at_a_stage_boundary(sc):
    big = sc.model_copy(update={"seeds": 64})
    loose = simulate(big, workers=1, chunk_size=4, precision=0.5, min_seeds=8)
    p = loose.manifest["precision"]
    assert p["seeds_run"] == 8 and len(loose.runs) == 8 * 2
    assert max(p["achieved"].values()) <= 0.5
    tight = simulate(big, workers=1, chunk_size=4, precision=1e-6, min_seeds=8)
    assert tight.manifest["precision"]["seeds_run"] == 64  # never reached: all seeds run
    # the seeds a precision run used are exactly those of a plain run of that size
    plain = simulate(sc.model_copy(update={"seeds": 8}), workers=1, chunk_size=4)
    pd.testing.assert_frame_equal(loose.runs, plain.runs)
    s = loose.summary()
    row = s[(s.metric == "arr_end")].iloc[0]
    assert row["rel_half_width"] == pytest.approx((row["ci_high"] - row["mean"]) / row["mean"])
