"""A corpus of broken scenario files, each with one mistake a strategist could make.

Every file in ``tests/bad_scenarios/`` starts with comment lines saying what the
user should be told::

    # mistake: what is wrong, in words
    # expect-path: motions[0].team.ae.strat   (empty for a whole-file problem)
    # expect-line: 9                          (optional: problems with no place in the file)
    # expect-text: unknown key                (one or more; all must be in the message)
    # expect-errors: 2                        (optional: most problems printed; default 1)
    # xfail: why the loader does not say this yet   (optional)

``revsim validate FILE`` must exit 2, print ``error FILE:LINE: key.path: message``
with all of that, print at most ``expect-errors`` problems for the one mistake,
and never a traceback. ``revsim run`` on a bad file must exit 2 and write nothing.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(__file__).resolve().parent / "bad_scenarios"
FILES = sorted(CORPUS.glob("*.yaml"))
VALID = REPO / "scenarios" / "sales_led.yaml"


@dataclass
class Expect:
    mistake: str = ""
    path: str | None = None
    line: int | None = None
    texts: list[str] = field(default_factory=list)
    max_errors: int = 1
    xfail: str | None = None


def read_expect(file: Path) -> Expect:
    """The ``# key: value`` comment lines at the top of a corpus file."""
    e = Expect()
    for raw in file.read_text(encoding="utf-8").splitlines():
        if not raw.startswith("#"):
            break
        m = re.match(r"#\s*([a-z-]+):(.*)$", raw)
        if not m:
            continue
        key, value = m.group(1), m.group(2).strip()
        if key == "mistake":
            e.mistake = value
        elif key == "expect-path":
            e.path = value
        elif key == "expect-line":
            e.line = int(value)
        elif key == "expect-text":
            e.texts.append(value)
        elif key == "expect-errors":
            e.max_errors = int(value)
        elif key == "xfail":
            e.xfail = value
        else:
            raise ValueError(f"{file.name}: unknown header key {key!r}")
    return e


def revsim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=300)


def problems_of(stderr: str, file: Path) -> list[tuple[int | None, str]]:
    """(line, 'key.path: message' or 'message') of each problem printed for ``file``."""
    prefix = f"error {file}"
    out = []
    for text in stderr.splitlines():
        if not text.startswith(prefix):
            continue
        m = re.match(r"(?::(\d+))?: (.*)$", text[len(prefix):])
        if m:
            out.append((int(m.group(1)) if m.group(1) else None, m.group(2)))
    return out


def matches(problem: tuple[int | None, str], e: Expect) -> bool:
    line, rest = problem
    if e.line is not None and line != e.line:
        return False
    if e.path:
        if not rest.startswith(f"{e.path}: "):
            return False
        rest = rest[len(e.path) + 2:]
    return all(t.lower() in rest.lower() for t in e.texts)


@pytest.fixture(scope="module")
def validated() -> subprocess.CompletedProcess[str]:
    """``revsim validate`` on the whole corpus in one process: it reports every file's
    problems, and a file that passes prints ``ok FILE`` (one process: ~0.6 s, not ~25 s)."""
    return revsim("validate", *map(str, FILES))


def test_the_corpus_is_complete_and_each_file_says_what_to_expect():
    assert len(FILES) >= 25
    for f in FILES:
        e = read_expect(f)
        assert e.mistake and e.path is not None and e.texts, f"{f.name}: incomplete header"
        if e.line is not None:
            assert 1 <= e.line <= len(f.read_text().splitlines()), f.name


def _params() -> list:
    out = []
    for f in FILES:
        e = read_expect(f)
        marks = [pytest.mark.xfail(strict=True, reason=e.xfail)] if e.xfail else []
        out.append(pytest.param(f, id=f.stem, marks=marks))
    return out


@pytest.mark.parametrize("file", _params())
def test_validate_names_the_file_line_key_and_problem(file, validated):
    e = read_expect(file)
    p = validated
    assert "Traceback" not in p.stdout + p.stderr, p.stderr
    assert p.returncode == 2, p.stderr
    assert f"ok {file}" not in p.stdout, f"{file.name} was accepted:\n{p.stdout}"
    problems = problems_of(p.stderr, file)
    shown = "\n".join(f"{file}{'' if n is None else f':{n}'}: {rest}" for n, rest in problems)
    assert problems, f"no 'error {file}...' line in\n{p.stderr}"
    where = f"{file}:{e.line}" if e.line is not None else str(file)
    want = f"{where}: {e.path + ': ' if e.path else ''}...{' ... '.join(e.texts)}..."
    assert any(matches(pr, e) for pr in problems), f"expected a line like\n  {want}\ngot\n{shown}"
    assert len(problems) <= e.max_errors, f"one mistake, {len(problems)} problems printed:\n{shown}"


@pytest.mark.parametrize("name", ["yaml_tab_indent", "top_unknown_key", "outbound_without_sdr"])
def test_validate_of_one_bad_file_exits_2_with_what_the_batch_printed(name, validated):
    file = CORPUS / f"{name}.yaml"
    p = revsim("validate", str(file))
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stdout + p.stderr
    assert p.stdout == ""
    assert problems_of(p.stderr, file) == problems_of(validated.stderr, file)


RUN_CASES = [
    "yaml_syntax_unclosed_brace",  # YAML parse
    "template_unknown",  # template lookup
    "unknown_key_team_ae",  # a field of the merged motion
    "stage_owner_role_missing",  # a check across a motion's sections
    "initial_pipeline_unknown_stage",  # a check across the scenario
]


@pytest.mark.parametrize("name", RUN_CASES)
def test_run_on_a_bad_file_exits_2_and_writes_nothing(name, tmp_path):
    file = CORPUS / f"{name}.yaml"
    out = tmp_path / "out"
    p = revsim("run", str(file), "--out", str(out), "--seeds", "2", "--workers", "1", "--quiet")
    shown = f"--- stdout\n{p.stdout}--- stderr\n{p.stderr}"
    assert p.returncode == 2, shown
    assert "Traceback" not in p.stdout + p.stderr, shown
    assert problems_of(p.stderr, file), shown
    assert not out.exists(), shown
    assert list(tmp_path.iterdir()) == [], f"left behind: {list(tmp_path.iterdir())}"


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(f.relative_to(folder)): (f.read_bytes() if f.is_file() else b"", f.stat().st_mtime_ns)
            for f in sorted(folder.rglob("*"))}


def test_run_into_an_existing_folder_exits_2_and_leaves_it_alone(tmp_path):
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    (out / "notes.txt").write_text("my own notes\n")
    (out / "sub" / "data.csv").write_text("a,b\n1,2\n")
    before = _snapshot(out)
    p = revsim("run", str(VALID), "--out", str(out), "--seeds", "2", "--workers", "1", "--quiet")
    shown = f"--- stdout\n{p.stdout}--- stderr\n{p.stderr}"
    assert p.returncode == 2, shown
    assert "Traceback" not in p.stdout + p.stderr, shown
    assert str(out) in p.stderr and "exists" in p.stderr, shown
    assert _snapshot(out) == before
    assert [f.name for f in tmp_path.iterdir()] == ["out"]


def test_a_valid_file_validates():
    p = revsim("validate", str(VALID))
    assert p.returncode == 0, p.stderr
    assert "error" not in p.stderr and "Traceback" not in p.stdout + p.stderr
    assert f"ok {VALID}" in p.stdout
