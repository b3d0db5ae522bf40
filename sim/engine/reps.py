"""Rep pools: the reps of a role that own stages, their capacity and one FIFO queue.

A deal in an owned stage holds one slot of a rep for its whole segment. A request
is granted at once to the rep with the most free slots (the earliest such), or
waits at the back of the role's queue (reneging after ``max_wait_days``); a release
or a capacity change hands free slots to the queue in order. The closer's calendar
(``closes_per_quarter``, a founder's) is kept here too. The pipelines of a motion's
phases share the pools.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, Protocol

import numpy as np
import simpy
from simpy.events import NORMAL

from sim.engine.events import Due
from sim.engine.team import Roster

__all__ = ["Pipeline", "RepPool"]


class Pipeline(Protocol):
    """What a rep pool needs of the pipeline whose stages it owns
    (``sim.engine.pipeline.Pipeline``): its clock, how long a deal may wait, and the two
    steps a granted deal takes."""

    env: simpy.Environment
    max_wait: float

    def walk(self, row: int, stage: int, factor: float, pool: RepPool | None, j: int,
             now: float) -> None: ...

    def start_segment(self, row: int, stage: int, t_req: float, pool: RepPool, j: int
                      ) -> None: ...


class RepPool:
    """The reps of one role that own stages: integer capacity each, one FIFO queue."""

    def __init__(self, pipeline: Pipeline, reps: np.ndarray, roster: Roster):
        self.pipeline = pipeline
        self.reps = [int(r) for r in reps]
        self.slot = {r: j for j, r in enumerate(self.reps)}
        self.cap = [0] * len(self.reps)
        self.held = [0] * len(self.reps)
        self.free = [0] * len(self.reps)  # cap - held, kept in step with both
        self.queue: deque[list[Any]] = deque()
        self.roster = roster
        self.peak_held = 0
        self.n_held = 0
        # closes per calendar quarter, all reps of the role together (None: no calendar)
        self.closes_per_quarter: int | None = None
        self.closes: dict[int, int] = {}
        # per-rep ramp constants as Python floats: win_factor runs once per granted deal
        self._hire = [float(roster.hire[r]) for r in self.reps]
        self._ramp = [float(roster.ramp_days[r]) for r in self.reps]
        self._rwf = [float(roster.ramp_win_factor[r]) for r in self.reps]
        # per rep: no ramp effect on winning (win_factor is exactly 1.0)
        self._flat = [f == 1.0 or d <= 1e-9 for f, d in zip(self._rwf, self._ramp, strict=True)]

    def win_factor(self, j: int, t: float) -> float:
        """Win multiplier of the rep in slot ``j``: ramp_win_factor rising to 1 over the ramp."""
        f = self._rwf[j]
        if f == 1.0 or self._ramp[j] <= 1e-9:
            return 1.0
        prog = min(max((t - self._hire[j]) / self._ramp[j], 0.0), 1.0)
        return f + (1.0 - f) * prog

    def request(self, row: int, stage: int, pipeline: Pipeline, now: float) -> None:
        """``pipeline``'s lead ``row`` asks for a rep at ``now`` (the pools are shared by
        the pipelines of a motion's phases): the rep with the most free slots (the
        earliest such), or the back of the FIFO queue when all are full."""
        if not self.queue:
            free = self.free
            most = max(free) if free else 0
            if most > 0:  # granted at once (the hot path: ``_grant`` without a wait, inlined)
                j = free.index(most)
                self.held[j] += 1
                free[j] -= 1
                self.n_held += 1
                if self.n_held > self.peak_held:
                    self.peak_held = self.n_held
                pipeline.walk(row, stage, 1.0 if self._flat[j] else self.win_factor(j, now),
                               self, j, now)
                return
        ticket: list[Any] = [row, stage, now, True, pipeline]
        self.queue.append(ticket)
        max_wait = pipeline.max_wait
        if math.isfinite(max_wait):
            pipeline.env.schedule(Due(self._renege, ticket), NORMAL, max_wait)

    def _grant(self, j: int, row: int, stage: int, t_req: float, pipeline: Pipeline) -> None:
        self.held[j] += 1
        self.free[j] -= 1
        self.n_held += 1
        if self.n_held > self.peak_held:
            self.peak_held = self.n_held
        pipeline.start_segment(row, stage, t_req, self, j)

    def _renege(self, ev: Due) -> None:
        ticket = ev.args
        if ticket[3]:
            ticket[3] = False
            ticket[4].reneged(ticket[0], ticket[1], ticket[2])

    def _dispatch(self) -> None:
        q = self.queue
        free = self.free
        while q:
            if not q[0][3]:
                q.popleft()
                continue
            most = max(free) if free else 0
            if most <= 0:
                return
            ticket = q.popleft()
            ticket[3] = False
            self._grant(free.index(most), ticket[0], ticket[1], ticket[2], ticket[4])

    def release(self, j: int) -> None:
        self.held[j] -= 1
        self.free[j] += 1
        self.n_held -= 1
        if self.queue:
            self._dispatch()

    def add_reps(self, reps: np.ndarray) -> None:
        """People hired into the role later (a phase's hires); capacity comes by events."""
        roster = self.roster
        for r in (int(x) for x in reps):
            self.slot[r] = len(self.reps)
            self.reps.append(r)
            self.cap.append(0)
            self.held.append(0)
            self.free.append(0)
            self._hire.append(float(roster.hire[r]))
            self._ramp.append(float(roster.ramp_days[r]))
            self._rwf.append(float(roster.ramp_win_factor[r]))
            self._flat.append(self._rwf[-1] == 1.0 or self._ramp[-1] <= 1e-9)

    def set_capacity(self, rep: int, capacity: int) -> None:
        j = self.slot[rep]
        self.cap[j] = capacity
        self.free[j] = capacity - self.held[j]
        self._dispatch()

    def queued(self) -> int:
        return sum(1 for t in self.queue if t[3])
