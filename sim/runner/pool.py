"""The local executor: worker processes that may die without taking the run with them.

Each worker is a forked process with a pipe to the main process; it receives a
chunk, runs ``run_part`` and sends the chunk's Parquet bytes back. The main
process waits on every pipe and every process at once
(``multiprocessing.connection.wait``), so:

- a worker that dies (kill -9, SIGTERM, out of memory) is noticed at once: its
  chunk is run again by a fresh worker (a retry, counted), and the run finishes
  with the numbers it would have had (chunks depend on their seeds alone);
  a chunk that kills its worker ``MAX_ATTEMPTS`` times is an error;
- only a signal to the main process interrupts the run: workers reset SIGTERM
  to its default (a worker's SIGTERM ends that worker, a retry) and ignore
  SIGINT (Ctrl-C reaches the whole process group; the main process decides).
  SIGTERM is blocked while a worker is forked and until it has reset the
  handler, so a worker signalled in its first instant dies of it (its chunk is
  run again) rather than running the main process's handler (a traceback) or
  losing the signal while Python sets the child up;
- workers never outlive the main process: the kernel kills them when it dies
  (``PR_SET_PDEATHSIG``), and a watcher thread checks the parent every
  ``PARENT_POLL`` seconds where that is not available;
- whatever ends the run (done, error, interrupt), every worker is killed and
  reaped before the pool returns.

A Python exception in ``run_part`` is not a fault of the worker: it ends the
run with the chunk's traceback.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import signal
import threading
import time
import traceback
from collections import deque
from collections.abc import Iterator
from multiprocessing.connection import Connection, wait
from typing import Any

from sim.runner.chunks import Chunk
from sim.runner.parts import ChunkPart, run_part
from sim.scenario.schema import Scenario

__all__ = ["MAX_ATTEMPTS", "WorkerError", "run_pool"]

MAX_ATTEMPTS = 3  # runs of one chunk before a dying worker is the chunk's fault
PARENT_POLL = 0.5
_PR_SET_PDEATHSIG = 1


class WorkerError(RuntimeError):
    """A chunk failed in a worker (its traceback), or kept killing its workers."""


def _die_with_parent(parent: int) -> None:
    with contextlib.suppress(OSError, AttributeError):  # not Linux: the watcher is enough
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(PARENT_POLL)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, daemon=True, name="revsim-parent-watch").start()


def _worker(conn: Connection, scenario: Scenario, parent: int) -> None:
    # SIGTERM is blocked here (inherited from the fork): a pending one now kills the worker
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    _die_with_parent(parent)
    while True:
        try:
            chunk = conn.recv()
        except (EOFError, OSError):
            return
        if chunk is None:
            return
        try:
            part: Any = run_part(scenario, chunk)
        except Exception:  # noqa: BLE001 - sent to the main process, which raises it
            part = ("error", traceback.format_exc())
        conn.send(part)


class _Worker:
    def __init__(self, ctx: Any, scenario: Scenario):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, scenario, os.getpid()),
                                daemon=True, name="revsim-worker")
        # the child starts with SIGTERM blocked; the main process's own SIGTERM, if one
        # comes meanwhile, is delivered when the mask is restored
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        try:
            self.proc.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
        child.close()
        self.chunk: Chunk | None = None

    def give(self, chunk: Chunk) -> None:
        self.chunk = chunk
        # if it died meanwhile, its sentinel says so and the chunk runs again
        with contextlib.suppress(OSError):
            self.conn.send(chunk)

    def stop(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join()
        self.conn.close()


def run_pool(scenario: Scenario, chunks: list[Chunk], workers: int,
             stats: dict[str, int]) -> Iterator[ChunkPart]:
    """Run ``chunks`` on ``workers`` processes, yielding each as it finishes."""
    ctx = mp.get_context("fork")
    todo: deque[Chunk] = deque(chunks)
    attempts: dict[int, int] = {}
    pool: list[_Worker] = []
    try:
        for _ in range(min(workers, len(todo))):
            pool.append(_Worker(ctx, scenario))
        for w in pool:
            w.give(todo.popleft())
            attempts[w.chunk.index] = 1  # type: ignore[union-attr]
        while any(w.chunk is not None for w in pool):
            busy = [w for w in pool if w.chunk is not None]
            ready = set(wait([w.conn for w in busy] + [w.proc.sentinel for w in busy]))
            for w in busy:
                part = None
                if w.conn in ready:
                    try:
                        part = w.conn.recv()
                    except (EOFError, OSError):
                        part = None
                if part is None and w.proc.sentinel not in ready and w.conn not in ready:
                    continue
                if isinstance(part, tuple):
                    raise WorkerError(f"chunk {w.chunk.index} (seeds {w.chunk.start}-"  # type: ignore[union-attr]
                                      f"{w.chunk.stop - 1}) failed:\n{part[1]}")  # type: ignore[union-attr]
                if part is not None:
                    w.chunk = None
                    yield part
                else:  # the worker died with its chunk: run it again on a fresh worker
                    lost = w.chunk
                    assert lost is not None
                    w.stop()
                    pool.remove(w)
                    if attempts[lost.index] >= MAX_ATTEMPTS:
                        raise WorkerError(f"chunk {lost.index} (seeds {lost.start}-{lost.stop - 1}) "
                                          f"killed its worker {MAX_ATTEMPTS} times")
                    stats["retries"] = stats.get("retries", 0) + 1
                    todo.appendleft(lost)
                    w = _Worker(ctx, scenario)
                    pool.append(w)
                if todo:
                    nxt = todo.popleft()
                    attempts[nxt.index] = attempts.get(nxt.index, 0) + 1
                    w.give(nxt)
    finally:
        for w in pool:
            w.stop()
