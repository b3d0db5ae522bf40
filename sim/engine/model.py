"""One replication of one motion: assemble the parts, run the clock, keep records.

``simulate_seed`` is the whole engine seen from outside. For seed *i* it

1. draws the motion's uncertain parameters (``params.realize``);
2. builds the roster (``team``) and the source intensities (``sources``);
3. runs a simpy environment in which a monthly process draws each month's
   arrivals as one numpy block and closes the month's books (customers,
   market), a capacity process applies hires, ramps and departures to the rep
   pools, and the ``Pipeline`` moves opportunities through owned stages;
4. hands the compact records to ``ledger`` (monthly series), ``forecast``
   (quarterly forecast vs actual) and ``sim.metrics`` (scalar metrics).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from sim.engine.channels import platform_shares
from sim.engine.customers import CustomerBook
from sim.engine.params import num, realize
from sim.engine.pilots import PilotDesk
from sim.engine.pipeline import Pipeline
from sim.engine.pricing import Pricing
from sim.engine.product import ProductPath
from sim.engine.records import LOST, OPEN
from sim.engine.rng import Streams
from sim.engine.sources import SOURCE_ID, build_sources
from sim.engine.team import MONTH_DAYS, Roster, build_roster
from sim.scenario.distributions import as_dist
from sim.scenario.schema import Motion, Scenario

__all__ = ["SeedRun", "simulate_seed"]


@dataclass
class SeedRun:
    """Everything one (motion, seed) produced, as compact arrays."""

    motion: Motion  # realised parameters of this seed
    horizon: float  # days
    n_months: int
    roster: Roster
    leads: dict[str, np.ndarray]
    customers: dict[str, np.ndarray]
    ticks: dict[str, np.ndarray]  # month-end books: arr, revenue, churn, ...
    arr_then: np.ndarray | None  # each customer's ARR 12 months before the end
    commission: np.ndarray  # commission paid per month
    partner_fees: np.ndarray  # referral fees paid per month
    pilots: dict[str, np.ndarray] | None  # one row per pilot sold (enterprise pilots)
    extras: dict[str, Any] = field(default_factory=dict)


class _Engine:
    def __init__(self, scenario: Scenario, motion: Motion, seed_index: int):
        self.scenario = scenario
        self.streams = Streams(scenario.seed, seed_index)
        self.m = m = realize(motion, self.streams)
        self.n_months = scenario.horizon_months
        self.H = self.n_months * MONTH_DAYS
        self.roster = build_roster(m.team, scenario.initial.reps, self.H, self.streams)
        self.sources = build_sources(m.sources, self.roster, self.n_months, self.streams)
        self.env = simpy.Environment()
        self.pricing = Pricing(m.deal, m.costs, self.streams)
        self.book = CustomerBook(
            m.retention, m.handoff, self.streams.get("churn", "early"),
            self.streams.get("churn", "renewal"), self.pricing,
        )
        self.rev_share = platform_shares(m.sources)
        self.stages = m.stages
        self.K = len(m.stages)
        self.q = m.qualification_index
        self.pipeline = Pipeline(
            self.env,
            [s.owner for s in m.stages],
            self.q,
            self.roster,
            num(m.queue.decay_per_week),
            None if m.queue.max_wait_days is None else num(m.queue.max_wait_days),
            self._on_win,
            self._on_loss,
            {r: num(role.deals_per_quarter) for r, role in m.team.roles().items()
             if role.deals_per_quarter is not None},
        )
        self.adv = np.array([min(max(num(s.advance), 0.0), 1.0) for s in m.stages])
        self.durations = [as_dist(s.duration) for s in m.stages]
        self.strictness = min(max(num(m.qualification.strictness), 0.0), 1.0)
        self.bad_fit_win = num(m.deal.bad_fit_win_factor)
        self.criteria_win = num(m.handoff.criteria_win_factor) if m.handoff.acceptance_criteria else 1.0
        roles = m.team.roles()
        owner_roles = {s.owner for s in m.stages if s.owner is not None}
        self.commission_base = sum(num(roles[r].commission_rate) for r in owner_roles)
        self.commission_sdr = num(roles["sdr"].commission_rate) if "sdr" in roles else 0.0
        self.commission = np.zeros(self.n_months)
        self.partner_fees = np.zeros(self.n_months)
        partners = m.sources.partners
        self.partner_fee_rate = 0.0 if partners is None else num(partners.partner_fee_rate)
        r = m.retention
        self.founder_mult = (num(r.founder_no_criteria_multiplier)
                             if "founder" in owner_roles and not m.handoff.acceptance_criteria
                             else 1.0)
        self.mis_sold_mult = num(r.partner_mis_sold_multiplier)
        self.pilots = (None if m.pilot is None
                       else PilotDesk(m.pilot, self.streams, self._schedule_production))
        self.market_size = scenario.market.size
        self.cooling = scenario.market.cooling_off_days
        self.ticks: dict[str, list[float]] = {}
        self.arr_then: np.ndarray | None = None
        self.csm = self.roster.indices("csm")
        self.product: ProductPath | None = None
        for g in self.sources:
            if g.name == "signups":
                self.product = ProductPath(m, g, self.pipeline, self.book, self.streams, self.H,
                                           self.n_months, self.adv)
        self.sources = [g for g in self.sources if g.name != "signups"]

    # -- callbacks from the pipeline ------------------------------------------------

    def _on_win(self, row: int, t: float) -> None:
        if self.pilots is not None:
            self.pilots.sell(row, t)  # the evaluation sold a pilot; production may follow
            return
        self._sign(row, t, float(self.pipeline.T.acv[row]))

    def _early_mult(self, row: int) -> float:
        """Early-churn multiplier of a deal: founder-closed without criteria, mis-sold referral."""
        T = self.pipeline.T
        mis_sold = int(T.source[row]) == SOURCE_ID["partners"] and not bool(T.fit[row])
        return self.founder_mult * (self.mis_sold_mult if mis_sold else 1.0)

    def _sign(self, row: int, t: float, value: float) -> None:
        """Lead ``row`` signs a deal of ``value`` at ``t``: a customer, commission, fees."""
        T = self.pipeline.T
        src = int(T.source[row])
        rate = self.commission_base + (self.commission_sdr if src == SOURCE_ID["outbound"] else 0.0)
        month = min(int(t // MONTH_DAYS), self.n_months - 1)
        if self.pricing.kind == "subscription" and src not in self.rev_share:
            self.book.add(t, value, self.m.deal.contract, bool(T.fit[row]), src, row,
                          self._early_mult(row))
            self.commission[month] += rate * value
        else:
            start, terms, now = self.pricing.sign(t, value, rate)
            extra = dict(terms.values)
            if src in self.rev_share:
                extra["rev_share"] = self.rev_share[src]
            self.book.add(start, value, self.m.deal.contract, bool(T.fit[row]), src, row,
                          self._early_mult(row), extra)
            self.commission[month] += now
            fee = self.pricing.baseline()
            if fee > 0:
                self.book.add_fee(t, fee)
        if src == SOURCE_ID["partners"]:
            self.partner_fees[month] += self.partner_fee_rate * value

    def _production(self, t: float, pilot_row: int) -> None:
        """A converted pilot becomes a production customer (commission on its ACV)."""
        assert self.pilots is not None
        P = self.pilots.P
        self._sign(int(P.lead[pilot_row]), t, float(P.production_acv[pilot_row]))

    def _schedule_production(self, t: float, pilot_row: int) -> None:
        ev = self.env.timeout(t - self.env.now)
        ev.callbacks.append(lambda _e: self._production(t, pilot_row))

    def _on_loss(self, row: int, t: float) -> None:
        """Losses need no bookkeeping here: the market reads them from the lead table."""

    # -- blocks of leads ------------------------------------------------------------

    def _stage_draws(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        acv = self.pricing.lead_values(n, self.streams.get("acv"))
        u = self.streams.get("stage").random((n, self.K))
        dur = np.empty((n, self.K))
        for k, (s, d) in enumerate(zip(self.stages, self.durations, strict=True)):
            dur[:, k] = np.maximum(d.sample(self.streams.get("duration", s.name), n), 0.0)
        return acv, u, dur

    def _probabilities(self, fit: np.ndarray, first_factor: np.ndarray) -> np.ndarray:
        p = np.tile(self.adv, (fit.size, 1))
        p[:, 0] *= first_factor
        bad = ~fit
        p[bad, self.q] *= 1.0 - self.strictness
        p[bad, min(self.q + 1, self.K - 1)] *= self.bad_fit_win
        p[:, self.K - 1] *= self.criteria_win
        return np.clip(p, 0.0, 1.0)

    def _available(self, t: float) -> float:
        """Accounts of the market not engaged at ``t`` (inf for an unbounded market).

        Every arrival takes one account; a lost account returns after the
        cooling-off period; customers (initial ones included) stay taken.
        """
        if self.market_size is None:
            return float("inf")
        T = self.pipeline.T
        n = T.n
        returned = int(
            ((T.outcome[:n] == LOST) & (T.t_end[:n] + self.cooling <= t)).sum()
        )
        initial = int((self.book.C.column("initial")).sum())
        return float(max(self.market_size - n - initial + returned, 0))

    def _arrivals(self, month: int | None) -> None:
        """The month's leads as one block; ``month=None``: the whole horizon at once.

        With an unbounded market nothing about arrivals depends on the state of the
        run, so every lead of the horizon is drawn in one block at time zero (the
        same Poisson process, far fewer numpy calls). A bounded market thins each
        month by the accounts still available, so it goes month by month.
        """
        avail = self._available(0.0 if month is None else month * MONTH_DAYS)
        # sources find accounts at a rate proportional to the share not yet engaged
        thin = 1.0 if self.market_size is None else avail / self.market_size
        times, srcs, fits, factors = [], [], [], []
        for g in self.sources:
            rng = self.streams.get("arrivals", g.name)
            if month is None:
                t, step = g.horizon_arrivals(self.n_months, rng)
            else:
                t, step = g.month_arrivals(month, thin, rng)
            if t.size == 0:
                continue
            times.append(t)
            srcs.append(np.full(t.size, g.sid, dtype=np.int8))
            fits.append(self.streams.get("fit", g.name).random(t.size) < g.fit_rate)
            factors.append(g.first_stage_factor[step])
        if not times:
            return
        t_all = np.concatenate(times)
        order = np.argsort(t_all, kind="stable")
        if order.size > avail:  # never more arrivals than accounts left
            order = order[: int(avail)]
        t_all = t_all[order]
        src = np.concatenate(srcs)[order]
        fit = np.concatenate(fits)[order]
        factor = np.concatenate(factors)[order]
        acv, u, dur = self._stage_draws(t_all.size)
        p = self._probabilities(fit, factor)
        self.pipeline.add_block(t_all, src, fit, acv, u, dur, p)

    # -- the company at time zero ---------------------------------------------------

    def _initial_state(self) -> None:
        init = self.scenario.initial
        rng = self.streams.get("initial")
        c = init.customers
        starts, arrs, terms = [], [], []
        if c.count:
            starts.append(-rng.random(c.count) * c.max_age_months * MONTH_DAYS)
            arrs.append(np.full(c.count, c.arr / c.count))
            terms.append(np.full(c.count, MONTH_DAYS if c.contract == "monthly" else 365.0))
        for a in c.accounts:
            starts.append(np.array([-a.months_ago * MONTH_DAYS]))
            arrs.append(np.array([a.arr]))
            terms.append(np.array([MONTH_DAYS if a.contract == "monthly" else 365.0]))
        if starts:
            self.book.add_initial(np.concatenate(starts), np.concatenate(arrs), np.concatenate(terms))
        names = [s.name for s in self.stages]
        for d in init.pipeline:
            k = names.index(d.stage)
            n = d.count
            acv, u, dur = self._stage_draws(n)
            if d.acv is not None:
                acv = np.full(n, d.acv)
            fit = np.ones(n, dtype=bool)
            p = self._probabilities(fit, np.ones(n))
            residual = self.durations[k].sample_residual(rng, np.full(n, d.days_in_stage))
            self.pipeline.add_open(
                k, residual, np.full(n, -d.days_in_stage),
                t_arrive=np.full(n, np.nan), source=SOURCE_ID["initial"], fit=fit, acv=acv,
                u=u, dur=dur, p=p,
            )

    # -- processes ------------------------------------------------------------------

    def _capacity(self) -> Any:
        env = self.env
        pools = self.pipeline.pools
        for t, rep, cap in self.roster.capacity_events(self.H):
            if t > env.now:
                yield env.timeout(t - env.now)
            pool = pools.get(self.roster.role[rep])
            if pool is not None:
                pool.set_capacity(rep, cap)

    def _months(self) -> Any:
        env = self.env
        snap_at = self.n_months - 12
        bounded = self.market_size is not None
        if not bounded:
            self._arrivals(None)
        for month in range(self.n_months):
            if bounded:
                self._arrivals(month)
            if self.product is not None:
                avail = self._available(month * MONTH_DAYS)
                size = self.market_size
                self.product.month(month, 1.0 if size is None else avail / size, avail)
            yield env.timeout(MONTH_DAYS)
            a, b = month * MONTH_DAYS, (month + 1) * MONTH_DAYS
            n_csm = int(((np.maximum(self.roster.hire[self.csm], 0) <= b)
                         & (self.roster.leave[self.csm] > b)).sum())
            flows = self.book.close_month(a, b, n_csm)
            flows["queued"] = float(sum(p.queued() for p in self.pipeline.pools.values()))
            self.commission[month] += flows.pop("commission_trailing")
            for k, v in flows.items():
                self.ticks.setdefault(k, []).append(v)
            if month + 1 == snap_at:
                self.arr_then = self.book.arr_snapshot(b)

    def run(self) -> SeedRun:
        self._initial_state()
        if self.n_months == 12:
            self.arr_then = self.book.arr_snapshot(0.0)
        self.env.process(self._capacity())
        self.env.process(self._months())
        self.env.run(until=self.H + 1e-6)
        self.book.flush()
        leads = self.pipeline.T.frozen()
        _censor(leads, self.H)
        return SeedRun(
            motion=self.m,
            horizon=self.H,
            n_months=self.n_months,
            roster=self.roster,
            leads=leads,
            customers=self.book.C.frozen(),
            ticks={k: np.array(v) for k, v in self.ticks.items()},
            arr_then=self.arr_then,
            commission=self.commission,
            partner_fees=self.partner_fees,
            pilots=None if self.pilots is None else self.pilots.P.frozen(),
            extras={
                "peak_held": {r: p.peak_held for r, p in self.pipeline.pools.items()},
                "signups": None if self.product is None else self.product.signups,
                "activated": None if self.product is None else self.product.activated,
                **self._services_extras(),
            },
        )

    def _services_extras(self) -> dict[str, Any]:
        desk = getattr(self.pricing, "desk", None)
        if desk is None:
            return {}
        return {"engagements": np.array(desk.intervals).reshape(-1, 2),
                "custom_to_productised": desk.custom_to_productised(self.H)}


def _censor(L: dict[str, np.ndarray], horizon: float) -> None:
    """Forget what the records know of times after the horizon.

    Leads are decided in blocks ahead of time (a lead lost at qualification has
    its loss time when it arrives), so a lead whose decision falls after the
    horizon is, at the horizon, still open in the stage it had reached.
    """
    late = L["t_end"] > horizon
    L["outcome"][late] = OPEN
    L["t_end"][late] = np.nan
    future = L["entry"] > horizon
    L["entry"][future] = np.nan
    L["created"][L["created"] > horizon] = np.nan
    reached = np.isfinite(L["entry"])
    last = L["entry"].shape[1] - 1 - np.argmax(reached[:, ::-1], axis=1)
    L["stage"] = np.where(reached.any(axis=1), last, -1).astype(L["stage"].dtype)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while the event loop runs.

    The loop allocates thousands of short-lived events and callbacks; letting the
    collector walk them costs about a fifth of the run. Nothing is lost: cycles
    left behind are collected once the collector is back on.
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def simulate_seed(scenario: Scenario, motion: Motion, seed_index: int) -> SeedRun:
    """Run one replication of ``motion`` (seed ``seed_index`` of ``scenario``)."""
    with _gc_paused():
        return _Engine(scenario, motion, seed_index).run()
