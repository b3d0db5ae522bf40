"""From deals and stage history to stage episodes: what the stage fits read.

An *episode* is one deal's stay in one open stage: the days it spent there, how
the stay ended (advanced, lost, or still open at the as-of date: right-censored)
and, for deals the export caught mid-way, the days already spent in the stage
when the export's window opened (left truncation). The rules, stated once:

- A deal's path is read from its history in time order; a backward move keeps
  the first entry (the deal stays in its furthest stage); a skipped stage is an
  advance of zero length (it counts for the stage's advance probability, not
  for its duration); a win from stage k advances every later stage at once.
- Events after the as-of date are not seen (a back-test fits on the past only).
- The export's window opens at the first close it records (``window_start``):
  a deal created before it is in the export because it was still open then, so
  its stays that ended before the window are left out (they were selected for
  having advanced) and the stay running at the window's opening is conditioned
  on having lasted that long (left truncation).
- A deal open at the as-of date for more than twice the longest created-to-close
  cycle of any closed deal, or in its stage for more than twice the longest
  completed stay in that stage, is *stale* (a deal nobody closed in the CRM): it is counted as lost in its current stage at an unknown time (it counts for the
  advance probability only) and it is not part of the open pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.fit.io import Export

__all__ = ["ADVANCED", "LOST", "OPEN", "Episodes", "OpenDeal", "build_episodes"]

OPEN, ADVANCED, LOST = 0, 1, 2
STALE_FACTOR = 2.0  # stale: open more than twice as long as the longest closed cycle or stay


@dataclass
class OpenDeal:
    deal: int  # row in the deals table
    stage: int
    days_in_stage: float
    age_days: float


@dataclass
class Episodes:
    deal: np.ndarray  # row in the deals table
    stage: np.ndarray  # index of the open stage
    days: np.ndarray  # days in the stage (NaN: unknown)
    event: np.ndarray  # OPEN, ADVANCED, LOST
    entry: np.ndarray  # days already in the stage when observation began (0: from the start)
    open_deals: list[OpenDeal]
    stale: int
    stale_days: float
    window_start: float
    no_history: int  # deals with no usable history row (fitted from the snapshot only)
    backward_moves: int

    def select(self, rows: np.ndarray) -> Episodes:
        return Episodes(self.deal[rows], self.stage[rows], self.days[rows], self.event[rows],
                        self.entry[rows], self.open_deals, self.stale, self.stale_days,
                        self.window_start, self.no_history, self.backward_moves)


def deal_status(export: Export, as_of: float) -> tuple[np.ndarray, np.ndarray]:
    """Each deal's status ('won', 'lost', 'open') and close day as the as-of date saw it."""
    d = export.deals
    closed = d["closed"].to_numpy(float)
    seen = np.isfinite(closed) & (closed <= as_of)
    status = np.where(seen, d["status"].to_numpy(), "open")
    return status, np.where(seen, closed, np.nan)


def build_episodes(export: Export, as_of: float) -> Episodes:
    """Every deal's stays in the open stages, as of ``as_of`` (days since the export's origin)."""
    d = export.deals
    K = len(export.stages)
    code = {s: i for i, s in enumerate(export.stages)}
    for name in export.won:
        code[name] = -1
    for name in export.lost:
        code[name] = -2
    status, closed = deal_status(export, as_of)
    created = d["created"].to_numpy(float)
    cycles = closed[np.isfinite(closed)] - created[np.isfinite(closed)]
    stale_days = STALE_FACTOR * float(cycles.max()) if cycles.size else np.inf
    ever_closed = d["closed"].to_numpy(float)
    ever_closed = ever_closed[np.isfinite(ever_closed) & (ever_closed <= as_of)]
    window = float(ever_closed.min()) if ever_closed.size else -np.inf
    out_deal: list[int] = []
    out_stage: list[int] = []
    out_days: list[float] = []
    out_event: list[int] = []
    out_entry: list[float] = []
    opens: list[OpenDeal] = []
    stale = no_hist = backward = 0

    def add(i: int, k: int, t0: float, t1: float, ev: int) -> None:
        if created[i] < window and t1 < window:
            return  # ended before the window opened: selected, left out
        out_deal.append(i)
        out_stage.append(k)
        out_days.append(t1 - t0)
        out_event.append(ev)
        out_entry.append(window - t0 if created[i] < window and t0 < window else 0.0)

    paths = _paths(export, code, as_of)
    snapshot_stage = d["stage"].map(lambda s: code.get(s, 0)).to_numpy()
    for i in range(len(d)):
        steps = paths.get(i)
        if steps is None:
            no_hist += 1
            # the snapshot: a deal open now is in its current stage since an unknown time
            if status[i] == "open" and as_of - created[i] > stale_days:
                stale += 1
            elif status[i] == "open":
                # its stage at the as-of date is known only if it is still open today
                k = max(int(snapshot_stage[i]), 0) if d["status"].iat[i] == "open" else 0
                opens.append(OpenDeal(i, k, np.nan, as_of - created[i]))
            continue
        cur, t_in, done = -1, float(created[i]), False
        for t, sc in steps:
            if sc >= 0:
                if cur < 0:
                    for j in range(sc):
                        add(i, j, t, t, ADVANCED)
                    cur, t_in = sc, t
                elif sc > cur:
                    add(i, cur, t_in, t, ADVANCED)
                    for j in range(cur + 1, sc):
                        add(i, j, t, t, ADVANCED)
                    cur, t_in = sc, t
                elif sc < cur:
                    backward += 1
            else:
                if cur < 0:
                    cur, t_in = 0, created[i]
                if sc == -1:
                    add(i, cur, t_in, t, ADVANCED)
                    for j in range(cur + 1, K):
                        add(i, j, t, t, ADVANCED)
                else:
                    add(i, cur, t_in, t, LOST)
                done = True
                break
        if done:
            continue
        if cur < 0:
            cur, t_in = 0, created[i]
        if status[i] != "open":  # closed in the deals table, not in the history
            t = float(closed[i])
            if status[i] == "won":
                add(i, cur, t_in, t, ADVANCED)
                for j in range(cur + 1, K):
                    add(i, j, t, t, ADVANCED)
            else:
                add(i, cur, t_in, t, LOST)
        elif as_of - created[i] > stale_days:
            stale += 1
            add(i, cur, t_in, np.nan, LOST)
        else:
            add(i, cur, t_in, as_of, OPEN)
            opens.append(OpenDeal(i, cur, as_of - t_in, as_of - created[i]))
    stage = np.array(out_stage, dtype=np.int64)
    days = np.array(out_days, dtype=float)
    event = np.array(out_event, dtype=np.int8)
    # a stay open longer than any completed stay in its stage is stale too
    is_open = np.flatnonzero(event == OPEN)
    done = (event != OPEN) & np.isfinite(days) & (days > 0)  # skipped stages say nothing
    longest = np.full(K, np.inf)
    for k in range(K):
        if (done & (stage == k)).any():
            longest[k] = STALE_FACTOR * days[done & (stage == k)].max()
    old = days[is_open] > longest[stage[is_open]]
    if old.any():
        event[is_open[old]] = LOST
        days[is_open[old]] = np.nan
        stale += int(old.sum())
        opens = [o for o, drop in zip(opens, old.tolist(), strict=True) if not drop]
    return Episodes(np.array(out_deal, dtype=np.int64), stage, days, event,
                    np.array(out_entry, dtype=float), opens, stale, stale_days, window, no_hist,
                    backward)


def _paths(export: Export, code: dict[str, int], as_of: float) -> dict[int, list[tuple[float, int]]]:
    """Deal row -> its history as (day, stage code) in time order, up to the as-of date."""
    h = export.history
    if h is None or not len(h):
        return {}
    row_of = pd.Series(np.arange(len(export.deals)), index=export.deals["id"].to_numpy())
    h = h[(h["t"] <= as_of) & h["stage"].isin(code.keys())]
    rows = row_of.reindex(h["id"].to_numpy()).to_numpy()
    t = h["t"].to_numpy(float)
    s = h["stage"].map(code).to_numpy(int)
    out: dict[int, list[tuple[float, int]]] = {}  # (day, stage code)
    if not len(rows):
        return out
    bounds = np.flatnonzero(np.diff(rows)) + 1
    for a, b in zip(np.r_[0, bounds], np.r_[bounds, len(rows)], strict=True):
        out[int(rows[a])] = list(zip(t[a:b].tolist(), s[a:b].tolist(), strict=True))
    return out
