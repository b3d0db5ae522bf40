"""How a won customer pays (``deal.pricing``): the sections of each pricing model.

MODEL.md "How customers pay". ``subscription`` needs only ``deal.acv``; every
other model has its own section under ``deal`` (``deal.usage``, ``deal.outcome``,
``deal.value_share``, ``deal.services``), filled with defaults when omitted.
The engine side is ``sim.engine.pricing``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from sim.scenario.schema_types import Draw, NonNeg, Param, Prob, Strict

__all__ = ["PRICING_MODELS", "Outcome", "Services", "Usage", "ValueShare"]

PRICING_MODELS = ("subscription", "usage", "outcome", "value_share", "services")


class Usage(Strict):
    """Volume x unit price; ARR is the annualised run rate; expansion is volume growth."""

    units_start: Draw = Field(default=1000.0, description="monthly volume at signature, per customer")
    growth_monthly: Draw = Field(
        default=0.03, description="monthly growth of a customer's volume, drawn per customer")
    unit_price: NonNeg = Field(default=1.0, description="price per unit of volume")


class Outcome(Strict):
    """Pay per outcome: workload x resolved share x price; compute per attempt is COGS."""

    workload_per_month: Draw = Field(
        default=20000.0, description="outcomes attempted per month (e.g. tickets), per customer")
    workload_growth_monthly: Param = Field(default=0.0, description="monthly growth of the workload")
    resolution_start: Prob = Field(
        default=0.3, description="share of the workload the product resolves at month 0")
    resolution_target: Prob = Field(
        default=0.7, description="share resolved once the product has matured")
    resolution_months: NonNeg = Field(
        default=18.0, description="months for the resolved share to climb linearly to the target")
    price_per_outcome: NonNeg = Field(default=0.5, description="price of one resolved outcome (002: $0.50)")
    compute_cost_per_outcome: NonNeg = Field(
        default=0.3,
        description="compute cost of each outcome attempted, resolved or not (002: $0.20-0.80)")
    commission_plan: Literal["signing", "realized", "hybrid"] = Field(
        default="hybrid",
        description="commission at signing on the projected first-year value, on realised "
                    "first-year revenue, or both (002: ~30% at signing / 70% trailing)")
    signing_share: Prob = Field(default=0.3, description="share of a hybrid commission paid at signing")

    @model_validator(mode="after")
    def _climbs(self) -> Outcome:
        from sim.scenario.schema_types import LocatedError, mean_of

        if mean_of(self.resolution_start) <= 0:
            raise LocatedError(("resolution_start",),
                               "expected a resolved share above 0 (nothing resolved earns nothing)")
        return self


class ValueShare(Strict):
    """A share of the customer's measured gain, between a floor and a ceiling."""

    gain_per_year: Draw = Field(
        default=20_000_000.0, description="measured annual gain at the customer, per deal")
    share: Prob = Field(default=0.15, description="vendor's share of the measured gain (002: 15%)")
    floor: NonNeg = Field(default=1_000_000.0, description="minimum annual fee")
    ceiling: NonNeg = Field(default=6_000_000.0, description="maximum annual fee")
    baseline_days: NonNeg = Field(
        default=60.0,
        description="paid baseline measurement before value is billed (002: 30-90 days); "
                    "0 = no baseline")
    baseline_fee: Draw = Field(default=150_000.0, description="fee of the baseline period (one-off)")
    dispute_probability: Prob = Field(
        default=0.4, description="without a baseline: share of contracts that go to dispute")
    dispute_collection: Prob = Field(
        default=0.5, description="share of the fee collected on a disputed contract")

    @model_validator(mode="after")
    def _ordered(self) -> ValueShare:
        from sim.scenario.schema_types import LocatedError, mean_of

        if mean_of(self.floor) > mean_of(self.ceiling):
            raise LocatedError(("floor",), f"expected floor <= ceiling ({mean_of(self.ceiling):g}), "
                                           f"got {mean_of(self.floor):g}")
        return self


class Services(Strict):
    """Forward-deployed engagements: fees at services margin, productised as they go."""

    fee: Draw = Field(default=2_000_000.0, description="engagement fee, per engagement (002: $500K-5M)")
    duration_months: Draw = Field(default=6.0, description="months of a fully custom engagement")
    services_margin: Prob = Field(default=0.35, description="gross margin of engagement fees")
    max_concurrent: int = Field(
        default=2, ge=1, description="engagements at once (senior engineer capacity; 002: two)")
    productized_share: Prob = Field(
        default=0.25, description="share of an engagement's custom work that becomes reusable product")
    reuse_saving: Prob = Field(
        default=0.6,
        description="share of duration and delivery cost a fully productised engagement saves")
    follow_on_probability: Prob = Field(
        default=0.6, description="engagements that continue as a product subscription")
    follow_on_acv: Draw = Field(default=400_000.0, description="ACV of that subscription")
