"""A rich progress bar with ETA over the seeds of a run (silent when quiet or not a TTY)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from sim.runner.parts import ChunkPart
from sim.scenario.schema import Scenario

__all__ = ["progress_for"]


@contextmanager
def progress_for(
    scenario: Scenario, quiet: bool = False
) -> Iterator[Callable[[ChunkPart], None] | None]:
    if quiet or not sys.stderr.isatty():
        yield None
        return
    total = scenario.seeds * len(scenario.motions)
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("seed-runs"), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
        console=Console(stderr=True), transient=False,
    ) as bar:
        task = bar.add_task(scenario.name, total=total)

        def advance(r: ChunkPart) -> None:
            bar.advance(task, (r.chunk.stop - r.chunk.start) * len(scenario.motions))

        yield advance
