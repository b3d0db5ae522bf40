"""Customers after handoff: early churn, renewals, churn hazard, expansion, CS load.

Every customer renews on its anniversaries: every month for monthly contracts,
every 365 days for annual ones. At a renewal past the early window it churns
with probability ``1 - (1 - h) ** (term_months)`` (h the monthly hazard, times
the bad-fit and CS-overload multipliers); otherwise its ARR is multiplied by
``((1 + expansion) * (1 - contraction)) ** (term_years)``. A monthly
contract therefore decays exactly as ``(1 - h) ** months`` and an annual one
decides once a year with the same annual odds.

Early churn is decided once per customer at the first month end after the win:
with probability ``early_churn`` times the multipliers that apply (bad fit,
poor handoff, founder-closed without criteria, mis-sold partner referral), the
customer leaves at a uniform time within the early window.

The book is processed a month at a time, vectorised over customers, at each
month end (``close_month``); the month's revenue is the ARR actually live in it,
day by day (``ARR x days / 365``).
"""

from __future__ import annotations

import math

import numpy as np

from sim.engine.params import num
from sim.engine.records import Table
from sim.engine.team import MONTH_DAYS
from sim.scenario.schema import Handoff, Retention

__all__ = ["CustomerBook"]

INF = math.inf


class CustomerBook:
    def __init__(self, retention: Retention, handoff: Handoff, rng_early: np.random.Generator,
                 rng_renew: np.random.Generator):
        self.h = num(retention.monthly_churn)
        self.early = num(retention.early_churn)
        self.window = num(retention.early_window_days)
        self.growth_per_year = (1.0 + num(retention.expansion_rate_annual)) * (
            1.0 - num(retention.contraction_rate_annual)
        )
        self.bad_fit_mult = num(retention.bad_fit_multiplier)
        self.handoff_mult = 1.0 if handoff.acceptance_criteria else num(
            retention.poor_handoff_multiplier
        )
        self.apc = None if retention.accounts_per_csm is None else num(retention.accounts_per_csm)
        self.overload_sens = num(retention.overload_churn_sensitivity)
        self.rng_early = rng_early
        self.rng_renew = rng_renew
        self.C = Table(
            {
                "start": (np.float64, (), np.nan),
                "arr0": (np.float64, (), 0.0),  # ARR at signature (first-year value)
                "arr": (np.float64, (), 0.0),  # current ARR
                "end": (np.float64, (), INF),  # churn time (inf while live)
                "next_renewal": (np.float64, (), INF),
                "term": (np.float64, (), 365.0),  # days between renewals
                "fit": (np.bool_, (), True),
                "source": (np.int8, (), -1),
                "lead": (np.int64, (), -1),  # row in the lead table (-1 for initial customers)
                "early_at": (np.float64, (), INF),
                "initial": (np.bool_, (), False),
                "early_mult": (np.float64, (), 1.0),
                # per-customer terms (self-serve accounts have their own)
                "h": (np.float64, (), self.h),
                "growth": (np.float64, (), self.growth_per_year),
                "early_p": (np.float64, (), self.early),
            },
            capacity=1024,
        )
        self._decided = 0  # customers whose early churn is decided
        self._pending: list[tuple[float, float, float, bool, int, int, float]] = []
        self.n_live = 0

    def add_many(self, t: np.ndarray, arr: np.ndarray, term: float, fit: np.ndarray,
                 source: int, lead: np.ndarray, h: float, growth_per_year: float,
                 early_p: float) -> None:
        """A block of customers with their own churn, growth and early-churn terms."""
        n = t.size
        if n == 0:
            return
        self.flush()
        self.C.append(n, start=t, arr0=arr, arr=arr, next_renewal=t + term, term=term, fit=fit,
                      source=source, lead=lead, h=h, growth=growth_per_year, early_p=early_p)
        self.n_live += n

    def add(self, t: float, arr: float, contract: str, fit: bool, source: int, lead: int,
            early_mult: float = 1.0) -> None:
        """A new customer; ``early_mult`` multiplies its early-churn odds (founder, partner).

        Single customers arrive from the event loop; they wait in a list and join the
        table as one block at the next month end (or when the book is read).
        """
        term = MONTH_DAYS if contract == "monthly" else 365.0
        self._pending.append((t, arr, term, fit, source, lead, early_mult))
        self.n_live += 1

    def flush(self) -> None:
        """Move the customers added one by one into the table."""
        if not self._pending:
            return
        t, arr, term, fit, source, lead, mult = (np.array(c) for c in zip(*self._pending,
                                                                          strict=True))
        self._pending.clear()
        self.C.append(t.size, start=t, arr0=arr, arr=arr, next_renewal=t + term, term=term,
                      fit=fit, source=source, lead=lead, early_mult=mult)

    def add_initial(self, start: np.ndarray, arr: np.ndarray, term: np.ndarray) -> None:
        """Customers signed before time zero; renewals continue on their anniversaries."""
        n = start.size
        if n == 0:
            return
        age = -start
        next_ren = start + (np.floor(age / term) + 1.0) * term
        # early churn only for the part of the window still ahead of them
        left = np.clip(self.window - age, 0.0, None)
        u = self.rng_early.random((n, 2))
        p = self.early * self.handoff_mult * (left / max(self.window, 1e-9))
        early = np.where(u[:, 0] < p, u[:, 1] * left, INF)
        self.C.append(n, start=start, arr0=arr, arr=arr, next_renewal=next_ren, term=term,
                      early_at=early, initial=True)
        self._decided = self.C.n
        self.n_live += n

    def _decide_early(self) -> None:
        self.flush()
        C = self.C
        rows = slice(self._decided, C.n)
        n = C.n - self._decided
        if n <= 0:
            return
        u = self.rng_early.random((n, 2))
        mult = np.where(C.fit[rows], 1.0, self.bad_fit_mult) * self.handoff_mult * C.early_mult[rows]
        p = np.minimum(C.early_p[rows] * mult, 1.0)
        C.early_at[rows] = np.where(u[:, 0] < p, C.start[rows] + u[:, 1] * self.window, INF)
        self._decided = C.n

    def close_month(self, a: float, b: float, n_csm: int) -> dict[str, float]:
        """Decide everything due in the month (a, b]; return its flows and end stocks.

        A renewal falling exactly at ``b`` belongs to this month, so a customer
        who leaves then is not counted in the month-end stocks.
        """
        self._decide_early()
        C = self.C
        n = C.n
        start, end, arr = C.start[:n], C.end[:n], C.arr[:n]
        live_at_a = end > a
        arr_pre = arr.copy()
        churned = 0.0
        churned_n = 0
        expansion = 0.0
        contraction = 0.0
        extra_rev = 0.0
        # early churn
        e = np.flatnonzero((end == INF) & (C.early_at[:n] < b))
        if e.size:
            end[e] = C.early_at[e]
            churned += float(arr[e].sum())
            churned_n += e.size
        # CS overload raises the hazard
        overload = 1.0
        if self.apc is not None:
            capacity = max(n_csm, 0) * self.apc
            load = self.n_live / capacity if capacity > 0 else math.inf
            overload = 1.0 + self.overload_sens * max(0.0, load - 1.0) if math.isfinite(load) else (
                1.0 + self.overload_sens * 10.0
            )
        nr = C.next_renewal[:n]
        due = np.flatnonzero((end == INF) & (nr <= b))
        while due.size:
            t_ren = nr[due]
            term = C.term[due]
            in_window = t_ren < start[due] + self.window
            h = np.minimum(C.h[due] * overload * np.where(C.fit[due], 1.0, self.bad_fit_mult), 1.0)
            p_churn = np.where(in_window, 0.0, 1.0 - (1.0 - h) ** (term / MONTH_DAYS))
            u = self.rng_renew.random(due.size)
            go = u < p_churn
            gone = due[go]
            if gone.size:
                end[gone] = t_ren[go]
                churned += float(arr[gone].sum())
                churned_n += gone.size
            stay = due[~go]
            if stay.size:
                old = arr[stay]
                new = old * C.growth[stay] ** (C.term[stay] / 365.0)
                arr[stay] = new
                delta = new - old
                expansion += float(delta[delta > 0].sum())
                contraction += float(-delta[delta < 0].sum())
                extra_rev += float((delta * (b - nr[stay]) / 365.0).sum())
                nr[stay] += C.term[stay]
            due = stay[nr[stay] <= b]
        self.n_live -= churned_n
        overlap = np.clip(np.minimum(end, b) - np.maximum(start, a), 0.0, None)
        revenue = float((arr_pre * overlap * live_at_a).sum()) / 365.0 + extra_rev
        live_b = (start <= b) & (end > b)
        return {
            "revenue": revenue,
            "arr": float(arr[live_b].sum()),
            "customers": float(live_b.sum()),
            "churned_arr": churned,
            "churned_customers": float(churned_n),
            "expansion_arr": expansion,
            "contraction_arr": contraction,
            "cs_overload": overload,
        }

    def arr_snapshot(self, t: float) -> np.ndarray:
        """Current ARR of every customer live at ``t`` (0 for the others)."""
        self.flush()
        C = self.C
        n = C.n
        live = (C.start[:n] <= t) & (C.end[:n] > t)
        return np.where(live, C.arr[:n], 0.0)
