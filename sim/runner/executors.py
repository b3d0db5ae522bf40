"""Where chunks run: inline, a local process pool, or a Dask cluster.

Every executor runs the same ``run_chunk`` on the same chunks, so the numbers
do not depend on the executor or the number of workers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool

from sim.runner.chunks import Chunk, ChunkResult, run_chunk
from sim.scenario.errors import Problem, ScenarioError
from sim.scenario.schema import Scenario

__all__ = ["cpu_count", "run_chunks"]


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _inline(scenario: Scenario, chunks: list[Chunk]) -> Iterator[ChunkResult]:
    for c in chunks:
        yield run_chunk(scenario, c)


def _local(scenario: Scenario, chunks: list[Chunk], workers: int,
           stats: dict[str, int], max_retries: int = 2) -> Iterator[ChunkResult]:
    """A process pool; if a worker dies, the chunks it did not finish run again."""
    todo = list(chunks)
    while todo:
        pool = ProcessPoolExecutor(max_workers=min(workers, len(todo)))
        futures = {pool.submit(run_chunk, scenario, c): c for c in todo}
        done: set[int] = set()
        try:
            for f in as_completed(futures):
                r = f.result()
                done.add(r.chunk.index)
                yield r
            todo = []
        except BrokenProcessPool:
            todo = [c for c in todo if c.index not in done]
            stats["retries"] = stats.get("retries", 0) + 1
            if stats["retries"] > max_retries:
                raise
        finally:
            pool.shutdown(wait=False, cancel_futures=True)


def _dask(
    scenario: Scenario, chunks: list[Chunk], workers: int, scheduler: str | None
) -> Iterator[ChunkResult]:
    try:
        from dask.distributed import Client, LocalCluster
        from dask.distributed import as_completed as dask_completed
    except ImportError:
        raise ScenarioError([Problem("--executor", None, "", (
            "the dask executor needs dask.distributed: pip install 'revsim[dask]'"))]) from None
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        sc = client.scatter(scenario, broadcast=True)
        futures = [client.submit(run_chunk, sc, c, pure=False) for c in chunks]
        for f in dask_completed(futures):
            yield f.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_chunks(
    scenario: Scenario,
    chunks: list[Chunk],
    workers: int,
    executor: str = "local",
    scheduler: str | None = None,
    on_done: Callable[[ChunkResult], None] | None = None,
    stats: dict[str, int] | None = None,
) -> list[ChunkResult]:
    """Run ``chunks``; ``stats["retries"]`` counts pools restarted after a worker died."""
    stats = {} if stats is None else stats
    if executor == "dask":
        it = _dask(scenario, chunks, workers, scheduler)
    elif workers <= 1 or len(chunks) <= 1:
        it = _inline(scenario, chunks)
    else:
        it = _local(scenario, chunks, min(workers, len(chunks)), stats)
    out = []
    for r in it:
        out.append(r)
        if on_done is not None:
            on_done(r)
    out.sort(key=lambda r: r.chunk.index)
    return out
