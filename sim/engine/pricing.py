"""How a won deal pays: the engine side of ``deal.pricing`` (MODEL.md "How customers pay").

Every pricing model ends in the same customer book; it decides four things:

- the deal value a lead carries through the pipeline (its ``acv`` column: the
  projected first-year value, which the pipeline value and the forecast use);
- at signature, the customer's terms: its booked value (``arr0``), its current
  run rate (``arr``), its monthly volume and volume growth, its cost of revenue,
  and the commission paid at signing and on realised revenue;
- month by month, how the run rate of volume-priced customers moves;
- the cost of revenue (COGS) of each month.

The models:

- ``subscription``: ARR = ACV; COGS = (1 - ``costs.gross_margin``) x revenue.
- ``usage``: ARR = 12 x volume x unit price; each customer's volume grows by its
  own monthly rate (drawn at signature), so expansion is volume growth
  (``retention.expansion_rate_annual`` does not apply). COGS as subscription.
- ``outcome``: ARR = 12 x workload x resolved share x price per outcome. The
  resolved share is a property of the product and climbs linearly from
  ``resolution_start`` at month 0 to ``resolution_target`` at
  ``resolution_months``; every outcome attempted (resolved or not) costs
  ``compute_cost_per_outcome``, which is the whole COGS, so gross margin is
  1 - cost / (resolved share x price) and is negative while the product is
  young. The booked value is the projection a seller makes, at the matured
  resolved share; the new ARR is the run rate billed at signing; revenue is
  what is realised. Commission: at signing on the
  projection, on realised revenue in the customer's first 12 months, or a
  hybrid (``signing_share`` at signing, the rest trailing).
- ``value_share``: ARR = clamp(share x measured gain, floor, ceiling). With a
  baseline period the customer first pays ``baseline_fee`` (one-off revenue)
  and is billed from the baseline's end; without one, ``dispute_probability``
  of contracts go to dispute and collect ``dispute_collection`` of the fee.
- ``services``: an engagement of fee F over D months, started when one of the
  ``max_concurrent`` engagement slots is free (FIFO: ``ServicesDesk``). Each
  completed engagement turns ``productized_share`` of the remaining custom work
  into product: after k engagements the reusable share is R = 1 - (1 - s)^k,
  and the next engagement lasts D x (1 - reuse_saving x R) and costs
  (1 - services_margin) x F x (1 - reuse_saving x R) to deliver. The fee is
  booked at the win and billed evenly over the engagement: services revenue,
  not ARR (the customer's ``arr`` column holds the billing rate, ``recurring``
  is false). At its end the customer continues on a product subscription
  (``follow_on_acv``, the customer's first recurring ARR: new ARR when it starts) with
  ``follow_on_probability``, or leaves (a churned customer with no ARR lost).
"""

from __future__ import annotations

import heapq
import math
from typing import Any

import numpy as np

from sim.engine.params import num
from sim.engine.rng import Streams
from sim.engine.team import MONTH_DAYS
from sim.scenario.distributions import as_dist
from sim.scenario.sales_path import Deal
from sim.scenario.schema import Costs

__all__ = ["Pricing", "ServicesDesk", "Terms"]


class Terms:
    """A new customer's terms (keyword arguments of ``CustomerBook.add``)."""

    __slots__ = ("values",)

    def __init__(self, **values: float | bool):
        self.values = values


class Pricing:
    """One seed's pricing terms for one motion."""

    def __init__(self, deal: Deal, costs: Costs, streams: Streams, signing_rate: float = 0.0):
        self.kind = deal.pricing
        self.gm = num(costs.gross_margin)
        self.rng = streams.get("pricing")
        self.price12 = 0.0  # 12 x price per unit: ARR per unit of monthly volume
        self.cost_per_unit = 0.0  # COGS per unit of monthly volume attempted
        self.r0 = self.r1 = 1.0
        self.r_months = 0.0
        if self.kind == "subscription":
            # (without deal.acv a pilot values each deal: PilotDesk.deal_values)
            self.value = as_dist(deal.acv if deal.acv is not None else 0.0)
        elif self.kind == "usage":
            u = deal.usage
            assert u is not None
            self.price12 = 12.0 * num(u.unit_price)
            self.units = as_dist(u.units_start)
            self.growth = as_dist(u.growth_monthly)
        elif self.kind == "outcome":
            o = deal.outcome
            assert o is not None
            self.r0, self.r1 = num(o.resolution_start), num(o.resolution_target)
            self.r_months = num(o.resolution_months)
            self.price12 = 12.0 * num(o.price_per_outcome)
            self.cost_per_unit = num(o.compute_cost_per_outcome)
            self.units = as_dist(o.workload_per_month)
            self.workload_growth = 1.0 + num(o.workload_growth_monthly)
            self.plan = o.commission_plan
            self.signing_share = num(o.signing_share)
        elif self.kind == "value_share":
            v = deal.value_share
            assert v is not None
            self.gain = as_dist(v.gain_per_year)
            self.share, self.floor, self.ceiling = num(v.share), num(v.floor), num(v.ceiling)
            self.baseline_days = num(v.baseline_days)
            self.baseline_fee = as_dist(v.baseline_fee)
            self.p_dispute = num(v.dispute_probability)
            self.collection = num(v.dispute_collection)
        else:
            s = deal.services
            assert s is not None
            self.value = as_dist(s.fee)
            self.desk = ServicesDesk(s, streams)
        self.volume_priced = self.kind in ("usage", "outcome")

    # -- before the win -------------------------------------------------------------

    def lead_values(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """The deal value (projected first-year value) of ``n`` new leads."""
        if self.kind in ("subscription", "services"):
            return np.maximum(self.value.sample(rng, n), 0.0)
        if self.kind == "usage":
            return np.maximum(self.units.sample(rng, n), 0.0) * self.price12
        if self.kind == "outcome":
            return np.maximum(self.units.sample(rng, n), 0.0) * self.price12 * self.r1
        fee = self.share * np.maximum(self.gain.sample(rng, n), 0.0)
        return np.clip(fee, self.floor, self.ceiling)

    def resolution(self, t: float) -> float:
        """Resolved share of the workload at time ``t`` (1 unless outcome-priced)."""
        if self.kind != "outcome":
            return 1.0
        if self.r_months <= 0:
            return self.r1
        x = min(max(t / (self.r_months * MONTH_DAYS), 0.0), 1.0)
        return self.r0 + (self.r1 - self.r0) * x

    # -- at the win -----------------------------------------------------------------

    def sign(self, t: float, value: float, commission_rate: float) -> tuple[float, Terms, float]:
        """A deal of ``value`` won at ``t``: (start, terms, commission at signing).

        ``start`` is when billing starts (later than ``t`` after a value-share
        baseline period, or when a services engagement waits for a free slot).
        """
        kind = self.kind
        if kind == "subscription":
            return t, Terms(arr0=value, arr=value, cogs_share=1.0 - self.gm), commission_rate * value
        if kind == "usage":
            units = value / self.price12 if self.price12 > 0 else 0.0
            g = 1.0 + float(self.growth.sample(self.rng, 1)[0])
            return t, Terms(arr0=value, arr=value, units=units, unit_growth=g, expand=0.0,
                            contract=0.0,
                            price12=self.price12, cogs_share=1.0 - self.gm), commission_rate * value
        if kind == "outcome":
            per_unit = self.price12 * self.r1
            units = value / per_unit if per_unit > 0 else 0.0
            arr = units * self.price12 * self.resolution(t)
            at_signing = {"signing": 1.0, "realized": 0.0, "hybrid": self.signing_share}[self.plan]
            terms = Terms(arr0=value, arr=arr, units=units, unit_growth=self.workload_growth,
                          expand=0.0, contract=0.0, cogs_share=0.0, price12=self.price12,
                          resolves=True, unit_cost=self.cost_per_unit, new_arr=arr,
                          comm_trailing=commission_rate * (1.0 - at_signing))
            return t, terms, commission_rate * at_signing * value
        if kind == "value_share":
            arr = value
            start = t + self.baseline_days
            if self.baseline_days <= 0 and self.rng.random() < self.p_dispute:
                arr = value * self.collection
            return (start, Terms(arr0=value, arr=arr, new_arr=arr, cogs_share=1.0 - self.gm),
                    commission_rate * value)
        start, terms = self.desk.engage(t, value, self.gm)
        return start, terms, commission_rate * value

    def baseline(self) -> float:
        """The one-off fee of a value-share baseline period (0 without one)."""
        if self.kind != "value_share" or self.baseline_days <= 0:
            return 0.0
        return max(float(self.baseline_fee.sample(self.rng, 1)[0]), 0.0)


def reprice_volume(C: Any, n: int, overlap: np.ndarray, b: float,
                   pricing: Pricing | None) -> tuple[float, float, float]:
    """Close the month (a, b] for customers who pay by volume (usage, outcomes).

    ``C`` is the customer table (first ``n`` rows), ``overlap`` each customer's days live
    in the month. Returns the month's unit cost, then the expansion and contraction of
    the repricing: every live volume customer's units grow by its monthly factor and its
    ARR becomes units x price a year (x the resolution rate at ``b`` for outcome pricing,
    from ``pricing``, the latest outcome pricing). Contraction is added to each
    customer's ``contracted`` (GRR).
    """
    units = C.units[:n]
    cost = float((C.unit_cost[:n] * units * overlap).sum()) / MONTH_DAYS
    end, arr = C.end[:n], C.arr[:n]
    grow = np.flatnonzero((end == math.inf) & (units > 0) & (C.start[:n] <= b))
    if not grow.size:
        return cost, 0.0, 0.0
    units[grow] *= C.unit_growth[grow]
    r = 1.0 if pricing is None else pricing.resolution(b)
    new = units[grow] * C.price12[grow] * np.where(C.resolves[grow], r, 1.0)
    delta = new - arr[grow]
    arr[grow] = new
    C.contracted[grow] += np.maximum(-delta, 0.0)
    return cost, float(delta[delta > 0].sum()), float(-delta[delta < 0].sum())


class ServicesDesk:
    """Engagement slots (FIFO) and the productisation each finished engagement leaves behind."""

    def __init__(self, services: object, streams: Streams):
        from sim.scenario.pricing import Services

        assert isinstance(services, Services)
        s = services
        self.capacity = int(s.max_concurrent)
        self.duration = as_dist(s.duration_months)
        self.margin = num(s.services_margin)
        self.s = num(s.productized_share)
        self.saving = num(s.reuse_saving)
        self.p_follow = num(s.follow_on_probability)
        self.follow_acv = as_dist(s.follow_on_acv)
        self.rng = streams.get("services")
        self.free_at: list[float] = [0.0] * self.capacity  # heap of slot free times
        self.ends: list[float] = []  # end times of engagements scheduled so far
        self.intervals: list[tuple[float, float]] = []  # (start, end) of every engagement

    def reusable_share(self, t: float) -> float:
        """R = 1 - (1 - s)^k, k the engagements finished by ``t``."""
        k = sum(1 for e in self.ends if e <= t)
        return 1.0 - (1.0 - self.s) ** k

    def engage(self, t_won: float, fee: float, gm: float) -> tuple[float, Terms]:
        start = max(t_won, heapq.heappop(self.free_at))
        reuse = self.saving * self.reusable_share(start)
        months = max(float(self.duration.sample(self.rng, 1)[0]), 1e-3) * (1.0 - reuse)
        days = months * MONTH_DAYS
        heapq.heappush(self.free_at, start + days)
        self.ends.append(start + days)
        self.intervals.append((start, start + days))
        follow = float(self.follow_acv.sample(self.rng, 1)[0]) if self.rng.random() < self.p_follow else 0.0
        terms = Terms(arr0=fee, arr=fee * 365.0 / days, term=days, engagement=True, recurring=False,
                      cogs_share=(1.0 - self.margin) * (1.0 - reuse), follow_on=max(follow, 0.0),
                      follow_cogs=1.0 - gm, h=0.0, early_p=0.0, new_arr=max(follow, 0.0),
                      recurring_from=start + days)
        return start, terms

    def custom_to_productised(self, t: float) -> float:
        """Custom work per unit of productised work in the next engagement at ``t``."""
        r = self.reusable_share(t)
        return (1.0 - r) / r if r > 0 else math.inf
