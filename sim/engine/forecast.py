"""The quarterly bookings forecast of the simulated RevOps team, and the actuals.

At each quarter's start ``t0`` RevOps forecasts the bookings of ``[t0, t0 + Q)``
(``Q`` = a quarter) in four parts:

    pipeline   for every open opportunity, in stage ``s`` for ``a`` days:
               ACV x P(win | s) x P(books before t0 + Q | a days in s)
    backlog    contracts signed before ``t0`` that start billing in the quarter
               (after a value-share baseline, or a services slot): known values
    run rate   bookings the quarter's start cannot see (deals not yet
               opportunities, self-serve upgrades): as many as last quarter had,
               the bookings of its customers whose deal was no opportunity at its start
    pilots     pilots under way whose production decision is due in the quarter:
               fee x mean production multiplier x P(production)

What RevOps knows (a team estimating from its history of deals like this one):

- P(win | s) is the product of the deal's own advance probabilities from ``s``
  on: the engine's effective ones, with the bad-fit, acceptance-criteria and
  source factors and a PQL's conversion in them, times the chance a pilot ends
  in production. Not in them: a ramping rep's win factor and the decay of a
  deal kept waiting for a rep (they depend on who takes the deal and when).
- The time until the booking is the residual life of stage ``s``'s duration
  given ``a`` (``X - a | X > a``), plus the later stages' durations, plus the
  pilot's length and decision delay and a value-share baseline period. The
  residual's CDF is exact (``Dist.residual_cdf``); the later part is a set of
  weighted atoms, a Latin hypercube sample of the later stages' (and the
  pilot's) durations from the forecast's own stream (``ATOMS`` per stage;
  exact for fixed durations, unbiased otherwise), with the chance of each
  pilot decision path as weight. So with no hope the pipeline part is an
  unbiased forecast of the bookings of the deals open at ``t0``, for any
  duration distribution.
- It assumes no wait for a rep from here on and a founder calendar that is not
  full; time in a stage counts from its entry, a wait for a rep included (a
  deal kept past every duration its stage allows is taken as due now). A
  services engagement books when a team is free: the expected wins of services
  deals in a quarter are capped by the teams that can start one (``_services_room``).

Hope stages: with probability ``stage_inflation`` a rep moves a deal one stage
ahead of the buyer at the quarter's call. RevOps then sees a deal that has just
entered stage ``s + 1`` and weights it as such: P(win | s + 1) x P(the rest of
stage ``s + 1`` and the later ones fit in the quarter). That weight is never
below the deal's true one, so ``stage_inflation`` measures hope only; a deal in
the last stage cannot be reported further and its weight does not change.

Actual bookings are the first-year value of the customers who started in the
quarter (initial customers aside).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.engine.model import SeedRun
from sim.engine.params import num
from sim.engine.records import OPEN
from sim.engine.rng import Streams
from sim.engine.team import MONTH_DAYS
from sim.scenario.distributions import Uniform, as_dist
from sim.scenario.schema import Motion

__all__ = ["ATOMS", "QUARTER_DAYS", "BookingTimes", "booking_times", "quarterly_forecast"]

QUARTER_DAYS = 3 * MONTH_DAYS
ATOMS = 128  # Latin hypercube draws of the later stages' durations, per motion and seed
_CELLS = 1 << 20  # (deals x atoms) evaluated at once


@dataclass(frozen=True)
class BookingTimes:
    """For each stage ``s`` of a motion: the time from leaving ``s`` to the booking,
    as atoms ``after[s]`` with weights ``weight[s]`` (their sum: the chance a deal
    that wins every stage books, below 1 only with pilots)."""

    durations: list
    after: list[np.ndarray]
    weight: list[np.ndarray]

    def p_in_window(self, stage: int, elapsed: np.ndarray, window: float) -> np.ndarray:
        """P(booked within ``window`` days) of deals ``elapsed`` days into ``stage``,
        given they win every stage (and a pilot's production)."""
        t, w = self.after[stage], self.weight[stage]
        inside = t <= window  # an atom past the window adds nothing
        t, w = t[inside], w[inside]
        out = np.zeros(elapsed.size)
        if not t.size:
            return out
        step = max(_CELLS // max(t.size, 1), 1)
        dist = self.durations[stage]
        for i in range(0, elapsed.size, step):
            e = elapsed[i:i + step, None]
            out[i:i + step] = dist.residual_cdf(e, window - t[None, :]) @ w
        return out

    def p_entering(self, stage: int, window: float) -> float:
        """P(booked within ``window`` days) of a deal entering ``stage + 1`` now (given
        it wins): the booking comes ``after[stage]`` days later, by definition."""
        return float(self.weight[stage][self.after[stage] <= window].sum())


def _lhs(dists: list, rng: np.random.Generator, n: int) -> np.ndarray:
    """A Latin hypercube sample of ``max(X, 0)`` for each distribution: column ``k``
    has one draw in each of ``n`` equal-probability strata of ``dists[k]``."""
    out = np.empty((n, len(dists)))
    for k, d in enumerate(dists):
        q = (rng.permutation(n) + rng.random(n)) / n
        out[:, k] = np.maximum(d.ppf(q), 0.0)
    return out


def _pilot_paths(m: Motion) -> tuple[np.ndarray, np.ndarray]:
    """A won evaluation's pilot: days of decision delay after the pilot ends, per
    decision path, and each path's chance of ending in production."""
    pl = m.pilot
    assert pl is not None
    success, convert = num(pl.success_rate), num(pl.decision_conversion)
    if pl.conversion_clause:  # decided at a uniform time in the window (drawn in the LHS)
        return np.zeros(1), np.array([success * convert])
    # put off e times with probability p^e (1 - p); abandoned after the last extension
    p, most = num(pl.extension_probability), pl.max_extensions
    e = np.arange(most + 1)
    p_e = np.where(e < most, p ** e * (1 - p), p ** most)
    odds = convert * num(pl.extension_decay) ** e
    if most > 0:
        odds[most] = 0.0
    return e * num(pl.extension_days), success * p_e * odds


def booking_times(m: Motion, rng: np.random.Generator, n: int = ATOMS) -> BookingTimes:
    """The atoms of a motion's time from each stage to its booking (see the module)."""
    durations = [as_dist(s.duration) for s in m.stages]
    later = [*durations[1:]]
    delays, weights = np.zeros(1), np.ones(1)
    if m.pilot is not None:
        later.append(as_dist(m.pilot.duration_days))
        if m.pilot.conversion_clause:
            later.append(Uniform(low=0.0, high=num(m.pilot.decision_window_days)))
        delays, weights = _pilot_paths(m)
    fixed = 0.0
    if m.deal.pricing == "value_share" and m.deal.value_share is not None:
        fixed = num(m.deal.value_share.baseline_days)  # billing starts after the baseline
    draws = _lhs(later, rng, n) if later else np.zeros((n, 0))
    k = len(durations)
    # from leaving stage s: stages s+1.. (columns s..k-2), then the pilot's columns
    tail = draws[:, k - 1:].sum(axis=1) + fixed
    stage_sums = np.cumsum(draws[:, :k - 1][:, ::-1], axis=1)[:, ::-1]
    after, weight = [], []
    for s in range(k):
        t = (stage_sums[:, s] if s < k - 1 else 0.0) + tail
        times = (t[:, None] + delays[None, :]).ravel()
        w = np.broadcast_to(weights[None, :] / n, (n, delays.size)).ravel()
        keep = w > 0
        # equal atoms (fixed durations) are merged: one evaluation instead of n
        u, inv = np.unique(times[keep], return_inverse=True)
        after.append(u)
        weight.append(np.bincount(inv, weights=w[keep], minlength=u.size))
    return BookingTimes(durations, after, weight)


def _pilot_terms(m: Motion) -> tuple[float, float, float]:
    """Pilots under way: P(production), mean decision delay, mean production multiplier."""
    pl = m.pilot
    assert pl is not None
    delays, p = _pilot_paths(m)
    if pl.conversion_clause:
        delay = num(pl.decision_window_days) / 2
    else:
        delay = float((delays * p).sum() / p.sum()) if p.sum() > 0 else 0.0
    return float(p.sum()), delay, as_dist(pl.production_multiplier).mean


def _services_room(run: SeedRun, motions: list[Motion], c_start: np.ndarray,
                   c_signed: np.ndarray, n_q: int) -> np.ndarray:
    """Per quarter: engagements a services desk can start for deals not yet won.

    At ``t0`` RevOps knows its teams (``max_concurrent``), when the engagements
    under way end, and the contracts signed and waiting for a team (``c_start``,
    ``c_signed`` of the engagements that waited): the room is the teams free at
    ``t0`` or freed before ``t1``, less those still waiting at ``t0``.
    """
    teams = max(int(mj.deal.services.max_concurrent) for mj in motions
                if mj.deal.services is not None and mj.deal.pricing == "services")
    eng = np.asarray(run.extras["engagements"], dtype=float).reshape(-1, 2)
    room = np.zeros(n_q)
    for q in range(n_q):
        t0, t1 = q * QUARTER_DAYS, (q + 1) * QUARTER_DAYS
        running = (eng[:, 0] <= t0) & (eng[:, 1] > t0)
        waiting = int(((c_signed < t0) & (c_start >= t0)).sum())
        freed = (teams - int(running.sum())) + int((eng[running, 1] < t1).sum())
        room[q] = max(freed - waiting, 0)
    return room


def quarterly_forecast(run: SeedRun, streams: Streams) -> dict[str, np.ndarray]:
    """Forecast and actual bookings per quarter, with the forecast's parts
    (``pipeline``, ``backlog``, ``run_rate``, ``pilots``) and the open opportunities."""
    L = run.leads
    n_q = run.n_months // 3
    motions = run.phase_motions or [run.motion]
    rng = streams.get("forecast")
    # the hope draws come first from the forecast's stream, as they always have
    times = [booking_times(mj, streams.get("forecast", "booking", str(j)))
             for j, mj in enumerate(motions)]
    k_of = np.array([len(mj.stages) for mj in motions])
    in_effect = run.motion_at_month()
    is_opp = np.isfinite(L["created"])
    created = L["created"][is_opp]
    t_end = np.where(L["outcome"][is_opp] == OPEN, np.inf, L["t_end"][is_opp])
    entry = L["entry"][is_opp]
    p_adv = L["p"][is_opp]
    acv = L["acv"][is_opp]
    phase = L["phase"][is_opp].astype(np.int64) if "phase" in L else np.zeros(acv.size, np.int64)
    # a deal's stage at a time: the last stage it entered by then (a PQL or a deal open at
    # the start enters past the first stage; a stage never entered has no entry time)
    entry_or_inf = np.where(np.isnan(entry), np.inf, entry)
    stage_col = np.arange(entry.shape[1])[None, :]
    C = run.customers
    new = ~C["initial"]
    c_start, c_arr, c_lead = C["start"][new], C["arr0"][new], C["lead"][new]
    c_phase = C["phase"][new].astype(np.int64) if "phase" in C else np.zeros(c_start.size, np.int64)
    # when each customer's contract was signed (a sales win; a pilot's production decision)
    # and whether its deal was an opportunity yet (self-serve upgrades never are)
    t_sign = L["t_end"].copy()
    if run.pilots is not None:
        conv = run.pilots["converted"]
        t_sign[run.pilots["lead"][conv]] = run.pilots["t_decision"][conv]
    has = c_lead >= 0
    c_signed = np.where(has, t_sign[np.where(has, c_lead, 0)], c_start)
    c_created = np.where(has, L["created"][np.where(has, c_lead, 0)], np.nan)
    pipeline, backlog, run_rate, pilots = (np.zeros(n_q) for _ in range(4))
    actual = np.zeros(n_q)
    # the open opportunities of every quarter at once, quarter by quarter in row order
    # (the hope draws are one block in that order: the same stream as a draw per quarter)
    t0s = np.arange(n_q) * QUARTER_DAYS
    is_open = (created[None, :] <= t0s[:, None]) & (t_end[None, :] > t0s[:, None])
    n_open = np.count_nonzero(is_open, axis=1)
    qq, ii = np.nonzero(is_open)
    if ii.size:
        t0_of = t0s[qq]
        ph = phase[ii]
        last = k_of[ph] - 1
        stage = np.where(entry_or_inf[ii] <= t0_of[:, None], stage_col, -1).max(axis=1)
        stage = np.minimum(np.maximum(stage, 0), last)
        elapsed = t0_of - entry[ii][np.arange(stage.size), stage]
        elapsed[np.isnan(elapsed)] = 0.0  # (entries are finite or NaN)
        inflation = np.array([num(in_effect[3 * q].forecast.stage_inflation) for q in range(n_q)])
        hope = (rng.random(stage.size) < inflation[qq]) & (stage < last)
        reported = stage + hope
        # P(win | reported stage): the deal's own advance probabilities from there on
        remaining = (stage_col >= reported[:, None]) & (stage_col <= last[:, None])
        p_win = np.where(remaining, p_adv[ii], 1.0).prod(axis=1)
        p_time = np.empty(stage.size)
        for j, bt in enumerate(times):
            for s in range(k_of[j]):
                sel = np.flatnonzero((ph == j) & (stage == s) & ~hope)
                if sel.size:
                    p_time[sel] = bt.p_in_window(s, elapsed[sel], QUARTER_DAYS)
                sel = (ph == j) & (stage == s) & hope
                if sel.any():
                    p_time[sel] = bt.p_entering(s, QUARTER_DAYS)
        won_in_q = p_win * p_time
        services_phase = np.array([mj.deal.pricing == "services" for mj in motions])
        services = services_phase[ph]
        if services.any() and "engagements" in run.extras:
            # an engagement books when a team is free: no more new ones than free teams
            expected = np.bincount(qq[services], weights=won_in_q[services], minlength=n_q)
            waits = services_phase[c_phase] & (c_signed < c_start)
            room = _services_room(run, motions, c_start[waits], c_signed[waits], n_q)
            scale = np.minimum(1.0, room / np.where(expected > 0, expected, 1.0))
            won_in_q = np.where(services, won_in_q * scale[qq], won_in_q)
        np.add.at(pipeline, qq, acv[ii] * won_in_q)
    for q in range(n_q):
        t0, t1 = q * QUARTER_DAYS, (q + 1) * QUARTER_DAYS
        m = in_effect[3 * q]
        starts = (c_start >= t0) & (c_start < t1)
        actual[q] = c_arr[starts].sum()
        backlog[q] = c_arr[starts & (c_signed < t0)].sum()
        if q > 0:
            # last quarter's bookings that its start could not see: deals that were no
            # opportunity yet (created later, or never: self-serve upgrades)
            p0 = t0 - QUARTER_DAYS
            unseen = ~(c_created <= p0)
            run_rate[q] = c_arr[(c_start >= p0) & (c_start < t0) & unseen].sum()
        if run.pilots is not None and m.pilot is not None:
            # pilots under way: expected production value if their decision is due this quarter
            pilot_p, pilot_delay, _ = _pilot_terms(m)
            P = run.pilots
            live = (P["t_start"] <= t0) & (P["t_decision"] > t0)
            due = np.maximum(P["t_end"], t0) + pilot_delay
            # a pilot's production contract: the one value the pilot desk drew for it
            pilots[q] = float((P["production_acv"] * pilot_p)[live & (due < t1)].sum())
    return {"quarter": np.arange(n_q), "forecast": pipeline + backlog + run_rate + pilots,
            "actual": actual, "open_opportunities": n_open.astype(float),
            "pipeline": pipeline, "backlog": backlog, "run_rate": run_rate, "pilots": pilots}
