"""Where work enters: arrival intensities of every source, and monthly draws.

Each source is a non-homogeneous Poisson process. Its intensity (leads per day)
is evaluated on a grid of ``STEPS_PER_MONTH`` steps a month, before the event
loop starts (nothing in it depends on deals). Each month the engine draws the
month's count, ``Poisson(integral of the intensity x market availability)``, and
places the arrivals by inverse transform on the grid: exact for a piecewise
constant intensity, and the steps are a day long.

- inbound: ``leads_per_month * (1 + growth_per_month) ** months`` (times
  ``seasonality[month % 12]`` when given)
- outbound: ``meetings_per_sdr_month x sum of SDR productivity x AI multiplier``;
  with probability ``ai_failure_probability`` (per seed) the AI programme fails
  at a uniform time within ``ai_failure_window_months``, and from then on volume
  and response fall back to the human level. Meetings enter the sales path at
  ``entry_stage`` (default: the first stage), and the response penalty lowers
  the advance of that stage.
- founder_network: ``intros_per_month * (1 + growth_per_month) ** months``
- partners: ``referrals_per_partner_month x sum over partners of (productivity x
  enablement)``. ``partners_start`` are enabled at month 0; ``recruited_per_quarter``
  join at each quarter's start and their referral rate ramps linearly from 0 to
  full over ``enablement_months`` (nothing much happens before). Each partner's
  productivity is drawn once (lognormal, mean 1, CV ``referral_volatility``): a
  few partners bring most referrals. With ``partners_per_manager`` a recruit
  starts enablement only when a partner manager has room for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.engine.channels import channel_grids
from sim.engine.params import num
from sim.engine.records import LEAD_SOURCES, SOURCE_ID, SOURCE_NAMES
from sim.engine.rng import Streams
from sim.engine.team import MONTH_DAYS, Roster
from sim.scenario.schema import Partners, Sources

__all__ = ["LEAD_SOURCES", "SOURCE_ID", "SOURCE_NAMES", "SourceGrid", "STEPS_PER_MONTH", "build_sources"]

STEPS_PER_MONTH = 30
STEP_DAYS = MONTH_DAYS / STEPS_PER_MONTH


@dataclass
class SourceGrid:
    """One source's intensity on the step grid, and what a lead from it carries."""

    name: str
    sid: int
    per_day: np.ndarray  # leads per day on each step
    fit_rate: float
    # multiplier on the advance of the stage the lead enters, per step (AI-drafted outreach
    # converts less)
    first_stage_factor: np.ndarray

    def horizon_arrivals(
        self, n_months: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every arrival of the horizon at once (an unbounded market needs no monthly state).

        The same process as ``month_arrivals`` month after month: a Poisson count per
        month, placed by inverse transform on the month's grid.
        """
        w = self.per_day[: n_months * STEPS_PER_MONTH] * STEP_DAYS
        cum = np.concatenate([[0.0], np.cumsum(w)])
        edges = cum[:: STEPS_PER_MONTH]
        counts = rng.poisson(np.diff(edges))
        n = int(counts.sum())
        if n == 0:
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        month = np.repeat(np.arange(n_months), counts)
        u = edges[month] + rng.random(n) * (edges[month + 1] - edges[month])
        # times rise with u: place the sorted u (a quicksort, and a faster search on
        # sorted keys); when no two times tie that is the stable order of the times
        us = u[np.argsort(u)]
        step = np.clip(np.searchsorted(cum, us, side="right") - 1, 0, w.size - 1)
        within = (us - cum[step]) / np.maximum(w[step], 1e-300)
        times = (step + np.clip(within, 0.0, 1.0 - 1e-12)) * STEP_DAYS
        if n > 1 and not (times[1:] > times[:-1]).all():  # ties: by arrival index, as ever
            step = np.clip(np.searchsorted(cum, u, side="right") - 1, 0, w.size - 1)
            within = (u - cum[step]) / np.maximum(w[step], 1e-300)
            times = (step + np.clip(within, 0.0, 1.0 - 1e-12)) * STEP_DAYS
            order = np.argsort(times, kind="stable")
            times, step = times[order], step[order]
        return times, step.astype(np.int64)

    def month_count(self, month: int, thinning: float, rng: np.random.Generator) -> int:
        """Poisson count of arrivals in ``month``."""
        lo = month * STEPS_PER_MONTH
        total = float(self.per_day[lo : lo + STEPS_PER_MONTH].sum() * STEP_DAYS)
        return int(rng.poisson(total * thinning)) if total > 0 and thinning > 0 else 0

    def month_arrivals(
        self, month: int, thinning: float, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Arrival times in ``month`` and the step index of each."""
        return self.month_times(month, self.month_count(month, thinning, rng), rng)

    def month_times(
        self, month: int, n: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """``n`` arrival times placed in ``month`` by the intensity, sorted, with their steps."""
        lo = month * STEPS_PER_MONTH
        w = self.per_day[lo : lo + STEPS_PER_MONTH] * STEP_DAYS
        total = float(w.sum())
        if n == 0 or total <= 0:
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        cum = np.cumsum(w)
        u = rng.random(n) * total
        step = np.minimum(np.searchsorted(cum, u, side="right"), STEPS_PER_MONTH - 1)
        within = (u - np.where(step > 0, cum[step - 1], 0.0)) / np.maximum(w[step], 1e-300)
        times = (lo + step + np.clip(within, 0.0, 1.0 - 1e-12)) * STEP_DAYS
        order = np.argsort(times, kind="stable")
        return times[order], (lo + step[order]).astype(np.int64)


def _growth_curve(per_month: float, growth: float, t_mid: np.ndarray) -> np.ndarray:
    return per_month / MONTH_DAYS * (1.0 + growth) ** (t_mid / MONTH_DAYS)


def build_sources(
    sources: Sources, roster: Roster, n_months: int, streams: Streams
) -> list[SourceGrid]:
    """Intensity grids of every source the motion switches on."""
    n_steps = n_months * STEPS_PER_MONTH
    t_mid = (np.arange(n_steps) + 0.5) * STEP_DAYS
    ones = np.ones(n_steps)
    out: list[SourceGrid] = []
    if sources.inbound is not None:
        s = sources.inbound
        lam = _growth_curve(num(s.leads_per_month), num(s.growth_per_month), t_mid)
        if s.seasonality is not None:
            month = (t_mid // MONTH_DAYS).astype(np.int64) % 12
            lam = lam * np.asarray(s.seasonality, dtype=float)[month]
        out.append(SourceGrid("inbound", SOURCE_ID["inbound"], lam, num(s.fit_rate), ones))
    if sources.outbound is not None:
        o = sources.outbound
        sdrs = roster.indices("sdr")
        prod = (
            roster.productivity(sdrs[:, None], t_mid[None, :]).sum(axis=0)
            if sdrs.size
            else np.zeros(n_steps)
        )
        mult = np.full(n_steps, num(o.ai_multiplier))
        factor = np.full(n_steps, 1.0 - num(o.ai_response_penalty))
        rng = streams.get("ai_failure")
        fails = rng.random() < num(o.ai_failure_probability)
        fail_at = rng.random() * num(o.ai_failure_window_months) * MONTH_DAYS
        if fails:
            after = t_mid >= fail_at
            mult[after] = 1.0
            factor[after] = 1.0
        lam = num(o.meetings_per_sdr_month) / MONTH_DAYS * prod * mult
        out.append(SourceGrid("outbound", SOURCE_ID["outbound"], lam, num(o.fit_rate), factor))
    if sources.founder_network is not None:
        f = sources.founder_network
        lam = _growth_curve(num(f.intros_per_month), num(f.growth_per_month), t_mid)
        out.append(
            SourceGrid("founder_network", SOURCE_ID["founder_network"], lam, num(f.fit_rate), ones)
        )
    if sources.signups is not None:
        su = sources.signups
        lam = _growth_curve(num(su.signups_per_month), num(su.growth_per_month), t_mid)
        out.append(SourceGrid("signups", SOURCE_ID["signups"], lam, num(su.fit_rate), ones))
    if sources.partners is not None:
        lam = _partner_intensity(sources.partners, roster, n_months, t_mid,
                                 streams.get("partners"))
        out.append(SourceGrid("partners", SOURCE_ID["partners"], lam,
                              num(sources.partners.referral_fit_rate), ones))
    # marketplace, open source, community, hyperscaler (sim.engine.channels)
    for name, lam, fit, factor, _risk_at in channel_grids(sources, t_mid, streams):
        out.append(SourceGrid(name, SOURCE_ID[name], lam, fit, factor))
    return out


def _partner_intensity(
    p: Partners, roster: Roster, n_months: int, t_mid: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    horizon = n_months * MONTH_DAYS
    joined = [0.0] * int(round(num(p.partners_start)))
    per_q = int(round(num(p.recruited_per_quarter)))
    for q in range(int(np.ceil(n_months / 3))):
        joined += [q * 3 * MONTH_DAYS] * per_q
    n = len(joined)
    if n == 0:
        return np.zeros(t_mid.size)
    start = np.array(joined)
    ramp_days = num(p.enablement_months) * MONTH_DAYS
    n_start = int(round(num(p.partners_start)))
    # partners who were enabled before month 0 are at full rate
    ramp_from = np.where(np.arange(n) < n_start, -np.inf, start)
    ppm = p.partners_per_manager
    if ppm is not None:
        pms = roster.indices("partner_manager")
        grid = np.arange(0.0, horizon + MONTH_DAYS, 1.0)
        cap = np.floor(roster.headcount(grid)["partner_manager"] * num(ppm)) if pms.size else (
            np.zeros(grid.size))
        for k in range(n_start, n):
            ok = np.flatnonzero((grid >= start[k]) & (cap > k))
            ramp_from[k] = grid[ok[0]] if ok.size else np.inf
    cv = num(p.referral_volatility)
    if cv > 0:
        s2 = np.log1p(cv * cv)
        mult = rng.lognormal(-s2 / 2, np.sqrt(s2), n)
    else:
        mult = np.ones(n)
    el = t_mid[None, :] - ramp_from[:, None]
    with np.errstate(invalid="ignore"):
        ramp = np.clip(el / ramp_days, 0.0, 1.0) if ramp_days > 0 else (el >= 0).astype(float)
    ramp = np.nan_to_num(ramp, nan=1.0)
    rate = num(p.referrals_per_partner_month) / MONTH_DAYS
    return rate * (mult[:, None] * ramp).sum(axis=0)
