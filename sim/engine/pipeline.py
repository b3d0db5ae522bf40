"""The sales path: ordered stages, owners with capacity, FIFO queues, speed to lead.

Only this part of the engine uses simpy, because only here does work compete
for something: an opportunity in a stage with an owner holds one of that role's
rep slots for as long as it stays in the owner's consecutive stages (a
*segment*). Everything independent per lead was drawn in numpy before the lead
arrived (stage uniforms, durations, ACV, fit), and the leading stages without
an owner (automated or buyer-side qualification) are resolved for a whole month
of leads at once, so only leads that reach an owned stage cost events:

    arrive --(numpy)--> first owned stage: request a rep
       granted at once, or queued FIFO (losing ``decay_per_week`` of conversion
       per week waited, lost after ``max_wait_days``)
    granted --> the segment's outcome is decided from the pre-drawn uniforms and
       the rep's ramp win factor; one timeout to the segment's end
    segment end --> release the rep; lost, won, or on to the next segment

Per opportunity that is two or three simpy events, not one per stage. They are
plain simpy events scheduled with ``env.schedule`` (``Due``: one callback and
its arguments), at the same times as ``env.timeout`` would schedule them,
without a Timeout and a closure per event. Leads that enter an owned stage from
outside the event path (a block's leads after its leading stages, PQLs routed to
sales) are fed by one event per block (``Feed``), rescheduled from lead to lead
in time order, so simpy's queue holds the deals in flight, not every future
arrival of the horizon.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import simpy
from simpy.events import NORMAL

from sim.engine.events import Due, Feed, delay_to
from sim.engine.records import LOST, OPEN, WON, Table
from sim.engine.reps import RepPool
from sim.engine.team import MONTH_DAYS, Roster

QUARTER_DAYS = 3 * MONTH_DAYS

__all__ = ["Pipeline", "RepPool", "lead_table"]


def lead_table(n_stages: int) -> Table:
    k = (n_stages,)
    return Table(
        {
            "t_arrive": (np.float64, (), np.nan),
            "source": (np.int8, (), -1),
            "fit": (np.bool_, (), True),
            "acv": (np.float64, (), np.nan),
            "fee": (np.float64, (), np.nan),  # a pilot's fee, drawn with its production value
            "u": (np.float64, k, np.nan),  # uniforms deciding each stage
            "dur": (np.float64, k, np.nan),  # days in each stage (drawn at arrival)
            "p": (np.float64, k, np.nan),  # advance probability before rep effects
            "entry": (np.float64, k, np.nan),  # time the lead entered each stage
            "outcome": (np.int8, (), OPEN),
            "t_end": (np.float64, (), np.nan),
            "stage": (np.int16, (), -1),  # last stage entered by the horizon (set at the end)
            "wait": (np.float64, (), 0.0),  # days spent waiting for a rep
            "created": (np.float64, (), np.nan),  # became an opportunity
        },
        capacity=4096,
    )


class Pipeline:
    """Moves leads through the motion's stages and records where each one ends."""

    def __init__(
        self,
        env: simpy.Environment,
        owners: list[str | None],
        qualification_index: int,
        roster: Roster,
        decay_per_week: float,
        max_wait_days: float | None,
        on_win: Callable[[int, float], None],
        closes_per_quarter: dict[str, float] | None = None,
        pools: dict[str, RepPool] | None = None,
    ):
        closes_per_quarter = closes_per_quarter or {}
        self.env = env
        self.K = len(owners)
        self.owners = owners
        self.q = qualification_index
        self.roster = roster
        self.keep_per_week = max(0.0, 1.0 - decay_per_week)
        self.max_wait = math.inf if max_wait_days is None else float(max_wait_days)
        self.on_win = on_win  # (a loss needs no callback: it is read from the lead table)
        self.T = lead_table(self.K)
        # the draws of the deals on the event path as Python floats, one list per row:
        # the stage uniforms, then the advance probabilities, then the durations (K each)
        self._live: dict[int, list[float]] = {}
        # segment end (inclusive) of each stage: consecutive stages with one owner
        self.seg_end = [0] * self.K
        for k in range(self.K - 1, -1, -1):
            same = k + 1 < self.K and owners[k + 1] == owners[k]
            self.seg_end[k] = self.seg_end[k + 1] if same else k
        # leading stages without an owner are resolved in numpy for a block of leads
        self.lead_end = self.seg_end[0] if owners[0] is None else -1
        # one pool per role, shared with the pipelines of the motion's other phases
        self.pools: dict[str, RepPool] = {} if pools is None else pools
        for role in sorted({o for o in owners if o is not None}):
            if role in self.pools:
                continue
            self.pools[role] = RepPool(self, roster.indices(role), roster)
            limit = closes_per_quarter.get(role)
            if limit is not None:
                self.pools[role].closes_per_quarter = int(round(limit))
        # each stage's pool (None: no owner), and the scheduler, for the event path
        self._pool_of = [None if o is None else self.pools[o] for o in owners]
        self._sched = env.schedule
        self._segment_end_cb = self._segment_end  # (one bound method, not one per deal)
        self._feed_cb = self._feed

    # -- blocks of new leads --------------------------------------------------------

    def add_block(
        self,
        t_arrive: np.ndarray,
        source: np.ndarray,
        fit: np.ndarray,
        acv: np.ndarray,
        u: np.ndarray,
        dur: np.ndarray,
        p: np.ndarray,
        fee: np.ndarray | None = None,
    ) -> None:
        n = t_arrive.size
        if n == 0:
            return
        T = self.T
        rows = T.append(n, t_arrive=t_arrive, source=source, fit=fit, acv=acv, u=u, dur=dur, p=p)
        if fee is not None:
            T.fee[rows] = fee
        first = rows.start
        L = self.lead_end
        sched, now = self._sched, self.env.now
        if L < 0:
            T.entry[rows, 0] = t_arrive
            self._feed_in(list(range(first, first + n)), t_arrive, 0)
            return
        passed = u[:, : L + 1] < p[:, : L + 1]
        cum = t_arrive[:, None] + np.cumsum(dur[:, : L + 1], axis=1)
        fails = ~passed.all(axis=1)
        fail_at = np.where(fails, np.argmin(passed, axis=1), L + 1)
        # entry times of the stages each lead reached within the leading segment
        starts = np.concatenate([t_arrive[:, None], cum[:, :L]], axis=1)
        reached = np.arange(L + 1)[None, :] <= fail_at[:, None]
        T.entry[rows, : L + 1] = np.where(reached, starts, np.nan)
        T.stage[rows] = np.minimum(fail_at, L)
        if self.q <= L:
            made = fail_at > self.q
            T.created[rows] = np.where(made, cum[:, self.q], np.nan)
        lost = np.flatnonzero(fails)
        if lost.size:
            t_lost = cum[lost, fail_at[lost]]
            T.outcome[first + lost] = LOST
            T.t_end[first + lost] = t_lost  # (block losses are read from the table, no callback)
        going = np.flatnonzero(~fails)
        t_next = cum[going, L].tolist()
        if L + 1 == self.K:
            won = self._won_at
            for i, t in zip(going.tolist(), t_next, strict=True):
                sched(Due(won, first + i), NORMAL, t - now)
            return
        if not going.size:
            return
        # the draws of the leads going on, as Python floats for the event path (one
        # conversion per block rather than three per deal)
        rows_going = (going + first).tolist()
        draws = np.concatenate((u[going], p[going], dur[going]), axis=1).tolist()
        self._live.update(zip(rows_going, draws, strict=True))
        self._feed_in(rows_going, cum[going, L], L + 1)

    def _feed_in(self, rows: list[int], times: np.ndarray, stage: int) -> None:
        """Leads ``rows`` enter ``stage`` at ``times``: in time order (ties in row order),
        through one event rescheduled from lead to lead (``Feed``)."""
        if not rows:
            return
        order = np.argsort(times, kind="stable")
        t_sorted = times[order].tolist()
        feed = Feed(self._feed_cb, [rows[i] for i in order.tolist()], t_sorted, stage)
        self._sched(feed, NORMAL, delay_to(self.env.now, t_sorted[0]))

    def add_open(
        self, stage: int, elapsed_residual: np.ndarray, t_entered: np.ndarray, **cols: Any
    ) -> None:
        """Deals already in ``stage`` at time zero (their stage time is a residual draw)."""
        n = t_entered.size
        T = self.T
        rows = T.append(n, **cols)
        T.dur[rows, stage] = elapsed_residual
        T.entry[rows, stage] = t_entered
        T.stage[rows] = stage
        if stage > self.q:
            T.created[rows] = t_entered
        for i in range(n):
            self.enter(rows.start + i, stage, entered=float(t_entered[i]))

    def add_entering(self, stage: int, t_enter: np.ndarray, **cols: Any) -> None:
        """Leads that enter the path at ``stage`` at future times (PQLs routed to sales)."""
        n = t_enter.size
        if n == 0:
            return
        rows = self.T.append(n, **cols)
        self._feed_in(list(range(rows.start, rows.stop)), t_enter, stage)

    def add_won(self, t_won: np.ndarray, **cols: Any) -> slice:
        """Accounts won without the sales path (self-serve upgrades), already decided."""
        return self.T.append(t_won.size, outcome=WON, t_end=t_won, **cols)

    # -- the event path -------------------------------------------------------------
    # Events are ``Due``: the callback gets the event and unpacks its ``args``.

    def _feed(self, ev: Feed) -> None:
        """The next lead of a block reaches its stage; the event moves on to the one after."""
        i = ev.i
        self.enter(ev.rows[i], ev.stage)
        i += 1
        if i < len(ev.rows):
            ev.i = i
            ev.callbacks = [self._feed_cb]
            self._sched(ev, NORMAL, delay_to(self.env.now, ev.times[i]))

    def enter(self, row: int, stage: int, entered: float | None = None) -> None:
        T = self.T
        now = self.env.now
        T.entry[row, stage] = now if entered is None else entered
        if stage > self.q and math.isnan(T.created[row]):
            T.created[row] = now
        pool = self._pool_of[stage]
        if pool is not None:
            pool.request(row, stage, self, now)
        else:
            self.walk(row, stage, 1.0, None, -1, now)

    def start_segment(self, row: int, stage: int, t_req: float, pool: RepPool, j: int) -> None:
        now = self.env.now
        wait = now - t_req
        factor = pool.win_factor(j, now)
        if wait > 0:
            self.T.wait[row] += wait
            factor *= self.keep_per_week ** (wait / 7.0)
        self.walk(row, stage, factor, pool, j, now)

    def walk(self, row: int, stage: int, factor: float, pool: RepPool | None, j: int,
             now: float) -> None:
        """Decide the segment from ``stage`` on (it starts ``now``), then wait for its end."""
        d = self._live.get(row)
        if d is None:  # the row's draws as Python floats, once per deal on the event path
            T = self.T
            d = T.u[row].tolist() + T.p[row].tolist() + T.dur[row].tolist()
            self._live[row] = d
        K = self.K  # d: uniforms [0, K), advance probabilities [K, 2K), durations [2K, 3K)
        # the first stage of the segment carries the rep's factor; most deals end in it
        s = stage
        t = now + d[2 * K + s]
        lost = d[s] >= d[K + s] * factor
        end = self.seg_end[stage]
        if not lost and end > stage:
            entry = self.T.entry
            q1 = self.q + 1
            for s in range(stage + 1, end + 1):
                entry[row, s] = t
                if s == q1:
                    self.T.created[row] = t
                t += d[2 * K + s]
                if d[s] >= d[K + s]:
                    lost = True
                    break
        self._sched(Due(self._segment_end_cb, (row, s, lost, pool, j)), NORMAL, t - now)

    def _segment_end(self, ev: Due) -> None:
        row, s, lost, pool, j = ev.args
        now = self.env.now
        if pool is not None:
            if not lost and s + 1 == self.K and pool.closes_per_quarter is not None:
                quarter = int(now // QUARTER_DAYS)
                if pool.closes.get(quarter, 0) >= pool.closes_per_quarter:
                    # the closer's calendar is full: the deal waits, still held, for next quarter
                    self._sched(Due(self._segment_end, ev.args), NORMAL,
                                (quarter + 1) * QUARTER_DAYS - now)
                    return
                pool.closes[quarter] = pool.closes.get(quarter, 0) + 1
            # pool.release(j), inlined
            pool.held[j] -= 1
            pool.free[j] += 1
            pool.n_held -= 1
            if pool.queue:
                pool._dispatch()
        if lost:
            self._live.pop(row, None)
            T = self.T
            T.outcome[row] = LOST
            T.t_end[row] = now
        elif s + 1 == self.K:
            self._won(row)
        else:
            self.enter(row, s + 1)

    def _won_at(self, ev: Due) -> None:
        self._won(ev.args)

    def _won(self, row: int) -> None:
        self._live.pop(row, None)
        T = self.T
        now = self.env.now
        T.outcome[row] = WON
        T.t_end[row] = now
        if math.isnan(T.created[row]):
            T.created[row] = now
        self.on_win(row, now)

    def reneged(self, row: int, stage: int, t_req: float) -> None:
        T = self.T
        now = self.env.now
        T.wait[row] += now - t_req
        T.outcome[row] = LOST
        T.t_end[row] = now
