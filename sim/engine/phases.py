"""Motions over time in one replication: the switch to a phase, and the arrivals of
a phased motion (MODEL.md "Motions over time and blends"; docs/model.md "phases").

``PhaseSwitch`` is the part of the engine (``sim.engine.model._Engine``) that
starts a phase: it realises the phase's motion, hires the people the phase adds,
opens a new ``SalesPath`` for new leads (routing the sources that keep theirs),
and rebuilds the sources the phase writes. A phased motion in an unbounded
market draws the horizon's arrivals at once, as the unphased motion does, and
releases them month by month, so until a phase starts it sees the same leads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.engine.channels import platform_shares
from sim.engine.params import SeedInputs, num
from sim.engine.path import SalesPath
from sim.engine.product import ProductPath
from sim.engine.rng import Streams
from sim.engine.sources import SOURCE_ID, STEPS_PER_MONTH, SourceGrid, build_sources
from sim.engine.team import MONTH_DAYS, Roster, build_roster
from sim.scenario.phases import Phase
from sim.scenario.schema import Motion
from sim.scenario.team import Role, Team

if TYPE_CHECKING:
    import simpy

    from sim.engine.customers import CustomerBook
    from sim.engine.pipeline import Pipeline
    from sim.scenario.schema import Scenario

__all__ = ["PhaseSwitch"]


class PhaseSwitch:
    """Phase starts and buffered arrivals; mixed into the engine, whose state it uses."""

    # the engine's state this part reads and writes (set in _Engine.__init__)
    scenario: Scenario
    spec: Motion
    inputs: SeedInputs
    phases: list[Phase]
    phase_motions: list[Motion]
    phase_starts: list[float]
    paths: list[SalesPath]
    path: SalesPath
    route: dict[int, SalesPath]
    roster: Roster
    streams: Streams
    book: CustomerBook
    env: simpy.Environment
    sources: list[SourceGrid]
    products: list[ProductPath]
    all_products: list[ProductPath]
    csm: np.ndarray
    seed_index: int
    n_months: int
    H: float
    market_size: int | None
    _triggered: bool
    _filled: bool
    _buffer: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None

    # and the engine's methods it calls
    _capacity: Callable[[list[tuple[float, int, int]]], Any]
    _draw: Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None]
    _add_leads: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], None]

    @property
    def pipeline(self) -> Pipeline:
        """The pipeline new leads enter (the current phase's)."""
        return self.path.pipeline

    # -- arrivals of a phased motion -------------------------------------------------

    def _release(self, month: int) -> None:
        """The buffered arrivals of ``month`` (phased motions, unbounded market)."""
        self._fill()
        if self._buffer is None:
            return
        t, src, fit, factor = self._buffer
        k = int(np.searchsorted(t, (month + 1) * MONTH_DAYS, side="left"))
        if k:
            self._add_leads(t[:k], src[:k], fit[:k], factor[:k])
            self._buffer = (t[k:], src[k:], fit[k:], factor[k:])

    def _fill(self) -> None:
        """Draw the horizon's arrivals of the motion as it starts, once."""
        if not self._filled:
            self._filled = True
            self._buffer = self._draw(self.sources, None)

    def _rebuffer(self, replaced: set[str], fresh: list[SourceGrid]) -> None:
        """A phase replaced some sources: drop their future arrivals, draw the new ones."""
        if self.market_size is not None:
            return
        self._fill()
        kept = self._buffer
        parts = []
        if kept is not None:
            ids = {SOURCE_ID[name] for name in replaced}
            keep = ~np.isin(kept[1], list(ids))
            parts.append(tuple(a[keep] for a in kept))
        new = self._draw(fresh, None) if fresh else None
        if new is not None:
            parts.append(new)
        if not parts:
            self._buffer = None
            return
        t = np.concatenate([p[0] for p in parts])
        order = np.argsort(t, kind="stable")
        self._buffer = tuple(np.concatenate([p[i] for p in parts])[order]  # type: ignore[assignment]
                             for i in range(4))

    # -- phases (MODEL.md "Motions over time and blends") ----------------------------

    def _next_phase(self) -> Phase | None:
        j = len(self.paths) - 1
        return self.phases[j] if j < len(self.phases) else None

    def _phase_due(self, month: int) -> bool:
        ph = self._next_phase()
        if ph is None:
            return False
        kind, at = ph.trigger()
        if kind == "start_month":
            return month >= at
        return self._triggered

    def _check_trigger(self, flows: dict[str, float]) -> None:
        """A trigger met at a month end starts its phase with the next month."""
        ph = self._next_phase()
        if ph is None:
            return
        kind, at = ph.trigger()
        if (kind == "after_customers" and flows["customers"] >= at) or (
                kind == "after_arr" and flows["arr"] >= at):
            self._triggered = True

    def _start_phase(self, j: int, month: int) -> None:
        """Phase ``j`` starts at ``month``: new hires, its sources, a new path for new leads."""
        self._triggered = False
        t = month * MONTH_DAYS
        ph = self.phases[j]
        pm = self.inputs.phases[j]  # realised from the seed's record of inputs
        written = ph.overrides()
        self._hire_for_phase(ph, pm, t)
        prev = self.path
        self.path = SalesPath(self, pm, j + 1, self.roster, self.streams, prev.pipeline.pools,
                              platform_shares(pm.sources), later_phase=True)
        if ph.route is not None:  # the other sources keep the path they were on
            for name in type(pm.sources).model_fields:
                sid = SOURCE_ID[name]
                if name not in ph.route and getattr(prev.m.sources, name) is not None:
                    self.route.setdefault(sid, prev)
                else:
                    self.route.pop(sid, None)
        self.paths.append(self.path)
        self.book.use_pricing(self.path.pricing)
        self.phase_starts.append(t)
        self.phase_motions.append(pm)
        self._phase_sources(pm, written, month)

    def _hire_for_phase(self, ph: Phase, pm: Motion, t: float) -> None:
        """People carry over; ``team.<role>.hires`` in the phase count months from its start."""
        raw = ph.overrides().get("team") or {}
        before = set(self.phase_motions[-1].team.roles())
        roles: dict[str, Role] = {}
        for name, role in pm.team.roles().items():
            body = raw.get(name)
            if not isinstance(body, dict):
                continue
            hires = dict(role.hires) if "hires" in body else {}
            if name not in before:  # a role the phase creates starts with its ``start``
                hires[0] = hires.get(0, 0) + int(round(num(role.start)))
            if hires:
                roles[name] = role.model_copy(update={"start": 0.0, "hires": hires})
        if not roles:
            return
        sub = build_roster(Team(**roles), [], self.H - t, self.streams)
        sub.hire += t
        sub.leave += t
        first = self.roster.role.size
        for f in fields(Roster):
            setattr(self.roster, f.name, np.concatenate([getattr(self.roster, f.name),
                                                         getattr(sub, f.name)]))
        for rname, pool in self.pipeline.pools.items():
            new = np.flatnonzero(sub.role == rname) + first
            if new.size:
                pool.add_reps(new)
        self.csm = self.roster.indices("csm")
        events = [(tt, rep + first, cap) for tt, rep, cap in sub.capacity_events(self.H)]
        if events:
            self.env.process(self._capacity(events))

    def _phase_sources(self, pm: Motion, written: dict[str, Any], month: int) -> None:
        """Sources the phase writes start from its month; the others carry on as they were."""
        src_written = set((written.get("sources") or {}).keys())
        team_changed = "team" in written
        t = month * MONTH_DAYS
        shifted = replace(self.roster, hire=self.roster.hire - t, leave=self.roster.leave - t)
        fresh = build_sources(pm.sources, shifted, self.n_months - month, self.streams)
        pad = month * STEPS_PER_MONTH
        old = {g.name: g for g in self.sources}
        if self.products:
            old["signups"] = self.products[-1].grid
        active: list[SourceGrid] = []
        new_grids: list[SourceGrid] = []
        for g in fresh:
            keep = old.get(g.name)
            if keep is None or g.name in src_written or (g.name == "outbound" and team_changed):
                g = SourceGrid(g.name, g.sid, np.concatenate([np.zeros(pad), g.per_day]), g.fit_rate,
                               np.concatenate([np.ones(pad), g.first_stage_factor]))
                if g.name != "signups":
                    new_grids.append(g)
            else:
                g = keep
            active.append(g)
        # sources the phase replaces or switches off lose their future arrivals
        still = {g.name for g in active} - {g.name for g in new_grids}
        self._rebuffer({g.name for g in self.sources} - still, new_grids)
        product_written = bool({"conversion", "self_serve", "pql"} & set(written))
        signups = [g for g in active if g.name == "signups"]
        if not signups:
            self.products = []  # sign-ups switched off from this phase on
        elif signups[0] is not old.get("signups") or product_written:
            self.products = [ProductPath(pm, signups[0], self.pipeline, self.book, self.streams,
                                         self.H, self.n_months, self.path.adv, self.path.phase)]
        self.all_products.extend(p for p in self.products if p not in self.all_products)
        self.sources = [g for g in active if g.name != "signups"]
