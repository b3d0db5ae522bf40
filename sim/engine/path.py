"""The sales path of one phase of a motion: its leads' draws, its pipeline, how its deals sign.

A motion without ``phases`` has one path for the whole run. Each phase that
starts opens a new path (MODEL.md "Motions over time"): leads arriving from then
on go through the phase's stages, deals and pricing, while deals already in an
earlier path finish there. All paths share the rep pools (people carry over)
and the customer book (customers carry over).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from sim.engine.customers import CustomerBook
from sim.engine.movements import movement_terms
from sim.engine.params import num
from sim.engine.pilots import PilotDesk
from sim.engine.pipeline import Pipeline, RepPool
from sim.engine.pricing import Pricing
from sim.engine.rng import Streams
from sim.engine.sources import SOURCE_ID
from sim.engine.team import MONTH_DAYS, Roster
from sim.scenario.distributions import as_dist
from sim.scenario.schema import Motion

__all__ = ["SalesPath"]


class SalesPath:
    """Stages, owners, deal terms and signing of one phase (index ``phase``)."""

    def __init__(self, engine: Any, m: Motion, phase: int, roster: Roster, streams: Streams,
                 pools: dict[str, RepPool] | None, rev_share: dict[int, float],
                 later_phase: bool = False):
        self.engine, self.m, self.phase, self.streams = engine, m, phase, streams
        self.n_months = engine.n_months
        self.pricing = Pricing(m.deal, m.costs, streams)
        self.stages = m.stages
        self.K = len(m.stages)
        self.q = m.qualification_index
        roles = m.team.roles()
        self.pipeline = Pipeline(
            engine.env,
            [s.owner for s in m.stages],
            self.q,
            roster,
            num(m.queue.decay_per_week),
            None if m.queue.max_wait_days is None else num(m.queue.max_wait_days),
            self._on_win,
            {r: num(role.deals_per_quarter) for r, role in roles.items()
             if role.deals_per_quarter is not None},
            pools=pools,
        )
        self.adv = np.array([min(max(num(s.advance), 0.0), 1.0) for s in m.stages])
        self.durations = [as_dist(s.duration) for s in m.stages]
        # sources whose leads enter past the first stage: source id -> stage index
        out = m.sources.outbound
        names = [s.name for s in m.stages]
        self.entry_of = ({} if out is None or out.entry_stage is None
                         else {SOURCE_ID["outbound"]: names.index(out.entry_stage)})
        self.strictness = min(max(num(m.qualification.strictness), 0.0), 1.0)
        self.bad_fit_win = num(m.deal.bad_fit_win_factor)
        self.criteria_win = num(m.handoff.criteria_win_factor) if m.handoff.acceptance_criteria else 1.0
        owner_roles = {s.owner for s in m.stages if s.owner is not None}
        self.commission_base = sum(num(roles[r].commission_rate) for r in owner_roles)
        self.commission_sdr = num(roles["sdr"].commission_rate) if "sdr" in roles else 0.0
        partners = m.sources.partners
        self.partner_fee_rate = 0.0 if partners is None else num(partners.partner_fee_rate)
        r = m.retention
        self.founder_mult = (num(r.founder_no_criteria_multiplier)
                             if "founder" in owner_roles and not m.handoff.acceptance_criteria
                             else 1.0)
        self.mis_sold_mult = num(r.partner_mis_sold_multiplier)
        self.pilots = (None if m.pilot is None
                       else PilotDesk(m.pilot, streams, self._schedule_production))
        self.rev_share = rev_share
        # a won deal becomes a plain subscription customer (unless its source takes a share)
        self._plain = self.pricing.kind == "subscription" and phase == 0
        # customers signed in a later phase carry that phase's retention terms
        self.retention_terms: dict[str, float] = {}
        if later_phase:
            book: CustomerBook = engine.book
            handoff = 1.0 if m.handoff.acceptance_criteria else num(r.poor_handoff_multiplier)
            self.retention_terms = {
                "h": num(r.monthly_churn),
                **movement_terms(r),
                "early_p": num(r.early_churn) * handoff / max(book.handoff_mult, 1e-12),
            }

    # -- leads ----------------------------------------------------------------------

    def stage_draws(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """Each lead's deal value, stage uniforms, stage durations and pilot fee (or None).

        With a pilot the deal value is the production contract the pilot leads to
        (``PilotDesk.deal_values``): the pipeline, the forecast and the contract
        signed all read this one value.
        """
        fee = None
        if self.pilots is not None:
            fee, acv = self.pilots.deal_values(n, self.streams.get("acv"))
        else:
            acv = self.pricing.lead_values(n, self.streams.get("acv"))
        u = self.streams.get("stage").random((n, self.K))
        dur = np.empty((n, self.K))
        for k, (s, d) in enumerate(zip(self.stages, self.durations, strict=True)):
            dur[:, k] = np.maximum(d.sample(self.streams.get("duration", s.name), n), 0.0)
        return acv, u, dur, fee

    def add_leads(self, t: np.ndarray, src: np.ndarray, fit: np.ndarray,
                  factor: np.ndarray) -> None:
        """A block of arrivals into the pipeline. A lead enters at the first stage, or at
        the stage its source names (``sources.outbound.entry_stage``: a meeting booked
        after the account was qualified skips the stages before it); the source's
        first-stage factor applies to the stage it enters. Every lead's draws are made
        for the whole block first, so the other leads see the same numbers either way."""
        acv, u, dur, fee = self.stage_draws(t.size)
        rest = np.ones(t.size, dtype=bool)
        for sid, k in self.entry_of.items():
            sel = src == sid
            if not sel.any():
                continue
            rest &= ~sel
            cols = {"t_arrive": t[sel], "source": src[sel], "fit": fit[sel], "acv": acv[sel],
                    "u": u[sel], "dur": dur[sel],
                    "p": self.probabilities(fit[sel], factor[sel], k)}
            if fee is not None:
                cols["fee"] = fee[sel]
            self.pipeline.add_entering(k, t[sel], **cols)
        if not rest.all():
            t, src, fit, factor, acv, u, dur = (x[rest] for x in (t, src, fit, factor, acv, u, dur))
            fee = None if fee is None else fee[rest]
        self.pipeline.add_block(t, src, fit, acv, u, dur, self.probabilities(fit, factor), fee)

    def probabilities(self, fit: np.ndarray, first_factor: np.ndarray,
                      entry: int = 0) -> np.ndarray:
        """Each lead's advance probability per stage: the stage's ``advance``, the source's
        factor on the stage the lead enters (``entry``), bad fit screened at qualification
        and winning less at the stage after it, acceptance criteria on the last stage."""
        p = np.tile(self.adv, (fit.size, 1))
        p[:, entry] *= first_factor
        bad = ~fit
        p[bad, self.q] *= 1.0 - self.strictness
        p[bad, min(self.q + 1, self.K - 1)] *= self.bad_fit_win
        p[:, self.K - 1] *= self.criteria_win
        return np.clip(p, 0.0, 1.0)

    # -- callbacks from the pipeline ------------------------------------------------

    def _on_win(self, row: int, t: float) -> None:
        if self.pilots is not None:
            T = self.pipeline.T  # the evaluation sold a pilot; production may follow
            self.pilots.sell(row, t, float(T.fee[row]), float(T.acv[row]))
            return
        self.sign(row, t, float(self.pipeline.T.acv[row]))

    def early_mult(self, src: int, fit: bool) -> float:
        """Early-churn multiplier of a deal: founder-closed without criteria, mis-sold referral."""
        mis_sold = src == SOURCE_ID["partners"] and not fit
        return self.founder_mult * (self.mis_sold_mult if mis_sold else 1.0)

    def sign(self, row: int, t: float, value: float) -> None:
        """Lead ``row`` signs a deal of ``value`` at ``t``: a customer, commission, fees."""
        e = self.engine
        T = self.pipeline.T
        src = int(T.source[row])
        fit = bool(T.fit[row])
        rate = self.commission_base + (self.commission_sdr if src == SOURCE_ID["outbound"] else 0.0)
        month = min(int(t // MONTH_DAYS), self.n_months - 1)
        if self._plain and src not in self.rev_share:
            e.book.add(t, value, self.m.deal.contract, fit, src, row, self.early_mult(src, fit))
            e.commission[month] += rate * value
        else:
            start, terms, now = self.pricing.sign(t, value, rate)
            extra: dict[str, float | bool] = {**self.retention_terms, **terms.values}
            if self.phase:
                extra["phase"] = self.phase
            if src in self.rev_share:
                extra["rev_share"] = self.rev_share[src]
            e.book.add(start, value, self.m.deal.contract, fit, src, row,
                       self.early_mult(src, fit), extra)
            e.commission[month] += now
            fee = self.pricing.baseline()
            if fee > 0:
                e.book.add_fee(t, fee)
        if src == SOURCE_ID["partners"]:
            e.partner_fees[month] += self.partner_fee_rate * value

    def _production(self, t: float, pilot_row: int) -> None:
        """A converted pilot becomes a production customer (commission on its ACV)."""
        assert self.pilots is not None
        P = self.pilots.P
        self.sign(int(P.lead[pilot_row]), t, float(P.production_acv[pilot_row]))

    def _schedule_production(self, t: float, pilot_row: int) -> None:
        env = self.engine.env
        ev = env.timeout(t - env.now)
        ev.callbacks.append(lambda _e: self._production(t, pilot_row))

    def services_extras(self) -> dict[str, Any]:
        desk = getattr(self.pricing, "desk", None)
        if desk is None:
            return {}
        return {"engagements": np.array(desk.intervals).reshape(-1, 2),
                "custom_to_productised": desk.custom_to_productised(self.engine.H)}


Callback = Callable[[int, float], None]
