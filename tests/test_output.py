"""Where results go: safe folder names, every option and path checked before simulating,
the folder claimed and published whole, leftovers cleaned, a full disk publishes nothing,
and user text shown as text (rich markup, matplotlib math, HTML)."""

from __future__ import annotations

import errno
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from sim.runner.output import OutputClaim, safe_name
from sim.scenario.errors import ScenarioError

REPO = Path(__file__).resolve().parents[1]
SMALL = REPO / "tests" / "fault_scenario.yaml"


def revsim(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300, env=_env())


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": str(REPO)}


def _scenario(folder: Path, name: str, motion: str = "sales_led", file: str = "s.yaml") -> Path:
    p = folder / file
    p.write_text(f"name: {json.dumps(name)}\nhorizon_months: 6\nseeds: 3\nmotions:\n"
                 f"  - template: sales_led\n    name: {json.dumps(motion)}\n", encoding="utf-8")
    return p


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("name, want", [("../../x", "x"), ("/etc/passwd", "etc-passwd"),
                                        ("..", "scenario"), ("a b/c", "a-b-c"),
                                        (".hidden", "hidden"), ("日本", "scenario")])
def test_scenario_names_become_safe_folder_names(name, want):
    assert safe_name(name) == want


def test_names_with_paths_never_write_outside_out(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    a = _scenario(src, "../../escape", file="a.yaml")
    b = _scenario(src, "/tmp/abs", file="b.yaml")
    out = tmp_path / "work" / "out"
    p = revsim("run", str(a), str(b), "--out", str(out), "--workers", "1", "--quiet")
    assert p.returncode == 0, p.stderr
    assert sorted(x.name for x in out.iterdir()) == ["escape", "tmp-abs"]
    assert sorted(x.name for x in tmp_path.iterdir()) == ["src", "work"]
    assert sorted(x.name for x in (tmp_path / "work").iterdir()) == ["out"]


@pytest.mark.parametrize("args, text", [
    (["--out", "."], "already exists"),
    (["--out", "/"], "root of the file system"),
    (["--executor", "dask", "--scheduler", "not an address"], "scheduler address"),
    (["--scheduler", "tcp://h:8786"], "--executor dask"),
    (["--metric", "nope"], "unknown metric 'nope'"),
    (["--workers", "100000"], "at most 1024"),
    (["--seeds", "100000000"], "at most 100,000 seeds"),
])
def test_bad_options_exit_2_before_simulating_and_write_nothing(args, text, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    argv = ["run", str(SMALL), "--quiet", *args]
    if "--out" not in args:
        argv += ["--out", str(work / "out")]
    p = revsim(*argv, cwd=work)
    assert p.returncode == 2, p.stderr
    assert text in p.stderr and "Traceback" not in p.stderr
    assert list(work.iterdir()) == []


def test_two_files_with_the_same_name_are_refused_before_the_first_runs(tmp_path):
    a = _scenario(tmp_path, "same", file="a.yaml")
    b = _scenario(tmp_path, "same", file="b.yaml")
    p = revsim("run", str(a), str(b), "--out", str(tmp_path / "out"), "--quiet")
    assert p.returncode == 2, p.stderr
    assert "distinct names" in p.stderr
    assert not (tmp_path / "out").exists()


def test_a_file_value_is_validated_even_when_a_flag_replaces_it(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("name: x\nseeds: many\nmotions:\n  - template: sales_led\n")
    p = revsim("run", str(f), "--seeds", "2", "--out", str(tmp_path / "out"), "--quiet")
    assert p.returncode == 2 and f"{f}:2: seeds: expected a whole number" in p.stderr, p.stderr
    assert not (tmp_path / "out").exists()


def test_a_claimed_folder_refuses_a_second_claim_and_a_failure_removes_only_its_own(tmp_path):
    out = tmp_path / "out"
    first = OutputClaim.claim(out)
    with pytest.raises(ScenarioError, match="another revsim run is writing"):
        OutputClaim.claim(out)
    with pytest.raises(ScenarioError, match="another revsim run is writing"):
        OutputClaim.claim(out, resume=True)
    assert first.abandon() is False  # nothing finished: the .partial it made goes
    assert list(tmp_path.iterdir()) == []
    mine = tmp_path / "mine.partial"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    claim = OutputClaim.claim(tmp_path / "mine", resume=True)
    claim.abandon()  # a resume did not create the folder: it stays
    assert (mine / "notes.txt").read_text() == "mine"


def test_leftovers_of_a_dead_run_are_cleaned_when_the_folder_is_claimed(tmp_path):
    out = tmp_path / "out"
    partial = tmp_path / "out.partial"
    (partial / ".staging").mkdir(parents=True)
    (partial / ".staging" / "runs.parquet").write_bytes(b"")
    (partial / ".chunk-00003.tmp4242").mkdir()
    legacy = tmp_path / ".out.writing-999999999"
    legacy.mkdir()
    p = revsim("run", str(SMALL), "--seeds", "4", "--workers", "1", "--out", str(out),
               "--resume", "--quiet")
    assert p.returncode == 0, p.stderr
    assert sorted(x.name for x in tmp_path.iterdir()) == ["out"]
    assert "runs.parquet" in _files(out)


def _full_disk(monkeypatch: pytest.MonkeyPatch, names: tuple[str, ...]) -> None:
    """Writing any file named in ``names`` creates it empty and fails as a full disk does."""
    for method in ("write_bytes", "write_text"):
        orig = getattr(Path, method)

        def fail(self: Path, data, *a, _orig=orig, **k):  # type: ignore[no-untyped-def]
            if self.name in names:
                _orig(self, data[:0], *a, **k)
                raise OSError(errno.ENOSPC, "No space left on device", str(self))
            return _orig(self, data, *a, **k)

        monkeypatch.setattr(Path, method, fail)


@pytest.mark.parametrize("command, name", [
    (["stress", "--shock", "lead_volume=0.8"], "stress.csv"),
    (["run"], "report.html"),
])
def test_a_full_disk_leaves_no_complete_looking_folder(command, name, tmp_path, monkeypatch):
    from sim.cli import app

    _full_disk(monkeypatch, (name,))
    out = tmp_path / "out"
    r = CliRunner().invoke(app, [command[0], str(SMALL), *command[1:], "--seeds", "4",
                                 "--workers", "1", "--out", str(out), "--quiet"])
    assert r.exit_code == 1, r.output
    assert not out.exists()
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file() and p.stat().st_size == 0
                 and p.name != ".lock"]
    assert leftovers == []
    partial = tmp_path / "out.partial"
    if command[0] == "run":  # the finished chunks are kept for --resume, nothing else
        assert sorted(p.name for p in partial.iterdir() if p.name.startswith(".")) == [".lock"]
        assert list(partial.glob("chunk-*"))
    else:
        assert not partial.exists()


HOSTILE = ["[/]", "upsell_$10k_and_$20k", "back\\slash", "<b>bold</b>", "quote\"it's", "日本語✓"]


def test_hostile_names_run_end_to_end_and_show_as_text(tmp_path):
    f = tmp_path / "h.yaml"
    motions = "".join(f"  - template: founder_led\n    name: {json.dumps(n)}\n" for n in HOSTILE)
    f.write_text(f"name: {json.dumps('[bold]$x$ <i>')}\nhorizon_months: 6\nseeds: 3\n"
                 f"motions:\n{motions}", encoding="utf-8")
    out = tmp_path / "out"
    p = revsim("run", str(f), "--workers", "1", "--out", str(out))
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    for n in HOSTILE:
        assert n in p.stdout, n  # the headline table prints the name, not its markup
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "日本語✓" in html
    runs = pd.read_parquet(out / "runs.parquet")
    assert list(dict.fromkeys(runs["motion"])) == HOSTILE


def test_a_tornado_of_motions_named_with_dollars_is_drawn():
    from sim.stress import tornado_figure

    rows = [{"motion": "upsell_$10k_and_$20k", "lever": f"lever_{i}", "down_change": -1.0 * i,
             "down_ci_low": -1.5 * i, "down_ci_high": -0.5 * i, "up_change": 1.0 * i,
             "up_ci_low": 0.5 * i, "up_ci_high": 1.5 * i} for i in range(1, 4)]
    png = tornado_figure(pd.DataFrame(rows), "arr_end", 0.2)
    assert png.startswith(b"\x89PNG")
