"""What every ``revsim`` command shares: the consoles, the common options, and how a
command reports problems, warnings, size limits and an interruption.

``sim.cli`` and the command modules registered on its app (``sim.cli_stress``) import
these names; nothing here imports a command.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from sim.scenario.errors import Problem, ScenarioError
from sim.scenario.schema import Scenario

__all__ = [
    "ExecOpt", "Executor", "LuckOnlyOpt", "OutOpt", "QuietOpt", "SchedOpt", "SeedsOpt",
    "Terminated", "WorkersOpt", "budget_problems", "err", "fail", "fail_if", "interrupted",
    "load", "out", "target_dir", "warn",
]

# Piped or captured output (CI logs, files) gets a wide table rather than wrapped cells.
out = Console() if sys.stdout.isatty() else Console(width=160)
err = Console(stderr=True)


class Executor(StrEnum):
    local = "local"
    dask = "dask"


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C (finished chunks kept) but exiting with 143."""


SeedsOpt = Annotated[int | None, typer.Option("--seeds", min=1, help="Replications per motion.")]
WorkersOpt = Annotated[
    int | None, typer.Option("--workers", min=1, help="Worker processes (default: CPU count).")
]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Results folder (must not exist).")]
ExecOpt = Annotated[Executor, typer.Option("--executor", help="local processes or a Dask cluster.")]
SchedOpt = Annotated[
    str | None, typer.Option("--scheduler", help="Dask scheduler address, e.g. tcp://host:8786.")
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or table.")]
LuckOnlyOpt = Annotated[bool, typer.Option(
    "--luck-only", help="Every uncertain input at its mean (no correlations): the spread shown "
                        "is luck alone.")]


def fail(problems: list[Problem]) -> NoReturn:
    """Print each problem as an error and exit 2 (a user mistake: no traceback)."""
    for p in problems:
        err.print(f"[bold red]error[/] {escape(str(p))}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def fail_if(problems: list[Problem]) -> None:
    if problems:
        fail(problems)


def warn(problems: list[Problem]) -> None:
    """Settings that are valid but can have no effect (the run goes on)."""
    for p in problems:
        err.print(f"[bold yellow]warning[/] {p}", highlight=False, soft_wrap=True)


def load(path: Path, seeds: int | None = None) -> Scenario:
    """A scenario file, validated, with its warnings printed (errors exit 2)."""
    from sim.scenario.loader import load_scenario_with_warnings

    try:
        sc, warnings = load_scenario_with_warnings(path, seeds=seeds)
    except ScenarioError as e:
        fail(e.problems)
    warn(warnings)
    return sc


def budget_problems(scenarios: list[tuple[str, object]], workers: int | None) -> list[Problem]:
    """Sizes past the limits (problems); a heavy run's time and memory estimate (printed)."""
    from sim.cli_checks import budget

    problems, warnings = budget(scenarios, workers)
    for w in warnings:
        err.print(escape(w), highlight=False, soft_wrap=True)
    return problems


def target_dir(out_dir: Path | None, sc: object, suffix: str) -> Path:
    """A command's results folder (``--out`` or one named after the scenario); exits 2 when
    it cannot be used."""
    from sim.cli_checks import command_target

    target, problems = command_target(out_dir, sc, suffix)
    fail_if(problems)
    return target


def interrupted(e: KeyboardInterrupt) -> typer.Exit:
    """The exit of a command stopped before it wrote anything (130, or 143 on SIGTERM)."""
    err.print("interrupted: nothing was written", highlight=False)
    return typer.Exit(143 if isinstance(e, Terminated) else 130)
