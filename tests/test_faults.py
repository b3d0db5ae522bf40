"""Faults end to end: a worker killed, the main process killed, two runs racing, a
precision run on other worker counts, a tampered checkpoint, a full disk.

Each case runs the real command line on a small scenario (a few seconds) and
checks the outcome, not the timing: the kill happens once a worker exists, and
the results must be the ones an undisturbed run gives, seed for seed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from sim import ScenarioError, load_scenario, simulate

REPO = Path(__file__).resolve().parents[1]
SCENARIO = Path(__file__).resolve().parent / "fault_scenario.yaml"
SEEDS = 40

HANG = 600  # seconds before a child process is taken as hung (a loaded machine is slow)


def _cmd(out: Path, *extra: str, seeds: int = SEEDS, workers: int = 2) -> list[str]:
    return [sys.executable, "-m", "sim", "run", str(SCENARIO), "--seeds", str(seeds),
            "--workers", str(workers), "--out", str(out), "--quiet", *extra]


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_for_workers(p: subprocess.Popen[str], n: int = 1, timeout: float = HANG
                      ) -> list[int]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        kids = _children(p.pid)
        if len(kids) >= n:
            return kids
        if p.poll() is not None:
            break
        time.sleep(0.02)
    raise AssertionError(f"no worker process appeared (exit {p.poll()})")


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    """The per-seed table of an undisturbed run (results do not depend on workers)."""
    return simulate(load_scenario(SCENARIO, seeds=SEEDS), workers=1).runs


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_a_worker_killed_is_a_retry_and_the_run_finishes_with_the_same_numbers(
        sig, tmp_path, reference):
    out = tmp_path / "out"
    p = subprocess.Popen(_cmd(out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    worker = _wait_for_workers(p)[0]
    os.kill(worker, sig)
    _, err = p.communicate(timeout=HANG)
    assert p.returncode == 0, err
    assert "Traceback" not in err and "interrupted" not in err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["retries"] >= 1
    pd.testing.assert_frame_equal(pd.read_parquet(out / "runs.parquet"), reference)
    assert not (tmp_path / "out.partial").exists()
    assert not _alive(worker)


def _run_patched(patch: str, out: Path) -> subprocess.CompletedProcess[str]:
    """`revsim run` into ``out`` in a fresh interpreter, after ``patch`` (Python source, with
    os, signal and sys imported) has run: a way to send a signal at an exact moment."""
    code = (f"import os, signal, sys\n{patch}"
            f"sys.argv = {['revsim', *_cmd(out)[3:]]!r}\n"
            "from sim.cli import main\n"
            "main()\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=HANG, cwd=REPO)


def test_a_worker_signalled_as_it_is_forked_dies_of_it_and_its_chunk_runs_again(
        tmp_path, reference):
    """SIGTERM at the first instant of a worker (in the fork, before the worker has set
    its own handler): the worker dies of it, the chunk it was given is run again and
    counted, and the main process's handler never runs in the worker (no traceback)."""
    out = tmp_path / "out"
    code = (
        "first = [True]\n"
        "def born():\n"
        "    if first[0]:\n"
        "        os.kill(os.getpid(), signal.SIGTERM)\n"
        "def forked():\n"
        "    first[0] = False\n"
        "os.register_at_fork(after_in_child=born, after_in_parent=forked)\n"
    )
    p = _run_patched(code, out)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr and "interrupted" not in p.stderr
    assert json.loads((out / "manifest.json").read_text())["retries"] == 1
    pd.testing.assert_frame_equal(pd.read_parquet(out / "runs.parquet"), reference)


def test_kill_9_of_the_main_process_leaves_no_worker_behind(tmp_path):
    out = tmp_path / "out"
    p = subprocess.Popen(_cmd(out, seeds=400), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    workers = _wait_for_workers(p, 2)  # type: ignore[arg-type]
    p.kill()
    p.wait(timeout=10)
    deadline = time.time() + 5
    while time.time() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.05)
    assert not any(_alive(w) for w in workers), "a worker outlived the main process"
    assert not out.exists()


def test_two_runs_racing_for_one_folder_exactly_one_succeeds(tmp_path, reference):
    out = tmp_path / "out"
    procs = [subprocess.Popen(_cmd(out, workers=1), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=HANG), p.stderr.read()) for p in procs]  # type: ignore[union-attr]
    codes = sorted(rc for rc, _ in results)
    assert codes == [0, 2], results
    loser = next(err for rc, err in results if rc == 2)
    assert "Traceback" not in loser and str(out) in loser
    pd.testing.assert_frame_equal(pd.read_parquet(out / "runs.parquet"), reference)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_sigterm_during_the_save_exits_143_with_the_resume_message(tmp_path, reference):
    """The signal arrives while the report is written (after every chunk finished)."""
    out = tmp_path / "out"
    code = (
        "import sim.publish as p\n"
        "orig = p.write_report\n"
        "def slow(*a, **k):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    return orig(*a, **k)\n"
        "p.write_report = slow\n"
    )
    p = _run_patched(code, out)
    assert p.returncode == 143, p.stderr
    assert "--resume" in p.stderr and "Traceback" not in p.stderr
    assert not out.exists() and (tmp_path / "out.partial").is_dir()
    assert not list((tmp_path / "out.partial").glob(".staging"))
    again = subprocess.run(_cmd(out, "--resume"), capture_output=True, text=True, timeout=HANG)
    assert again.returncode == 0, again.stderr
    pd.testing.assert_frame_equal(pd.read_parquet(out / "runs.parquet"), reference)
    assert not (tmp_path / "out.partial").exists()


@pytest.fixture(scope="module")
def small():
    return load_scenario(SCENARIO, seeds=48)


def test_precision_stops_at_the_same_seed_count_on_any_workers_and_chunking(small):
    runs = [simulate(small, workers=w, chunk_size=c, precision=0.08, min_seeds=6)
            for w, c in ((1, 5), (3, 5), (3, 7), (1, 48))]
    stops = {r.manifest["precision"]["seeds_run"] for r in runs}
    assert len(stops) == 1, stops
    assert stops.pop() in (6, 12, 24, 48)
    for r in runs[1:]:
        pd.testing.assert_frame_equal(r.runs, runs[0].runs)


def test_precision_on_1_and_3_workers_from_the_command_line(tmp_path):
    outs = []
    for w in (1, 3):
        out = tmp_path / f"w{w}"
        p = subprocess.run(_cmd(out, "--precision", "0.05", "--min-seeds", "10", seeds=80,
                                workers=w), capture_output=True, text=True, timeout=HANG)
        assert p.returncode == 0, p.stderr
        outs.append(out)
    a, b = (json.loads((o / "manifest.json").read_text())["precision"] for o in outs)
    assert a["seeds_run"] == b["seeds_run"]
    pd.testing.assert_frame_equal(pd.read_parquet(outs[0] / "runs.parquet"),
                                  pd.read_parquet(outs[1] / "runs.parquet"))


def _checkpoint(small, folder: Path, chunk_size: int = 8) -> None:
    simulate(small, workers=1, chunk_size=chunk_size, checkpoint=folder)


def test_a_chunk_copied_under_another_index_is_refused_by_name(small, tmp_path):
    cp = tmp_path / "cp"
    _checkpoint(small, cp)
    shutil.rmtree(cp / "chunk-00002")
    shutil.copytree(cp / "chunk-00001", cp / "chunk-00002")
    with pytest.raises(ScenarioError, match="chunk-00002 holds seeds 8-16"):
        simulate(small, workers=1, checkpoint=cp)


def test_a_lost_checkpoint_record_resumed_with_another_chunking_is_refused(small, tmp_path):
    cp = tmp_path / "cp"
    _checkpoint(small, cp, chunk_size=8)
    (cp / "checkpoint.json").unlink()
    with pytest.raises(ScenarioError, match="chunk-00001 holds seeds 8-16"):
        simulate(small, workers=1, chunk_size=5, checkpoint=cp)
    assert not (cp / "checkpoint.json").exists()  # a refused resume writes nothing
    # the same chunking is trusted again: every part checks out, the run's 6 chunks of 8
    # seeds and the 3 chunks re-running its first 20 seeds with fresh luck (the template's
    # inputs are uncertain, so the run has luck re-runs)
    res = simulate(small, workers=1, chunk_size=8, checkpoint=cp)
    assert res.manifest["resumed_chunks"] == 6 + 3


def test_a_corrupt_part_is_named_not_a_bare_arrow_error(small, tmp_path):
    cp = tmp_path / "cp"
    _checkpoint(small, cp)
    (cp / "chunk-00003" / "monthly.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(ScenarioError, match=r"chunk-00003/monthly.parquet is damaged"):
        simulate(small, workers=1, checkpoint=cp)


def test_a_tampered_checkpoint_exits_2_from_the_command_line(tmp_path):
    out = tmp_path / "out"
    partial = tmp_path / "out.partial"
    p = subprocess.Popen(_cmd(out, workers=1), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    deadline = time.time() + HANG
    while (time.time() < deadline and p.poll() is None
           and len(list(partial.glob("chunk-*/runs.parquet"))) < 2):
        time.sleep(0.05)
    assert p.poll() is None and len(list(partial.glob("chunk-*/runs.parquet"))) >= 2
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=HANG)
    assert p.returncode == 143, err
    first, second = sorted(partial.glob("chunk-*"))[:2]
    shutil.rmtree(second)
    shutil.copytree(first, second)
    again = subprocess.run(_cmd(out, "--resume", workers=1), capture_output=True, text=True,
                           timeout=HANG)
    assert again.returncode == 2, again.stderr
    assert second.name in again.stderr and "Traceback" not in again.stderr
    assert not out.exists()
