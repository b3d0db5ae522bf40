"""``simulate``: the Python entry point the CLI and notebooks share."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from sim.runner.checkpoint import Checkpoint
from sim.runner.chunks import ChunkResult, default_chunk_size, plan_chunks
from sim.runner.executors import cpu_count, run_chunks
from sim.runner.results import Results, assemble, scenario_hash
from sim.scenario.loader import load_scenario
from sim.scenario.schema import Scenario

__all__ = ["simulate"]


def simulate(
    scenario: Scenario | str | Path,
    seeds: int | None = None,
    workers: int | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    chunk_size: int | None = None,
    on_chunk: Callable[[ChunkResult], None] | None = None,
    checkpoint: str | Path | None = None,
) -> Results:
    """Run every motion of ``scenario`` over ``seeds`` replications.

    ``scenario`` is a loaded ``Scenario`` or a path to a scenario file. Seeds
    default to the file's ``seeds``; workers to the CPU count. The result is the
    same for any number of workers and either executor. With ``checkpoint`` (a
    folder), finished chunks are kept there and a later call with the same folder
    runs only the chunks still missing.
    """
    sc = load_scenario(scenario) if isinstance(scenario, str | Path) else scenario
    if seeds is not None:
        sc = sc.model_copy(update={"seeds": int(seeds)})
    n_workers = cpu_count() if workers is None else max(1, int(workers))
    size = chunk_size or default_chunk_size(sc.seeds, n_workers)
    done: dict[int, ChunkResult] = {}
    cp = None
    if checkpoint is not None:
        cp = Checkpoint.open(Path(checkpoint), sc, size)
        size = cp.chunk_size  # a resumed run keeps the interrupted run's chunk plan
        done = cp.finished()
    chunks = [c for c in plan_chunks(sc.seeds, size) if c.index not in done]

    def finished(r: ChunkResult) -> None:
        if cp is not None:
            cp.save(r)
        if on_chunk is not None:
            on_chunk(r)

    t0 = time.perf_counter()
    stats: dict[str, int] = {}
    new = run_chunks(sc, chunks, n_workers, executor, scheduler, finished, stats)
    wall = time.perf_counter() - t0
    parts = sorted([*done.values(), *new], key=lambda r: r.chunk.index)
    from sim import __version__

    manifest = {
        "scenario_name": sc.name,
        "scenario_hash": scenario_hash(sc),
        "root_seed": sc.seed,
        "seeds": sc.seeds,
        "motions": [m.name for m in sc.motions],
        "package_version": __version__,
        "executor": executor,
        "workers": n_workers,
        "chunk_size": size,
        "wall_seconds": round(wall, 3),
        "resumed_chunks": len(done),
        "retries": stats.get("retries", 0),
        "command_line": " ".join(sys.argv),
        "python": sys.version.split()[0],
    }
    return assemble(sc, parts, manifest)
