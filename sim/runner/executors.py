"""Where chunks run: inline, a local process pool, or a Dask cluster.

Every executor runs the same ``run_part`` (simulate a chunk, encode its tables
as Parquet) on the same chunks, so the numbers do not depend on the executor or
the number of workers. Finished chunks are handed to ``on_done`` (which writes
them to disk) as they arrive and not kept.
"""

from __future__ import annotations

import os
import random
import string
from collections.abc import Callable, Iterator
from typing import Any

from sim.runner.chunks import Chunk
from sim.runner.parts import ChunkPart, run_part
from sim.runner.pool import run_pool
from sim.scenario.errors import Problem, ScenarioError
from sim.scenario.schema import Scenario

__all__ = ["cpu_count", "run_chunks"]


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _inline(scenario: Scenario, chunks: list[Chunk]) -> Iterator[ChunkPart]:
    for c in chunks:
        yield run_part(scenario, c)


# Dask's nanny forces glibc's malloc trim threshold down to 64 KiB in its workers
# (``distributed.nanny.pre-spawn-environ``); the engine allocates many small numpy
# arrays and runs about 15% slower under it (benchmarks/README.md). The statistical
# profiler, sampling every worker thread every 10 ms, costs a few % more. revsim's
# own LocalCluster switches both off; a user's cluster can do the same in its config.
SCHEDULER_TIMEOUT = "10s"

WORKER_CONFIG: dict[str, Any] = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.worker.profile.enabled": False,
}


def local_cluster(workers: int, cluster_class: Any = None) -> Any:
    """A LocalCluster of ``workers`` single-threaded worker processes, tuned for the engine."""
    import dask

    if cluster_class is None:
        from dask.distributed import LocalCluster as cluster_class
    with dask.config.set(WORKER_CONFIG):
        return cluster_class(n_workers=workers, threads_per_worker=1, processes=True,
                             dashboard_address=None)


def _dask(
    scenario: Scenario, chunks: list[Chunk], workers: int, scheduler: str | None,
    stats: dict[str, int],
) -> Iterator[ChunkPart]:
    """Chunks as Dask tasks. The scenario is scattered once; each task returns its
    chunk's Parquet bytes, released on the workers as soon as the client has them.
    A worker that dies mid-chunk has its task re-run by the scheduler elsewhere; the
    retries are counted from the scheduler's record of tasks (of this run's key
    prefix) that were processing on a worker when it died."""
    try:
        from dask.distributed import Client, LocalCluster
        from dask.distributed import as_completed as dask_completed
    except ImportError:
        raise ScenarioError([Problem("--executor", None, "", (
            "the dask executor needs dask.distributed: pip install 'revsim[dask]'"))]) from None
    cluster = None
    if scheduler:
        try:
            client = Client(scheduler, timeout=SCHEDULER_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as e:
            raise ScenarioError([Problem("--scheduler", None, "", (
                f"cannot reach a Dask scheduler at {scheduler}: {e}"))]) from None
    else:
        cluster = local_cluster(workers, LocalCluster)
        client = Client(cluster)
    prefix = "revsim-chunk-" + "".join(random.choices(string.ascii_lowercase[6:], k=12))
    try:
        sc = client.scatter(scenario, broadcast=True, hash=False)
        futures = [client.submit(run_part, sc, c, key=f"{prefix}-{c.index}", pure=False)
                   for c in chunks]
        for f in dask_completed(futures):
            r = f.result()
            f.release()  # the workers drop the chunk now; memory stays flat there too
            yield r
        del futures
        stats["retries"] = stats.get("retries", 0) + _suspicious(client, prefix)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _suspicious(client: object, prefix: str) -> int:
    """How many times a task of ``prefix`` was running on a worker that died."""
    def count(dask_scheduler: object, name: str) -> int:
        tp = dask_scheduler.task_prefixes.get(name)  # type: ignore[attr-defined]
        return int(tp.suspicious) if tp is not None else 0

    try:
        return int(client.run_on_scheduler(count, name=prefix))  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a scheduler that refuses: retries unknown, not fatal
        return 0


def run_chunks(
    scenario: Scenario,
    chunks: list[Chunk],
    workers: int,
    executor: str = "local",
    scheduler: str | None = None,
    on_done: Callable[[ChunkPart], None] | None = None,
    stats: dict[str, int] | None = None,
) -> list[int]:
    """Run ``chunks``, handing each to ``on_done`` as it finishes; the indices run.

    ``stats["retries"]`` counts chunks re-run because their worker died (local: see
    ``sim.runner.pool``; Dask: tasks rescheduled by the scheduler)."""
    stats = {} if stats is None else stats
    if not chunks:
        return []
    if executor == "dask":
        it = _dask(scenario, chunks, workers, scheduler, stats)
    elif workers <= 1 or len(chunks) <= 1:
        it = _inline(scenario, chunks)
    else:
        it = run_pool(scenario, chunks, min(workers, len(chunks)), stats)
    out = []
    for r in it:
        out.append(r.chunk.index)
        if on_done is not None:
            on_done(r)
    return sorted(out)
