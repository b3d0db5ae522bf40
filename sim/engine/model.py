"""One replication of one motion: assemble the parts, run the clock, keep records.

``simulate_seed`` is the whole engine seen from outside. For seed *i* it

1. draws the motion's uncertain inputs into one record and realises the motion
   (and each of its phases) from it (``params.seed_inputs``);
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
from sim.engine.params import num, seed_inputs
from sim.engine.path import SalesPath
from sim.engine.phases import PhaseSwitch
from sim.engine.product import ProductPath
from sim.engine.records import LOST, censor, merge_leads, merge_pilots, sum_or_none
from sim.engine.rng import Streams
from sim.engine.sources import SOURCE_ID, SourceGrid, build_sources
from sim.engine.team import MONTH_DAYS, Roster, build_roster
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
    # the realised motion of each phase that started (``motion`` first); leads,
    # customers and ``extras["phase_starts"]`` say which phase each belongs to
    phase_motions: list[Motion] = field(default_factory=list)
    # the seed's uncertain inputs, {key path: value} (a phase's own: phases.j.<key>)
    inputs: dict[str, float] = field(default_factory=dict)

    def motion_at_month(self) -> list[Motion]:
        """The motion in effect in each month."""
        starts = self.extras.get("phase_starts", np.zeros(1))
        ms = self.phase_motions or [self.motion]
        idx = np.searchsorted(starts, np.arange(self.n_months) * MONTH_DAYS, side="right") - 1
        return [ms[i] for i in idx]


class _Engine(PhaseSwitch):
    def __init__(self, scenario: Scenario, motion: Motion, seed_index: int, luck: int = 0):
        self.scenario = scenario
        self.streams = Streams(scenario.seed, seed_index, luck)
        self.inputs = seed_inputs(scenario, motion, seed_index)
        self.m = m = self.inputs.motion
        self.n_months = scenario.horizon_months
        self.H = self.n_months * MONTH_DAYS
        self.roster = build_roster(m.team, scenario.initial.reps, self.H, self.streams)
        self.sources = build_sources(m.sources, self.roster, self.n_months, self.streams)
        self.env = simpy.Environment()
        self.book = CustomerBook(
            m.retention, m.handoff, self.streams.get("churn", "early"),
            self.streams.get("churn", "renewal"), num(m.costs.gross_margin),
        )
        self.rev_share = platform_shares(m.sources)
        self.commission = np.zeros(self.n_months)
        self.partner_fees = np.zeros(self.n_months)
        self.market_size = scenario.market.size
        self.cooling = scenario.market.cooling_off_days
        self.ticks: dict[str, list[float]] = {}
        self.arr_then: np.ndarray | None = None
        self.csm = self.roster.indices("csm")
        self.seed_index = seed_index
        self.spec = motion  # the motion as written (its phases resolved, not yet drawn)
        self.phases = motion.phases
        self.phase_motions = [m]  # the realised motion of each phase started
        self._triggered = False
        self.route: dict[int, SalesPath] = {}  # source id -> path, where not the current one
        self._buffer: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
        self._filled = False
        self.path = SalesPath(self, m, 0, self.roster, self.streams, None, self.rev_share)
        self.book.use_pricing(self.path.pricing)
        self.paths = [self.path]
        self.phase_starts = [0.0]
        self._pending_phase: int | None = None  # a triggered phase starting next month
        self.products: list[ProductPath] = []  # the product path of the phase in effect
        for g in self.sources:
            if g.name == "signups":
                self.products = [ProductPath(m, g, self.pipeline, self.book, self.streams, self.H,
                                             self.n_months, self.path.adv)]
        self.all_products = list(self.products)
        self.sources = [g for g in self.sources if g.name != "signups"]

    # -- blocks of leads ------------------------------------------------------------

    def _available(self, t: float) -> float:
        """Accounts of the market not engaged at ``t`` (inf for an unbounded market).

        Every arrival takes one account; a lost account returns after the
        cooling-off period; customers (initial ones included) stay taken.
        """
        if self.market_size is None:
            return float("inf")
        n = returned = 0
        for path in self.paths:
            T = path.pipeline.T
            n += T.n
            returned += int(((T.outcome[: T.n] == LOST) & (T.t_end[: T.n] + self.cooling <= t)).sum())
        initial = int((self.book.C.column("initial")).sum())
        return float(max(self.market_size - n - initial + returned, 0))

    def _arrivals(self, month: int | None) -> None:
        """The month's leads as one block; ``month=None``: the whole horizon at once.

        With an unbounded market nothing about arrivals depends on the state of the
        run, so every lead of the horizon is drawn in one block at time zero (the
        same Poisson process, far fewer numpy calls). A bounded market thins each
        month by the accounts still available, so it goes month by month. A phased
        motion in an unbounded market draws the horizon's arrivals as an unphased
        one does, but releases them month by month (``_release``), so that until a
        phase starts it sees exactly the leads of the motion it started as.
        """
        if month is not None and self.market_size is None:
            self._release(month)
            return
        avail = self._available(0.0 if month is None else month * MONTH_DAYS)
        # sources find accounts at a rate proportional to the share not yet engaged
        thin = 1.0 if self.market_size is None else avail / self.market_size
        drawn = self._draw(self.sources, month, thin)
        if drawn is None:
            return
        t_all, src, fit, factor = drawn
        if t_all.size > avail:  # never more arrivals than accounts left
            n = int(avail)
            t_all, src, fit, factor = t_all[:n], src[:n], fit[:n], factor[:n]
        self._add_leads(t_all, src, fit, factor)

    def _draw(self, grids: list[SourceGrid], month: int | None, thin: float = 1.0
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """Arrivals of ``grids`` in ``month`` (None: the horizon), sorted by time."""
        times, srcs, fits, factors = [], [], [], []
        for g in grids:
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
            return None
        t_all = np.concatenate(times)
        order = np.argsort(t_all, kind="stable")
        return (t_all[order], np.concatenate(srcs)[order], np.concatenate(fits)[order],
                np.concatenate(factors)[order])

    def _add_leads(self, t: np.ndarray, src: np.ndarray, fit: np.ndarray,
                   factor: np.ndarray) -> None:
        """A block of leads into the path each one's source is routed to."""
        if not self.route:
            self._into(self.path, t, src, fit, factor)
            return
        target = np.array([self.paths.index(self.route.get(int(s), self.path)) for s in
                           range(len(SOURCE_ID))])[src]
        for j in np.unique(target).tolist():
            sel = target == j
            self._into(self.paths[j], t[sel], src[sel], fit[sel], factor[sel])

    @staticmethod
    def _into(path: SalesPath, t: np.ndarray, src: np.ndarray, fit: np.ndarray,
              factor: np.ndarray) -> None:
        path.add_leads(t, src, fit, factor)

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
        path = self.path
        names = [s.name for s in path.stages]
        for d in init.pipeline:
            k = names.index(d.stage)
            n = d.count
            acv, u, dur, fee = path.stage_draws(n)
            if d.acv is not None:
                acv = np.full(n, d.acv)
            fit = np.ones(n, dtype=bool)
            p = path.probabilities(fit, np.ones(n))
            residual = path.durations[k].sample_residual(rng, np.full(n, d.days_in_stage))
            self.pipeline.add_open(
                k, residual, np.full(n, -d.days_in_stage),
                t_arrive=np.full(n, np.nan), source=SOURCE_ID["initial"], fit=fit, acv=acv,
                u=u, dur=dur, p=p, fee=fee,
            )

    # -- processes ------------------------------------------------------------------

    def _capacity(self, events: list[tuple[float, int, int]]) -> Any:
        env = self.env
        pools = self.pipeline.pools  # shared by every path
        roster = self.roster
        for t, rep, cap in events:
            if t > env.now:
                yield env.timeout(t - env.now)
            pool = pools.get(roster.role[rep])
            if pool is not None:
                pool.set_capacity(rep, cap)

    def _months(self) -> Any:
        env = self.env
        snap_at = self.n_months - 12
        monthly = self.market_size is not None or bool(self.phases)
        if not monthly:
            self._arrivals(None)
        for month in range(self.n_months):
            if self._phase_due(month):
                self._start_phase(len(self.paths) - 1, month)
            if monthly:
                self._arrivals(month)
            for product in self.products:
                avail = self._available(month * MONTH_DAYS)
                size = self.market_size
                product.month(month, 1.0 if size is None else avail / size, avail)
            yield env.timeout(MONTH_DAYS)
            a, b = month * MONTH_DAYS, (month + 1) * MONTH_DAYS
            n_csm = 0 if not self.csm.size else int(
                ((np.maximum(self.roster.hire[self.csm], 0) <= b)
                 & (self.roster.leave[self.csm] > b)).sum())
            flows = self.book.close_month(a, b, n_csm)
            flows["queued"] = float(sum(p.queued() for p in self.pipeline.pools.values()))
            self.commission[month] += flows.pop("commission_trailing")
            for k, v in flows.items():
                self.ticks.setdefault(k, []).append(v)
            if month + 1 == snap_at:
                self.arr_then = self.book.cohort_snapshot(b)
            self._check_trigger(flows)

    # -- the run ----------------------------------------------------------------------

    def run(self) -> SeedRun:
        self._initial_state()
        if self.n_months == 12:
            self.arr_then = self.book.cohort_snapshot(0.0)
        self.env.process(self._capacity(self.roster.capacity_events(self.H)))
        self.env.process(self._months())
        self.env.run(until=self.H + 1e-6)
        self.book.flush()
        leads, offsets = merge_leads([p.pipeline.T.frozen() for p in self.paths])
        censor(leads, self.H)
        customers = self.book.C.frozen()
        if len(self.paths) > 1:
            has_lead = customers["lead"] >= 0
            customers["lead"][has_lead] += offsets[customers["phase"][has_lead]]
        pilots = [(p.pilots.P.frozen(), offsets[i]) for i, p in enumerate(self.paths)
                  if p.pilots is not None]
        extras: dict[str, Any] = {
            "peak_held": {r: p.peak_held for r, p in self.pipeline.pools.items()},
            "signups": sum_or_none([p.signups for p in self.all_products]),
            "activated": sum_or_none([p.activated for p in self.all_products]),
            "phase_starts": np.array(self.phase_starts),
        }
        for p in self.paths:
            extras.update(p.services_extras())
        return SeedRun(
            motion=self.m,
            horizon=self.H,
            n_months=self.n_months,
            roster=self.roster,
            leads=leads,
            customers=customers,
            ticks={k: np.array(v) for k, v in self.ticks.items()},
            arr_then=self.arr_then,
            commission=self.commission,
            partner_fees=self.partner_fees,
            pilots=merge_pilots(pilots),
            extras=extras,
            phase_motions=self.phase_motions,
            inputs=self.inputs.record,
        )


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


def simulate_seed(scenario: Scenario, motion: Motion, seed_index: int, luck: int = 0) -> SeedRun:
    """Run one replication of ``motion`` (seed ``seed_index`` of ``scenario``).

    ``luck``: the luck replicate (0: the ordinary run; k >= 1: the same input draws
    with fresh luck, see ``sim.engine.rng``).
    """
    with _gc_paused():
        return _Engine(scenario, motion, seed_index, luck).run()
