"""Customers after handoff: early churn, renewals, churn hazard, expansion, CS load.

Every customer renews on its anniversaries: every month for monthly contracts,
every 365 days for annual ones. At a renewal past the early window it churns
with probability ``1 - (1 - h) ** (term_months)`` (h the monthly hazard, times
the bad-fit and CS-overload multipliers). A monthly contract therefore decays
exactly as ``(1 - h) ** months`` and an annual one decides once a year with the
same annual odds.

A customer that stays has two separate movements at the renewal, expansion and
contraction, each from its own draw (``sim.engine.movements``).

Early churn is decided once per customer at the first month end after the win:
with probability ``early_churn`` times the multipliers that apply (bad fit,
poor handoff, founder-closed without criteria, mis-sold partner referral), the
customer leaves at a uniform time within the early window.

Every draw is the customer's own (``sim.engine.keyed``): a key fixed by its
identity (the lead it came from, or its place among the initial customers) and
a counter (its renewal number), never a position in a block of the month's
draws. Raising churn therefore moves churn only: a customer that stays in both
runs sees the same expansion and contraction, and the one that leaves in both
leaves at the same renewal or earlier.

The book is processed a month at a time, vectorised over customers, at each
month end (``close_month``); the month's revenue is the ARR actually live in it,
day by day (``ARR x days / 365``). ``cohort_snapshot`` marks the retention
cohort (the customers live 12 months before the end): their ARR then, and
from then on each one's contraction is summed (``contracted``) for GRR.

How a customer pays is ``sim.engine.pricing``: the book keeps, per customer,
the terms it was signed on (volume and its growth for usage and outcome
pricing, the share of revenue that is cost of revenue, the platform's revenue
share, the commission still owed on realised revenue, and for a services
engagement its follow-on subscription). At each month end, after renewals, a
volume-priced customer's volume grows and its run rate is re-priced:
``ARR = 12 x volume x price x resolved share``; the change counts as expansion
or contraction.
"""

from __future__ import annotations

import math

import numpy as np

from sim.engine.keyed import CHURN, EARLY, EARLY_TIME, entity_keys, keyed_uniforms
from sim.engine.movements import movement_terms, renewal_movements
from sim.engine.params import num
from sim.engine.pricing import Pricing, reprice_volume
from sim.engine.records import Table
from sim.engine.sources import SOURCE_ID
from sim.engine.team import MONTH_DAYS
from sim.scenario.sales_path import Handoff
from sim.scenario.schema import Retention

__all__ = ["CustomerBook"]

INF = math.inf
LEAD_SPAN = 1 << 40  # customer id = phase x LEAD_SPAN + lead row


class CustomerBook:
    def __init__(self, retention: Retention, handoff: Handoff, rng_early: np.random.Generator,
                 rng_renew: np.random.Generator, gross_margin: float = 0.8):
        self.pricing: Pricing | None = None  # the latest outcome pricing: its resolution curve
        self.gm = gm = gross_margin
        self.h = num(retention.monthly_churn)
        self.early = num(retention.early_churn)
        self.window = num(retention.early_window_days)
        self.moves = moves = movement_terms(retention)
        self.bad_fit_mult = num(retention.bad_fit_multiplier)
        self.handoff_mult = (1.0 if handoff.acceptance_criteria
                             else num(retention.poor_handoff_multiplier))
        self.apc = None if retention.accounts_per_csm is None else num(retention.accounts_per_csm)
        self.overload_sens = num(retention.overload_churn_sensitivity)
        # each customer's draws come from its own key (sim.engine.keyed), keyed from
        # these bases: one for customers signed in the run, one for initial customers
        self.key_base = int(rng_renew.integers(0, 2**63))
        self.initial_base = int(rng_early.integers(0, 2**63))
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
                "expand": (np.float64, (), moves["expand"]),  # annual expansion rate
                "contract": (np.float64, (), moves["contract"]),  # annual contraction rate
                "expand_share": (np.float64, (), moves["expand_share"]),
                "contract_share": (np.float64, (), moves["contract_share"]),
                "early_p": (np.float64, (), self.early),
                # pricing terms (sim.engine.pricing)
                "units": (np.float64, (), 0.0),  # monthly volume (usage, outcome)
                "unit_growth": (np.float64, (), 1.0),  # its monthly multiplier
                "price12": (np.float64, (), 0.0),  # ARR per unit of monthly volume
                "unit_cost": (np.float64, (), 0.0),  # COGS per unit of volume attempted
                "resolves": (np.bool_, (), False),  # outcome-priced: billed on the resolved share
                "phase": (np.int8, (), 0),  # phase of the motion the customer signed in
                "cogs_share": (np.float64, (), 1.0 - gm),  # cost of revenue per unit revenue
                "rev_share": (np.float64, (), 0.0),  # platform's share of revenue
                "comm_trailing": (np.float64, (), 0.0),  # commission rate on realised revenue
                "engagement": (np.bool_, (), False),  # a services engagement still running
                "recurring": (np.bool_, (), True),  # counts in ARR (an engagement's fees do not)
                "follow_on": (np.float64, (), 0.0),  # ARR after the engagement (0: leaves)
                "follow_cogs": (np.float64, (), 1.0 - gm),
                # common random numbers per customer, and the retention cohort's contraction
                "key": (np.uint64, (), 0),
                "renewals": (np.int64, (), 0),  # renewals the customer has stayed through
                "contracted": (np.float64, (), 0.0),  # contraction since the cohort snapshot
                # new recurring ARR and when it starts (NaN: arr0 at the start); it
                # differs for a services engagement (its follow-on, at its end) and
                # for outcome pricing (the run rate billed at signing, not arr0)
                "new_arr": (np.float64, (), np.nan),
                "recurring_from": (np.float64, (), np.nan),
            },
            capacity=1024,
            prefill=True,
        )
        self._decided = 0  # customers whose early churn is decided
        self._pending: list[tuple[float, float, float, bool, int, int, float]] = []
        self._pending_terms: list[dict[str, float | bool] | None] = []
        self._pending_with_terms = False  # some pending customer has terms
        self._fees: list[tuple[float, float]] = []  # one-off fees (value-share baselines)
        self.n_live = 0
        self._ended_n = 0  # engagements ended without a follow-on, this month
        # ended engagements' expansion, contraction, revenue correction, and the
        # engagement billing (revenue, its cost) after their end that ``rev_c`` holds
        self._eng_moves = [0.0, 0.0, 0.0, 0.0, 0.0]
        self.self_serve_id = SOURCE_ID["signups"]
        self.has_self_serve = False  # some customer came through self-serve
        # shortcuts of the month close, exact because they skip only arithmetic that
        # cannot change a value: no customer expands or contracts at renewal; no
        # customer has a chance of early churn
        self._no_growth = moves["expand"] == 0.0 and moves["contract"] == 0.0
        self._no_early = self.early <= 0.0
        self.volume_priced = False  # some customer pays by volume
        self.detailed = False  # some customer is on terms other than the plain subscription

    def add_many(self, t: np.ndarray, arr: np.ndarray, term: float, fit: np.ndarray,
                 source: int, lead: np.ndarray, h: float, expand: float,
                 early_p: float, phase: int = 0) -> None:
        """A block of customers with their own churn, expansion and early-churn terms
        (self-serve accounts: no contraction; every one moves by the expansion rate)."""
        n = t.size
        if n == 0:
            return
        self.flush()
        rows = self.C.append(n, start=t, arr0=arr, arr=arr, next_renewal=t + term, term=term,
                             fit=fit, source=source, lead=lead, h=h, expand=expand, contract=0.0,
                             expand_share=1.0, contract_share=1.0, early_p=early_p, phase=phase)
        self._set_keys(rows)
        if expand != 0.0:
            self._no_growth = False
        if early_p > 0.0:
            self._no_early = False
        self.has_self_serve |= source == self.self_serve_id
        self.n_live += n

    def add(self, t: float, arr: float, contract: str, fit: bool, source: int, lead: int,
            early_mult: float = 1.0, terms: dict[str, float | bool] | None = None) -> None:
        """A new customer; ``early_mult`` multiplies its early-churn odds (founder, partner).

        ``terms`` are the pricing terms beyond a plain subscription (``Pricing.sign``);
        ``arr`` is the booked value when they are given. Single customers arrive from
        the event loop; they wait in a list and join the table as one block at the
        next month end (or when the book is read).
        """
        term = MONTH_DAYS if contract == "monthly" else 365.0
        self._pending.append((t, arr, term, fit, source, lead, early_mult))
        self._pending_terms.append(terms)
        if terms is not None:
            self.detailed = self._pending_with_terms = True
        self.has_self_serve |= source == self.self_serve_id
        self.n_live += 1

    def use_pricing(self, pricing: Pricing) -> None:
        """A path signs customers on ``pricing`` from now on."""
        if pricing.volume_priced:
            self.volume_priced = True
        if pricing.kind == "outcome":
            self.pricing = pricing
        if pricing.kind != "subscription":
            self.detailed = True

    def add_fee(self, t: float, amount: float) -> None:
        """A one-off fee billed at ``t`` (revenue, not ARR)."""
        self._fees.append((t, amount))

    def flush(self) -> None:
        """Move the customers added one by one into the table."""
        if not self._pending:
            return
        # one float array for the pending rows (their ints and flags are exact as floats;
        # each column takes its own dtype as it is stored)
        a = np.array(self._pending, dtype=np.float64)
        t, arr, term = a[:, 0], a[:, 1], a[:, 2]
        terms = self._pending_terms
        self._pending.clear()
        self._pending_terms = []
        rows = self.C.append(t.size, start=t, arr0=arr, arr=arr, next_renewal=t + term, term=term,
                             fit=a[:, 3] != 0.0, source=a[:, 4], lead=a[:, 5], early_mult=a[:, 6])
        if self._pending_with_terms:
            self._pending_with_terms = False
            C = self.C
            for i, x in enumerate(terms):
                if not x:
                    continue
                r = rows.start + i
                for k, v in x.items():
                    C.column(k)  # (a typo in a term name fails here)
                    getattr(C, k)[r] = v
                if x.get("expand", 0.0) != 0.0 or x.get("contract", 0.0) != 0.0:
                    self._no_growth = False
                if x.get("early_p", 0.0) > 0.0:
                    self._no_early = False
                if "term" in x:
                    C.next_renewal[r] = C.start[r] + float(x["term"])
        self._set_keys(rows)

    def _set_keys(self, rows: slice) -> None:
        """Each new customer's key: its identity (phase and lead row), never its place in
        the table, so a customer keeps its draws when other customers come or go."""
        C = self.C
        ids = C.phase[rows].astype(np.int64) * LEAD_SPAN + C.lead[rows]
        C.key[rows] = entity_keys(self.key_base, ids)

    def add_initial(self, start: np.ndarray, arr: np.ndarray, term: np.ndarray) -> None:
        """Customers signed before time zero; renewals continue on their anniversaries."""
        n = start.size
        if n == 0:
            return
        age = -start
        next_ren = start + (np.floor(age / term) + 1.0) * term
        # early churn only for the part of the window still ahead of them
        left = np.clip(self.window - age, 0.0, None)
        key = entity_keys(self.initial_base, np.arange(n))
        p = self.early * self.handoff_mult * (left / max(self.window, 1e-9))
        early = np.where(keyed_uniforms(key, EARLY) < p, keyed_uniforms(key, EARLY_TIME) * left, INF)
        self.C.append(n, start=start, arr0=arr, arr=arr, next_renewal=next_ren, term=term,
                      early_at=early, initial=True, key=key)
        self._decided = self.C.n
        self.n_live += n

    def _decide_early(self) -> None:
        self.flush()
        C = self.C
        rows = slice(self._decided, C.n)
        n = C.n - self._decided
        if n <= 0:
            return
        key = C.key[rows]
        mult = np.where(C.fit[rows], 1.0, self.bad_fit_mult) * self.handoff_mult * C.early_mult[rows]
        p = np.minimum(C.early_p[rows] * mult, 1.0)
        C.early_at[rows] = np.where(keyed_uniforms(key, EARLY) < p,
                                    C.start[rows] + keyed_uniforms(key, EARLY_TIME) * self.window,
                                    INF)
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
        if self.detailed:  # terms at the month's start (an engagement ending changes them)
            one_off_pre = ~C.recurring[:n]
            cogs_pre = C.cogs_share[:n].copy()
        churned = 0.0
        churned_n = 0
        expansion = 0.0
        contraction = 0.0
        extra_rev = extra_ss = 0.0  # revenue of moves within the month: sales, self-serve
        # early churn
        e = None if self._no_early else np.flatnonzero((end == INF) & (C.early_at[:n] < b))
        if e is not None and e.size:
            end[e] = C.early_at[e]
            churned += float(arr[e].sum())
            churned_n += e.size
        # CS overload raises the hazard
        overload = 1.0
        if self.apc is not None:
            capacity = max(n_csm, 0) * self.apc
            load = self.n_live / capacity if capacity > 0 else math.inf
            excess = load - 1.0 if math.isfinite(load) else 10.0  # no CSM at all: 10x over
            overload = 1.0 + self.overload_sens * max(0.0, excess)
        nr = C.next_renewal[:n]
        due = np.flatnonzero((end == INF) & (nr <= b))
        while due.size:
            if self.detailed:
                due = self._end_engagements(due, b)
            t_ren = nr[due]
            term = C.term[due]
            h = C.h[due]
            if overload != 1.0:
                h = h * overload
            if self.bad_fit_mult != 1.0:
                h = h * np.where(C.fit[due], 1.0, self.bad_fit_mult)
            p_churn = 1.0 - (1.0 - np.minimum(h, 1.0)) ** (term / MONTH_DAYS)
            if self.window > 0.0:  # (renewals are at least a term after the start)
                p_churn = np.where(t_ren < start[due] + self.window, 0.0, p_churn)
            k = C.renewals[due]
            go = keyed_uniforms(C.key[due], CHURN, k) < p_churn
            gone = due[go]
            if gone.size:
                end[gone] = t_ren[go]
                churned += float(arr[gone].sum())
                churned_n += gone.size
            stay = due[~go]
            if stay.size and not self._no_growth:
                up, down = renewal_movements(C, stay, k[~go])
                move = up - down
                arr[stay] += move
                expansion += float(up.sum())
                down_total = float(down.sum())
                if down_total:
                    C.contracted[stay] += down
                    contraction += down_total
                gain = move * (b - nr[stay])
                if self.has_self_serve:  # a self-serve account's move is self-serve revenue
                    ss = C.source[stay] == self.self_serve_id
                    extra_ss += float(gain[ss].sum()) / 365.0
                    gain = gain[~ss]
                extra_rev += float(gain.sum()) / 365.0
            nr[stay] += term[~go]
            C.renewals[stay] += 1
            due = stay[nr[stay] <= b]
        if self.detailed:  # engagements that ended this month (``_end_engagements``)
            churned_n += self._ended_n
            expansion += self._eng_moves[0]
            contraction += self._eng_moves[1]
            extra_rev += self._eng_moves[2]
            eng_after_end, eng_cost_after_end = self._eng_moves[3], self._eng_moves[4]
            self._ended_n, self._eng_moves = 0, [0.0, 0.0, 0.0, 0.0, 0.0]
        self.n_live -= churned_n
        overlap = np.maximum(np.minimum(end, b) - np.maximum(start, a), 0.0)
        rev_c = arr_pre * overlap * live_at_a / 365.0
        # the two segments, each its own customers' revenue (fees are sales'); total: their sum
        ss_c = C.source[:n] == self.self_serve_id if self.has_self_serve else None
        sales = float((rev_c if ss_c is None else rev_c[~ss_c]).sum()) + extra_rev
        rev_ss = 0.0 if ss_c is None else float(rev_c[ss_c].sum()) + extra_ss
        flows = {"cogs": 0.0, "platform_fees": 0.0, "commission_trailing": 0.0, "fees": 0.0,
                 "revenue_services": 0.0, "cogs_services": 0.0}
        if self._fees:
            fees = sum(x for t, x in self._fees if a < t <= b)
            self._fees = [(t, x) for t, x in self._fees if t > b]
            flows["fees"] = fees
            sales += fees
        revenue = rev_ss + sales
        if self.detailed:
            # an engagement's billing is services revenue at its own cost, up to its end;
            # a follow-on subscription from then on is recurring at the plain margin
            eng_rev = float(rev_c[one_off_pre].sum()) - eng_after_end
            eng_cost = float((rev_c * cogs_pre)[one_off_pre].sum()) - eng_cost_after_end
            flows["revenue_services"], flows["cogs_services"] = eng_rev, eng_cost
            flows["cogs_one_off"] = eng_cost + flows["fees"] * (1.0 - self.gm)
            flows["cogs"] = (float((rev_c * cogs_pre)[~one_off_pre].sum()) + eng_cost
                             + (extra_rev + extra_ss + eng_after_end + flows["fees"])
                             * (1.0 - self.gm))
            flows["platform_fees"] = float((rev_c * C.rev_share[:n]).sum())
            young = (a - start) < 365.0
            flows["commission_trailing"] = float((rev_c * C.comm_trailing[:n] * young).sum())
            if self.volume_priced:
                unit_cost, grew, shrank = reprice_volume(C, n, overlap, b, self.pricing)
                flows["cogs"] += unit_cost
                expansion += grew
                contraction += shrank
        else:  # every customer on the same subscription terms
            flows["cogs"] = revenue * (1.0 - self.gm)
            flows["cogs_one_off"] = flows["fees"] * (1.0 - self.gm)
        live_b = (start <= b) & (end > b)
        in_arr = live_b & C.recurring[:n] if self.detailed else live_b
        flows["revenue_sales"], flows["revenue_self_serve"] = sales, rev_ss
        return {
            "revenue": revenue,
            "arr": float(arr[in_arr].sum()),
            "customers": float(np.count_nonzero(live_b)),
            "churned_arr": churned,
            "churned_customers": float(churned_n),
            "expansion_arr": expansion,
            "contraction_arr": contraction,
            "cs_overload": overload,
            **flows,
        }

    def _end_engagements(self, due: np.ndarray, b: float) -> np.ndarray:
        """Engagements reaching their end: go on to the follow-on subscription, or leave.

        Returns the due customers that renew the ordinary way.
        """
        C = self.C
        eng = C.engagement[due]
        if not eng.any():
            return due
        done = due[eng]
        t_end = C.next_renewal[done]
        follow = C.follow_on[done]
        leave = done[follow <= 0]
        if leave.size:  # the customer leaves; engagement fees were never ARR
            C.end[leave] = C.next_renewal[leave]
            self._ended_n += leave.size
        go_on = done[follow > 0]
        if go_on.size:
            old = C.arr[go_on]
            new = C.follow_on[go_on]
            after_end = old * (b - t_end[follow > 0]) / 365.0  # billed in ``rev_c``, not owed
            self._eng_moves[3] += float(after_end.sum())
            self._eng_moves[4] += float((after_end * C.cogs_share[go_on]).sum())
            C.arr[go_on] = new
            C.engagement[go_on] = False
            C.recurring[go_on] = True
            C.cogs_share[go_on] = C.follow_cogs[go_on]
            C.h[go_on] = self.h
            for name, v in self.moves.items():
                getattr(C, name)[go_on] = v
            if self.moves["expand"] != 0.0 or self.moves["contract"] != 0.0:
                self._no_growth = False
            C.term[go_on] = 365.0
            # the customer's first recurring ARR: new ARR (``new_arr`` column), not expansion
            self._eng_moves[2] += float(((new - old) * (b - t_end[follow > 0]) / 365.0).sum())
            C.next_renewal[go_on] += 365.0
        return due[~eng]

    def cohort_snapshot(self, t: float) -> np.ndarray:
        """The retention cohort at ``t``: current ARR of every customer live at ``t`` (0
        for the others); each customer's contraction is summed from ``t`` on."""
        self.flush()
        C = self.C
        n = C.n
        live = (C.start[:n] <= t) & (C.end[:n] > t) & C.recurring[:n]
        C.contracted[:n] = 0.0
        return np.where(live, C.arr[:n], 0.0)
