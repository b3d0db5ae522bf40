"""The product path (PLG): sign-ups, activation, self-serve upgrades, PQL triggers.

Per month, in numpy, never one event per sign-up:

1. sign-ups ~ Poisson(integral of the sign-up intensity); only the activated
   ones, ~ Binomial(sign-ups, ``activation_rate``), become accounts; the rest
   are counted and forgotten.
2. an activated account reaches value ``time_to_value_days`` after signing up;
   then either
   - freemium: competing monthly hazards of upgrading (``freemium_monthly``) and
     of going dormant (``dormancy_monthly``): the first event decides, so the
     eventual upgrade share is c / (c + d) in rate terms; or
   - trial: at ``trial_days`` it pays with ``opt_in`` or ``opt_out`` odds.
3. with ``pql`` set, usage starts at ``usage_start`` and grows by
   ``usage_growth_monthly``; once it crosses ``threshold`` the account is a PQL,
   and sales reaches out when it has also been active ``min_days_active`` days
   (the touch: the later of the two). If the account upgrades or goes dormant
   before the touch, it follows its own path and never reaches sales. A touched
   account enters the sales path at ``entry_stage``, winning with probability
   ``conversion x min(1, threshold/reference)^elasticity``, less
   ``early_touch_penalty`` if it had been active fewer than ``early_touch_days``
   days when touched: waiting longer avoids the penalty and loses the accounts
   that decide by themselves meanwhile. The stages' advance probabilities are
   rescaled (powers of the same exponent) so their product is that probability.
4. self-serve upgrades inside the horizon become customers at once (monthly
   billing, ``seats x price x 12`` ARR, the ``self_serve`` churn and growth),
   recorded in the lead table as won without the sales path.
"""

from __future__ import annotations

import math

import numpy as np

from sim.engine.customers import CustomerBook
from sim.engine.params import num
from sim.engine.pipeline import Pipeline
from sim.engine.rng import Streams
from sim.engine.sources import SOURCE_ID, SourceGrid
from sim.engine.team import MONTH_DAYS
from sim.scenario.distributions import as_dist
from sim.scenario.schema import Motion

__all__ = ["ProductPath"]


class ProductPath:
    def __init__(self, m: Motion, grid: SourceGrid, pipeline: Pipeline, book: CustomerBook,
                 streams: Streams, horizon: float, n_months: int, adv: np.ndarray, phase: int = 0):
        self.m, self.grid, self.pipeline, self.book = m, grid, pipeline, book
        self.phase = phase  # the phase whose pipeline records this path's accounts
        self.streams, self.H = streams, horizon
        su = m.sources.signups
        assert su is not None
        self.activation = num(su.activation_rate)
        self.ttv = as_dist(su.time_to_value_days)
        self.fit_rate = num(su.fit_rate)
        cv, ss = m.conversion, m.self_serve
        self.model = cv.model
        self.c = -math.log1p(-min(num(cv.freemium_monthly), 0.999999)) / MONTH_DAYS
        self.d = -math.log1p(-min(num(cv.dormancy_monthly), 0.999999)) / MONTH_DAYS
        self.trial_days = num(cv.trial_days)
        self.trial_p = num(cv.opt_in) if cv.trial == "opt_in" else num(cv.opt_out)
        self.seats = as_dist(ss.seats)
        self.price = num(ss.price_per_seat_month)
        self.ss_h = num(ss.monthly_churn)
        self.ss_expand = num(ss.expansion_rate_annual)
        self.ss_early = num(ss.early_churn)
        self.signups = np.zeros(n_months)
        self.activated = np.zeros(n_months)
        self.pql = m.pql
        if self.pql is not None:
            names = [s.name for s in m.stages]
            q = m.qualification_index
            e = self.pql.entry_stage
            self.entry = names.index(e) if e is not None else min(q + 1, len(names) - 1)
            self.entry_adv = adv[self.entry:]
            self.threshold = num(self.pql.threshold)
            ref = max(num(self.pql.reference_threshold), 1e-12)
            quality = min(1.0, self.threshold / ref) ** num(self.pql.quality_elasticity)
            self.p_pql = num(self.pql.conversion) * quality
            self.penalty = num(self.pql.early_touch_penalty)
            self.min_days = num(self.pql.min_days_active)
            self.early_days = num(self.pql.early_touch_days)
            self.usage0 = as_dist(self.pql.usage_start)
            self.usage_g = as_dist(self.pql.usage_growth_monthly)
            acv = self.pql.acv if self.pql.acv is not None else m.deal.acv
            assert acv is not None  # (Motion validation: pql.acv or deal.acv)
            self.pql_acv = as_dist(acv)

    def month(self, month: int, thinning: float, available: float = math.inf) -> None:
        """The month's sign-ups; at most ``available`` accounts become customers or PQLs."""
        rng = self.streams.get("signups")
        n = self.grid.month_count(month, thinning, rng)
        self.signups[month] = n
        k = int(rng.binomial(n, self.activation)) if n else 0
        self.activated[month] = k
        if k == 0:
            return
        t_sign, _ = self.grid.month_times(month, k, self.streams.get("arrivals", "signups"))
        r = self.streams.get("activation")
        t_act = t_sign + np.maximum(self.ttv.sample(r, k), 0.0)
        fit = self.streams.get("fit", "signups").random(k) < self.fit_rate
        if self.model == "freemium":
            rate = self.c + self.d
            tau = r.exponential(1.0 / rate, k) if rate > 0 else np.full(k, np.inf)
            converts = r.random(k) < (self.c / rate if rate > 0 else 0.0)
        else:
            tau = np.full(k, self.trial_days)
            converts = r.random(k) < self.trial_p
        t_event = t_act + tau
        pql = np.zeros(k, dtype=bool)
        if self.pql is not None:
            pr = self.streams.get("pql")
            u0 = np.maximum(self.usage0.sample(pr, k), 1e-12)
            g = self.usage_g.sample(pr, k)
            with np.errstate(divide="ignore", invalid="ignore"):
                months = np.where(u0 >= self.threshold, 0.0,
                                  np.where(g > 0, np.log(self.threshold / u0) / np.log1p(
                                      np.maximum(g, 1e-12)), np.inf))
            # sales reaches out once usage crossed the threshold and the account has been
            # active min_days_active days
            active = np.maximum(months * MONTH_DAYS, self.min_days)  # days active at the touch
            t_pql = t_act + active
            pql = (t_pql < t_event) & (t_pql <= self.H)
        else:
            t_pql = active = np.full(k, np.inf)
        won = converts & ~pql & (t_event <= self.H)
        taken = np.flatnonzero(pql | won)
        if taken.size > available:  # a bounded market: the earliest accounts get there first
            t_taken = np.where(pql, t_pql, t_event)[taken]
            late = taken[np.argsort(t_taken, kind="stable")[int(available):]]
            pql[late] = won[late] = False
        if self.pql is not None:
            self._route_pqls(t_pql[pql], active[pql], fit[pql], pr)
        self._self_serve(t_sign[won], t_event[won], fit[won], r)

    def _route_pqls(self, t_pql: np.ndarray, active: np.ndarray, fit: np.ndarray,
                    rng: np.random.Generator) -> None:
        """PQLs touched by sales at ``t_pql``, ``active`` days after reaching value."""
        n = t_pql.size
        if n == 0:
            return
        K = self.pipeline.K
        target = np.full(n, self.p_pql)
        target[active < self.early_days] *= 1.0 - self.penalty
        p = np.ones((n, K))
        prod = float(np.prod(self.entry_adv))
        if 0.0 < prod < 1.0:
            with np.errstate(divide="ignore"):
                alpha = np.log(np.maximum(target, 1e-300)) / math.log(prod)
            p[:, self.entry:] = self.entry_adv[None, :] ** alpha[:, None]
        else:
            p[:, -1] = target
        dur = np.empty((n, K))
        for k, s in enumerate(self.m.stages):
            dur[:, k] = np.maximum(as_dist(s.duration).sample(
                self.streams.get("duration", s.name), n), 0.0)
        self.pipeline.add_entering(
            self.entry, t_pql, t_arrive=t_pql, source=SOURCE_ID["pql"], fit=fit,
            acv=np.maximum(self.pql_acv.sample(rng, n), 0.0),
            u=self.streams.get("stage").random((n, K)), dur=dur, p=np.clip(p, 0.0, 1.0),
        )

    def _self_serve(self, t_sign: np.ndarray, t_won: np.ndarray, fit: np.ndarray,
                    rng: np.random.Generator) -> None:
        n = t_won.size
        if n == 0:
            return
        arr = np.maximum(np.round(self.seats.sample(rng, n)), 1.0) * self.price * 12.0
        rows = self.pipeline.add_won(t_won, t_arrive=t_sign, source=SOURCE_ID["signups"],
                                     fit=fit, acv=arr)
        self.book.add_many(t_won, arr, MONTH_DAYS, fit, SOURCE_ID["signups"],
                           np.arange(rows.start, rows.stop), self.ss_h, self.ss_expand,
                           self.ss_early, self.phase)
