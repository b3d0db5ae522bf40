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
    """Every deal's stays in the open stages, as of ``as_of`` (days since the export's origin).

    Vectorised over the history rows (no loop per deal): each deal's path is its
    running furthest stage, every rise of it an advance (and zero-length advances
    through the stages it skipped), and one final stay per deal (won, lost, stale
    or open). The stays are in deal order, each deal's in the order of its path.
    """
    d = export.deals
    n, K = len(d), len(export.stages)
    code = {s: i for i, s in enumerate(export.stages)}
    for name in export.won:
        code[name] = WON_CODE
    for name in export.lost:
        code[name] = LOST_CODE
    status, closed = deal_status(export, as_of)
    created = d["created"].to_numpy(float)
    cycles = closed[np.isfinite(closed)] - created[np.isfinite(closed)]
    stale_days = STALE_FACTOR * float(cycles.max()) if cycles.size else np.inf
    ever_closed = d["closed"].to_numpy(float)
    ever_closed = ever_closed[np.isfinite(ever_closed) & (ever_closed <= as_of)]
    window = float(ever_closed.min()) if ever_closed.size else -np.inf
    p = _path_steps(export, code, as_of)
    parts: list[_Stays] = []
    cur = np.full(n, -1, dtype=np.int64)  # the furthest open stage reached (-1: none yet)
    t_in = created.copy()  # when the deal entered it
    closing = np.zeros(n, dtype=np.int64)  # the first close in the history (0: none)
    t_close = np.full(n, np.nan)
    has_path = np.zeros(n, dtype=bool)
    backward = 0
    if p is not None:
        rows, t, s, g = p
        has_path[rows] = True
        first = np.full(int(g[-1]) + 1, rows.size)
        np.minimum.at(first, g[s < 0], np.flatnonzero(s < 0))
        seen = np.arange(rows.size) <= first[g]  # nothing after a deal's first close
        o = np.flatnonzero(seen & (s >= 0))
        og, vals = g[o], s[o]
        runmax = np.maximum.accumulate(og * (K + 1) + vals) - og * (K + 1)
        new_g = np.r_[True, og[1:] != og[:-1]] if o.size else np.zeros(0, dtype=bool)
        prev = np.where(new_g, -1, np.r_[-1, runmax[:-1]])
        backward = int((vals < prev).sum())
        up = vals > prev
        ui, new, was = o[up], vals[up], prev[up]
        t_up = t[ui]
        t_prev = np.r_[np.nan, t_up[:-1]]  # the entry into the stage left (when was >= 0)
        start = np.maximum(was, 0)
        parts.append(_Stays.runs(rows[ui], start, new - start, np.where(was >= 0, t_prev, t_up),
                                 t_up, main=was >= 0))
        last = np.r_[rows[ui][1:] != rows[ui][:-1], True] if ui.size else np.zeros(0, bool)
        cur[rows[ui][last]] = new[last]
        t_in[rows[ui][last]] = t_up[last]
        c = first[first < rows.size]
        closing[rows[c]] = s[c]
        t_close[rows[c]] = t[c]
    cur = np.maximum(cur, 0)  # a path with no open stage before its close: the first stage
    hist_close = has_path & (closing != 0)
    deal_close = has_path & ~hist_close & (status != "open")
    won = (hist_close & (closing == WON_CODE)) | (deal_close & (status == "won"))
    lost = (hist_close & (closing == LOST_CODE)) | (deal_close & (status == "lost"))
    t_end = np.where(hist_close, t_close, closed)
    still = has_path & ~hist_close & ~deal_close
    old = still & (as_of - created > stale_days)
    open_ = still & ~old
    i = np.flatnonzero(won)
    parts.append(_Stays.runs(i, cur[i], K - cur[i], t_in[i], t_end[i], main=np.ones(i.size, bool)))
    for mask, t1, ev in ((lost, t_end, LOST), (old, np.full(n, np.nan), LOST),
                         (open_, np.full(n, as_of), OPEN)):
        i = np.flatnonzero(mask)
        parts.append(_Stays(i, cur[i], t_in[i], t1[i], np.full(i.size, ev, dtype=np.int8)))
    st = _Stays.join(parts)
    order = np.argsort(st.deal, kind="stable")  # deal by deal, each in the order of its path
    dl, t0, t1 = st.deal[order], st.t0[order], st.t1[order]
    early = created[dl] < window
    kept = ~(early & (t1 < window))  # ended before the window opened: selected, left out
    dl, t0, t1 = dl[kept], t0[kept], t1[kept]
    stage, event = st.stage[order][kept], st.event[order][kept]
    days = t1 - t0
    entry = np.where(early[kept] & (t0 < window), window - t0, 0.0)
    # deals without a path: the snapshot says whether each is open (since an unknown time)
    snap = ~has_path & (status == "open")
    snap_old = snap & (as_of - created > stale_days)
    snapshot_stage = d["stage"].map(code).fillna(0).to_numpy(float).astype(np.int64)
    snap_stage = np.where(d["status"].to_numpy() == "open", np.maximum(snapshot_stage, 0), 0)
    opening = np.flatnonzero(open_ | (snap & ~snap_old))
    stale = int(old.sum() + snap_old.sum())
    # a stay open longer than any completed stay in its stage is stale too
    is_open = np.flatnonzero(event == OPEN)
    done = (event != OPEN) & np.isfinite(days) & (days > 0)  # skipped stages say nothing
    longest = np.full(K, np.inf)
    for k in range(K):
        if (done & (stage == k)).any():
            longest[k] = STALE_FACTOR * days[done & (stage == k)].max()
    too_old = days[is_open] > longest[stage[is_open]]
    if too_old.any():
        event[is_open[too_old]] = LOST
        days[is_open[too_old]] = np.nan
        stale += int(too_old.sum())
        opening = opening[~np.isin(opening, dl[is_open[too_old]])]
    in_stage = np.full(n, np.nan)
    in_stage[dl[is_open]] = days[is_open]
    here = np.where(has_path, cur, snap_stage)
    opens = [OpenDeal(int(j), int(here[j]), float(in_stage[j]), float(as_of - created[j]))
             for j in opening]
    return Episodes(dl, stage, days, event, entry, opens, stale, stale_days, window,
                    int((~has_path).sum()), backward)


WON_CODE, LOST_CODE = -1, -2


@dataclass
class _Stays:
    """Stays before the window rule: deal, stage, entry and exit day, event."""

    deal: np.ndarray
    stage: np.ndarray
    t0: np.ndarray
    t1: np.ndarray
    event: np.ndarray

    @classmethod
    def runs(cls, deal: np.ndarray, start: np.ndarray, count: np.ndarray, t0: np.ndarray,
             t1: np.ndarray, main: np.ndarray) -> _Stays:
        """Advances through ``count`` stages from ``start`` at ``t1``: the first from ``t0``
        when ``main`` (the stay that ended), the others of zero length (skipped)."""
        count = np.maximum(count, 0)
        j = np.repeat(np.arange(count.size), count)
        q = np.arange(j.size) - np.repeat(np.cumsum(count) - count, count)
        first = (q == 0) & main[j]
        return cls(deal[j], start[j] + q, np.where(first, t0[j], t1[j]), t1[j],
                   np.full(j.size, ADVANCED, dtype=np.int8))

    @classmethod
    def join(cls, parts: list[_Stays]) -> _Stays:
        return cls(*(np.concatenate([getattr(x, f) for x in parts])
                     for f in ("deal", "stage", "t0", "t1", "event")))


def _path_steps(export: Export, code: dict[str, int],
                as_of: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """The history up to the as-of date, deal by deal in time order: each row's deal row,
    day, stage code (closed values negative) and the ordinal of its deal's group."""
    h = export.history
    if h is None or not len(h):
        return None
    row_of = pd.Series(np.arange(len(export.deals)), index=export.deals["id"].to_numpy())
    h = h[(h["t"] <= as_of) & h["stage"].isin(code.keys())]
    if not len(h):
        return None
    rows = row_of.reindex(h["id"].to_numpy()).to_numpy().astype(np.int64)
    g = np.cumsum(np.r_[True, rows[1:] != rows[:-1]]) - 1
    return rows, h["t"].to_numpy(float), h["stage"].map(code).to_numpy(np.int64), g
