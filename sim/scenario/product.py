"""The product path of the scenario format: conversion of free accounts, self-serve
plans, product-qualified leads, and paid pilots of enterprise evaluations.

The engine side is ``sim.engine.product`` and ``sim.engine.pilots``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sim.scenario.schema_types import Draw, NonNeg, Prob, Strict

__all__ = ["Conversion", "Pilot", "Pql", "SelfServe"]


class Conversion(Strict):
    """How activated free accounts become paying self-serve customers."""

    model: Literal["freemium", "trial"] = "freemium"
    freemium_monthly: Prob = Field(default=0.01, description="monthly hazard of upgrading")
    dormancy_monthly: Prob = Field(
        default=0.15, description="monthly hazard of going dormant (then never upgrades)"
    )
    trial_days: NonNeg = 14.0
    trial: Literal["opt_in", "opt_out"] = Field(
        default="opt_in", description="opt_in: no card at sign-up; opt_out: card, billed unless cancelled"
    )
    opt_in: Prob = Field(
        default=0.18, description="activated trial accounts that pay, no card asked (003: 18%)"
    )
    opt_out: Prob = Field(
        default=0.49, description="activated trial accounts that pay, card up front (003: 49%)"
    )


class SelfServe(Strict):
    """What a self-serve customer pays and how it behaves (monthly billing)."""

    seats: Draw = Field(default=3.0, description="seats at upgrade, drawn per account")
    price_per_seat_month: NonNeg = 25.0
    monthly_churn: Prob = 0.03
    expansion_rate_annual: NonNeg = Field(default=0.2, description="seat growth of retained accounts")
    early_churn: Prob = 0.0


class Pql(Strict):
    """Product-qualified leads: usage crossing a threshold routes an account to sales."""

    threshold: NonNeg = Field(default=10.0, description="usage (seats or events) that makes a PQL")
    reference_threshold: NonNeg = Field(
        default=10.0, description="threshold at which PQLs convert at `conversion`"
    )
    quality_elasticity: NonNeg = Field(
        default=0.5, description="a looser threshold (below reference) lowers conversion as "
        "(threshold/reference)^elasticity"
    )
    usage_start: Draw = Field(default=2.0, description="usage at activation, per account")
    usage_growth_monthly: Draw = Field(default=0.15, description="monthly usage growth, per account")
    conversion: Prob = Field(default=0.28, description="PQL -> paid at the reference threshold (003: 25-30%)")
    min_days_active: NonNeg = Field(
        default=30.0, description="sales waits until a PQL has been active this many days "
        "before reaching out (an account that upgrades or goes dormant meanwhile never reaches sales)"
    )
    early_touch_days: NonNeg = Field(
        default=30.0, description="a sales touch before the account has been active this many "
        "days costs early_touch_penalty of its conversion"
    )
    early_touch_penalty: Prob = Field(default=0.4, description="conversion lost when touched too early")
    entry_stage: str | None = Field(
        default=None, description="stage a PQL enters (default: the one after qualification)"
    )
    acv: Draw | None = Field(default=None, description="ACV of a sales-assisted PQL deal (default: deal.acv)")


class Pilot(Strict):
    """A won evaluation becomes a paid pilot first; success converts to production."""

    fee: Draw = Field(default=50000.0, description="pilot fee, $ (002: $25-100K); booked, not ARR")
    duration_days: Draw = Field(default=60.0, description="pilot length (002: 30-90 days)")
    success_rate: Prob = 0.65
    delivery_cost: Draw = Field(default=60000.0, description="cost to deliver the pilot, $")
    production_multiplier: Draw = Field(
        default=5.0, description="production ACV as a multiple of the fee (002: 3-10x)"
    )
    conversion_clause: bool = Field(
        default=True, description="buyer must decide within the decision window of pilot end"
    )
    decision_conversion: Prob = Field(
        default=0.8, description="a successful pilot's odds of converting at its decision"
    )
    decision_window_days: NonNeg = 30.0
    extension_probability: Prob = Field(
        default=0.55, description="without a clause: odds a decision is put off by an extension"
    )
    extension_days: NonNeg = 60.0
    extension_decay: Prob = Field(
        default=0.75, description="conversion odds kept after each extension"
    )
    max_extensions: int = Field(default=6, ge=0, description="then the pilot is abandoned")
