"""Checks the command line makes before it simulates anything, and its output step.

Every option and every output path is checked first (exit 2, nothing written);
then each results folder is claimed (``sim.runner.output``), simulated into, and
published whole; an interrupted or failed command removes what it wrote and
keeps only finished chunks a ``--resume`` can use.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sim.runner.output import OutputClaim, check_target, safe_name
from sim.scenario.errors import Problem

__all__ = ["MAX_WORKERS", "budget", "check_options", "check_targets", "claimed",
           "command_target", "parse_shocks", "results_target"]

# more worker processes than this is a typo, not a machine
MAX_WORKERS = 1024
_ADDRESS = re.compile(r"^(tcp|tls|ucx|ws|wss|inproc)://[^\s/]+$|^[A-Za-z0-9.\-\[\]:]+:\d+$")


def check_options(workers: int | None = None, executor: str = "local",
                  scheduler: str | None = None, metric: str | None = None) -> list[Problem]:
    """Problems with the options every simulating command shares."""
    problems: list[Problem] = []
    if workers is not None and workers > MAX_WORKERS:
        problems.append(Problem("--workers", None, "", f"expected at most {MAX_WORKERS} worker "
                                f"processes, got {workers}"))
    if scheduler is not None:
        if executor != "dask":
            problems.append(Problem("--scheduler", None, "", "--scheduler goes with --executor dask"))
        elif not _ADDRESS.match(scheduler):
            problems.append(Problem("--scheduler", None, "", f"expected a scheduler address such "
                                    f"as tcp://host:8786, got {scheduler!r}"))
    if metric is not None:
        from sim.metrics import METRICS

        if metric not in METRICS:
            problems.append(Problem("--metric", None, "", f"unknown metric {metric!r}; expected "
                                    "one of: " + ", ".join(METRICS)))
    return problems


def results_target(out_dir: Path | None, name: str, many: bool, default: Path) -> Path:
    """The folder of one scenario's results: ``--out`` itself, ``--out``/<safe name> when
    several scenarios share it, else ``default`` (under results/)."""
    if out_dir is None:
        return default
    return out_dir / safe_name(name) if many else out_dir


def check_targets(targets: list[tuple[str, Path]], resume: bool = False) -> list[Problem]:
    """Each target usable and distinct (``(what, path)`` pairs; nothing is written)."""
    problems: list[Problem] = []
    seen: dict[Path, str] = {}
    for what, t in targets:
        key = t.resolve()
        if key in seen:
            problems.append(Problem(what, None, "", f"{seen[key]} and {what} would both write "
                                    f"{t}: give the scenarios distinct names"))
            continue
        seen[key] = what
        problems += check_target(t, "--out", resume)
    return problems


@contextmanager
def claimed(target: Path, resume: bool = False) -> Iterator[OutputClaim]:
    """Claim ``target`` for the block; on any failure, let it go (finished chunks kept)."""
    claim = OutputClaim.claim(target, resume=resume)
    try:
        yield claim
    except BaseException:
        claim.abandon()
        raise


def command_target(out_dir: Path | None, scenario: object, suffix: str
                   ) -> tuple[Path, list[Problem]]:
    """The folder of a stress, sensitivity or calibration command, and its problems."""
    from sim.runner.results import default_results_dir

    if out_dir is None:
        base = default_results_dir(scenario)  # type: ignore[arg-type]
        target = base.with_name(f"{base.name}-{suffix}")
    else:
        target = out_dir
    return target, check_targets([("--out", target)])


def budget(scenarios: list[tuple[str, object]], workers: int | None
           ) -> tuple[list[Problem], list[str]]:
    """Sizes past the limits (problems), and for a heavy but legal run its time and memory
    estimate (warnings to print before it starts)."""
    from sim.runner.budget import estimate

    problems: list[Problem] = []
    warnings: list[str] = []
    for file, sc in scenarios:
        est = estimate(sc, workers, file)  # type: ignore[arg-type]
        problems += est.problems
        if est.heavy and not est.problems:
            warnings.append(est.warning())
    return problems, warnings


def parse_shocks(items: list[str]) -> tuple[dict[str, float], list[Problem]]:
    """``--shock LEVER=FACTOR`` options: the shocks, and problems (a factor finite, >= 0)."""
    from sim.scenario.levers import LEVERS

    shocks: dict[str, float] = {}
    problems = []
    for item in items:
        lever, _, factor = item.partition("=")
        try:
            f = float(factor)
        except ValueError:
            f = -1.0
        if lever not in LEVERS:
            problems.append(Problem("--shock", None, "", f"unknown lever {lever!r} in {item!r}; "
                                    f"expected one of: {', '.join(LEVERS)}"))
        elif not math.isfinite(f) or f < 0:
            problems.append(Problem("--shock", None, "", f"expected LEVER=FACTOR with a finite "
                                    f"factor >= 0, e.g. win_rate=0.8; got {item!r}"))
        else:
            shocks[lever] = f
    return shocks, problems
