"""``simulate``: the Python entry point the CLI and notebooks share."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from sim.runner.checkpoint import Checkpoint
from sim.runner.chunks import Chunk, default_chunk_size, plan_chunks
from sim.runner.executors import cpu_count, run_chunks
from sim.runner.parts import ChunkPart, PartStore
from sim.runner.results import Results, assemble, scenario_hash
from sim.scenario.inputs import central_scenario, phase_inputs, uncertain_inputs
from sim.scenario.loader import load_scenario
from sim.scenario.schema import Scenario

__all__ = ["LUCK_CHUNKS", "LUCK_SEEDS", "luck_seed_count", "simulate"]

LUCK_SEEDS = 100  # at most this many seeds re-run with fresh luck (luck's share of the spread)


def luck_seed_count(seeds: int, asked: int | None = None) -> int:
    """Seeds re-run for luck's share: ``asked`` if given, else a fifth of the run, at
    least 20 and at most ``LUCK_SEEDS`` (all of a run under 20 seeds); the run then
    costs at most a fifth more from 100 seeds up. Never more than the run's seeds."""
    n = max(20, seeds // 5) if asked is None else asked
    return int(min(seeds, LUCK_SEEDS if asked is None else n, max(0, n)))
LUCK_CHUNKS = 1_000_000  # chunk index of the first luck re-run chunk (apart from the run's)


def simulate(
    scenario: Scenario | str | Path,
    seeds: int | None = None,
    workers: int | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    chunk_size: int | None = None,
    on_chunk: Callable[[ChunkPart], None] | None = None,
    checkpoint: str | Path | None = None,
    precision: float | None = None,
    metric: str = "arr_end",
    min_seeds: int = 100,
    luck: int = 0,
    luck_only: bool = False,
    luck_seeds: int | None = None,
) -> Results:
    """Run every motion of ``scenario`` over ``seeds`` replications.

    ``scenario`` is a loaded ``Scenario`` or a path to a scenario file. Seeds
    default to the file's ``seeds``; workers to the CPU count. The result is the
    same for any number of workers and either executor. With ``checkpoint`` (a
    folder), finished chunks are kept there and a later call with the same folder
    runs only the chunks still missing.

    With ``precision`` (say 0.01), seeds run in stages of ``min_seeds``, then
    twice, four times as many... up to the scenario's ``seeds``, and the run stops
    at the first stage where the 95% CI half-width of ``metric``'s mean is at most
    ``precision x |mean|`` for every motion. Stopping only at these predefined
    stage boundaries keeps the sequential rule from chasing noise chunk by chunk;
    chunks never straddle a boundary, so the stopping point is the same on any
    number of workers, chunk size or executor.

    ``luck``: the luck replicate of every seed (0, the default, is the ordinary
    run; k >= 1 keeps each seed's input draws and gives it fresh luck).
    ``luck_only``: every uncertain input at its central value (its distribution's
    mean), so the spread left is luck. When a motion has uncertain inputs, the
    first ``luck_seed_count(seeds, luck_seeds)`` seeds (``luck_seeds``, or by default
    a fifth of them, at least 20, at most 100) are also run once more with the next
    luck replicate (the same inputs, fresh luck): ``Results.luck_runs``, from which
    luck's share of the spread is estimated (``sim.drivers``).
    """
    if luck < 0:
        raise ValueError(f"luck must be >= 0, got {luck}")
    sc = load_scenario(scenario) if isinstance(scenario, str | Path) else scenario
    if seeds is not None:
        sc = sc.model_copy(update={"seeds": int(seeds)})
    if luck_only:
        sc = central_scenario(sc)
    n_workers = cpu_count() if workers is None else max(1, int(workers))
    size = chunk_size or default_chunk_size(sc.seeds, n_workers)
    stops = _stages(sc.seeds, min_seeds) if precision is not None else [sc.seeds]
    done: list[int] = []
    tag = scenario_hash(sc)
    if checkpoint is not None:
        cp = Checkpoint.open(Path(checkpoint), sc, size, stops)
        size, stops = cp.chunk_size, cp.stops  # a resumed run keeps its chunk plan
        plan = plan_chunks(sc.seeds, size, stops, luck)
        # each part checked against the plan, luck re-runs included (raises if not)
        done = cp.finished(plan + _luck_plan(sc, plan, luck, luck_seeds))
        store = cp.parts
    else:
        plan = plan_chunks(sc.seeds, size, stops, luck)
        store = PartStore(tag=tag)  # a temporary folder, removed with the results
    motions = [m.name for m in sc.motions]
    replicate = _luck_plan(sc, plan, luck, luck_seeds)

    def finished(r: ChunkPart) -> None:
        store.save(r)  # the chunk is on disk (and checkpointed) before anything else
        if on_chunk is not None and r.chunk.index < LUCK_CHUNKS:  # not the luck re-run
            on_chunk(r)

    t0 = time.perf_counter()
    stats: dict[str, int] = {}
    have = set(done)
    achieved: dict[str, float] = {}
    seeds_run = sc.seeds
    for stop in stops:
        todo = [c for c in plan if c.stop <= stop and c.index not in have]
        todo += [c for c in replicate if c.index not in have]
        have.update(run_chunks(sc, todo, n_workers, executor, scheduler, finished, stats))
        seeds_run = stop
        if precision is not None:
            upto = [c.index for c in plan if c.stop <= stop]
            achieved = _relative_half_width(store.read("runs", upto, motions), metric)
            if all(v <= precision for v in achieved.values()):
                break
    wall = time.perf_counter() - t0
    if seeds_run < sc.seeds:
        sc = sc.model_copy(update={"seeds": seeds_run})
    indices = [c.index for c in plan if c.stop <= seeds_run]
    from sim.version import __version__

    manifest = {
        "scenario_name": sc.name,
        "scenario_hash": tag,
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
        "precision": None if precision is None else {
            "metric": metric, "target": precision, "seeds_run": seeds_run,
            "achieved": {k: round(v, 6) for k, v in achieved.items()}},
        "luck": luck,
        "luck_only": luck_only,
        "luck_replicate_seeds": min(seeds_run, max(c.stop for c in replicate)) if replicate else 0,
        "command_line": " ".join(sys.argv),
        "python": sys.version.split()[0],
    }
    luck_indices = [c.index for c in replicate if c.start < seeds_run]
    return assemble(sc, store, indices, manifest, luck_indices)


def _luck_plan(sc: Scenario, plan: list[Chunk], luck: int, luck_seeds: int | None
               ) -> list[Chunk]:
    """Chunks re-running the first seeds with the next luck replicate (none when no
    motion has an uncertain input: then every motion's spread is luck)."""
    uncertain = any(uncertain_inputs(m) or any(own for items in phase_inputs(m)
                                               for _, own in items) for m in sc.motions)
    n = luck_seed_count(sc.seeds, luck_seeds)
    if not uncertain or n < 2:
        return []
    return [Chunk(LUCK_CHUNKS + c.index, c.start, min(c.stop, n), luck + 1)
            for c in plan if c.start < n]


def _stages(seeds: int, first: int) -> list[int]:
    """Seed counts after which a precision-driven run may stop: first, 2x, 4x, ... seeds.

    Fixed seed counts, the same for any number of workers or chunk size (chunks are
    cut at them), so where a run stops depends on its seeds alone."""
    out, n = [], max(1, first)
    while n < seeds:
        out.append(n)
        n *= 2
    return [*out, seeds]


def _relative_half_width(runs: pd.DataFrame, metric: str) -> dict[str, float]:
    """95% CI half-width of the metric's mean over |mean|, per motion."""
    import math

    import numpy as np

    from sim.metrics import t_quantile

    out = {}
    for motion, values in runs.groupby("motion", sort=False)[metric]:
        x = values.to_numpy(dtype=float)
        x = x[np.isfinite(x)]
        if x.size < 2 or x.mean() == 0:
            out[motion] = math.inf
            continue
        half = t_quantile(0.975, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
        out[motion] = float(half / abs(x.mean()))
    return out
