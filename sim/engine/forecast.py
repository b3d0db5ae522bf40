"""The quarterly bookings forecast of the simulated RevOps team, and the actuals.

At each quarter's start RevOps sees every open opportunity in some stage. With
probability ``stage_inflation`` a rep reports it one stage later than the buyer
really is (a hope stage). The forecast counts ``ACV x P(win | reported stage)``
(the product of the remaining advance probabilities) for each opportunity
whose expected close, from the reported stage's remaining mean durations, falls
inside the quarter (for a motion with pilots, the pilot's expected length and
decision delay are added and its odds of success and conversion weigh in). Actual bookings are the first-year value of the customers
who started in the quarter. Deals that will be created and closed within the quarter
cannot be seen in the pipeline; RevOps adds them at last quarter's run rate (the
bookings of deals created and won within the previous quarter).
"""

from __future__ import annotations

import numpy as np

from sim.engine.model import SeedRun
from sim.engine.params import num
from sim.engine.records import OPEN
from sim.engine.rng import Streams
from sim.engine.sources import SOURCE_ID
from sim.engine.team import MONTH_DAYS
from sim.scenario.distributions import as_dist
from sim.scenario.schema import Motion

__all__ = ["quarterly_forecast"]

QUARTER_DAYS = 3 * MONTH_DAYS
SELF_SERVE = SOURCE_ID["signups"]


def _stage_tables(m: Motion, K: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int,
                                               tuple[float, float, float]]:
    """P(win | in stage k), mean days in k, expected days after k (padded to ``K``
    stages), the motion's stage count, and its pilot terms (odds, delay, multiplier)."""
    adv = np.array([min(max(num(s.advance), 0.0), 1.0) for s in m.stages])
    mean_dur = np.array([as_dist(s.duration).mean for s in m.stages])
    k = adv.size
    p_from = np.cumprod(adv[::-1])[::-1]
    after = np.concatenate([np.cumsum(mean_dur[::-1])[::-1][1:], [0.0]])
    pilot = (0.0, 0.0, 0.0)
    if m.pilot is not None:
        # a won evaluation books only after its pilot: RevOps adds the pilot's expected
        # length and decision delay, and weights by its odds of success and conversion
        pl = m.pilot
        p_ext = min(num(pl.extension_probability), 0.95)
        delay = (num(pl.decision_window_days) / 2 if pl.conversion_clause
                 else num(pl.extension_days) * p_ext / (1 - p_ext))
        after = after + as_dist(pl.duration_days).mean + delay
        pilot_p = num(pl.success_rate) * num(pl.decision_conversion)
        p_from = p_from * pilot_p
        pilot = (pilot_p, delay, as_dist(pl.production_multiplier).mean)
    pad = np.zeros(K - k)
    return (np.concatenate([p_from, pad]), np.concatenate([mean_dur, pad]),
            np.concatenate([after, pad]), k, pilot)


def quarterly_forecast(run: SeedRun, streams: Streams) -> dict[str, np.ndarray]:
    L = run.leads
    n_q = run.n_months // 3
    K = L["entry"].shape[1]
    # each phase of the motion has its own stages: tables indexed [phase, stage]
    motions = run.phase_motions or [run.motion]
    tables = [_stage_tables(mj, K) for mj in motions]
    p_from = np.stack([t[0] for t in tables])
    mean_dur = np.stack([t[1] for t in tables])
    after = np.stack([t[2] for t in tables])
    k_of = np.array([t[3] for t in tables])
    in_effect = run.motion_at_month()
    rng = streams.get("forecast")
    is_opp = np.isfinite(L["created"])
    created = L["created"][is_opp]
    t_end = np.where(L["outcome"][is_opp] == OPEN, np.inf, L["t_end"][is_opp])
    entry = L["entry"][is_opp]
    acv = L["acv"][is_opp]
    phase = L["phase"][is_opp].astype(np.int64) if "phase" in L else np.zeros(acv.size, np.int64)
    # the run rate reads won deals only: their columns once, in row order
    won = np.flatnonzero(L["outcome"] == 1)
    w_end, w_created, w_acv = L["t_end"][won], L["created"][won], L["acv"][won]
    w_self_serve = L["source"][won] == SELF_SERVE
    # stage reached at a time: entries at or before it (a stage never entered counts as later)
    entry_or_inf = np.where(np.isnan(entry), np.inf, entry)
    C = run.customers
    c_start, c_arr = C["start"][~C["initial"]], C["arr0"][~C["initial"]]
    forecast = np.zeros(n_q)
    actual = np.zeros(n_q)
    # the open opportunities of every quarter at once, quarter by quarter in row order
    # (the hope draws are one block in that order: the same stream as a draw per quarter)
    t0s = np.arange(n_q) * QUARTER_DAYS
    t1s = (np.arange(n_q) + 1) * QUARTER_DAYS
    is_open = (created[None, :] <= t0s[:, None]) & (t_end[None, :] > t0s[:, None])
    n_open = np.count_nonzero(is_open, axis=1)
    qq, ii = np.nonzero(is_open)
    if ii.size:
        t0_of = t0s[qq]
        e = entry[ii]
        ph = phase[ii]
        last = k_of[ph] - 1
        stage = (entry_or_inf[ii] <= t0_of[:, None]).sum(axis=1) - 1
        stage = np.minimum(np.maximum(stage, 0), last)
        elapsed = t0_of - e[np.arange(stage.size), stage]
        elapsed[np.isnan(elapsed)] = 0.0  # (entries are finite or NaN)
        inflation = np.array([num(in_effect[3 * q].forecast.stage_inflation) for q in range(n_q)])
        hope = rng.random(stage.size) < inflation[qq]
        reported = np.minimum(stage + hope, last)
        remaining = np.where(
            hope, mean_dur[ph, reported],
            np.maximum(mean_dur[ph, stage] - elapsed, 0.0),
        ) + after[ph, reported]
        counted = t0_of + remaining < t1s[qq]
        weighted = acv[ii] * p_from[ph, reported] * counted
    bounds = np.concatenate([[0], np.cumsum(n_open)]).tolist()
    for q in range(n_q):
        t0, t1 = q * QUARTER_DAYS, (q + 1) * QUARTER_DAYS
        m = in_effect[3 * q]
        actual[q] = c_arr[(c_start >= t0) & (c_start < t1)].sum()
        if q > 0:
            # run rate of what the pipeline cannot show: deals created and won within last
            # quarter, and self-serve upgrades
            p0 = t0 - QUARTER_DAYS
            in_last = (w_end >= p0) & (w_end < t0)
            quick = in_last & ((w_created >= p0) | w_self_serve)
            forecast[q] += w_acv[quick].sum()
        if run.pilots is not None and m.pilot is not None:
            # pilots under way: expected production value if their decision is due this quarter
            pilot_p, pilot_delay, _ = tables[motions.index(m)][4]
            P = run.pilots
            live = (P["t_start"] <= t0) & (P["t_decision"] > t0)
            due = np.maximum(P["t_end"], t0) + pilot_delay
            forecast[q] += float((P["production_acv"] * pilot_p)[live & (due < t1)].sum())
        if bounds[q + 1] > bounds[q]:
            forecast[q] += float(weighted[bounds[q]:bounds[q + 1]].sum())
    open_count = n_open.astype(float)
    return {"quarter": np.arange(n_q), "forecast": forecast, "actual": actual,
            "open_opportunities": open_count}
