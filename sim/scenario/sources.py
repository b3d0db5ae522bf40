"""Where work enters a motion: the ``sources`` section of the scenario format.

The sales-lead sources (inbound, outbound, founder network, partners), product
sign-ups, and the borrowed-audience sources of ``sim.scenario.channels``. The
engine side is ``sim.engine.sources``.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from sim.scenario.channels import Community, Hyperscaler, Marketplace, OpenSource
from sim.scenario.schema_types import Draw, LocatedError, NonNeg, Param, Prob, Strict

__all__ = ["FounderNetwork", "Inbound", "Outbound", "Partners", "Signups", "Sources"]


class Inbound(Strict):
    """Marketing-generated leads: Poisson arrivals whose rate grows monthly."""

    leads_per_month: NonNeg = 0.0
    growth_per_month: Param = 0.0
    fit_rate: Prob = 1.0
    marketing_spend_per_month: NonNeg | None = Field(
        default=None, description="program spend per month; grows with the lead rate"
    )
    cost_per_lead: NonNeg | None = Field(default=None, description="spend per lead that arrives")
    seasonality: list[float] | None = Field(
        default=None, description="12 multipliers of the lead rate, for months 0-11 of the "
        "simulation and every year after (mean 1; e.g. fitted by revsim fit)")

    @model_validator(mode="after")
    def _one_cost(self) -> Inbound:
        if self.marketing_spend_per_month is not None and self.cost_per_lead is not None:
            raise ValueError("give marketing_spend_per_month or cost_per_lead, not both")
        s = self.seasonality
        if s is not None:
            if len(s) != 12:
                raise LocatedError(("seasonality",), f"expected 12 monthly multipliers, got {len(s)}")
            if min(s) < 0 or abs(sum(s) / 12 - 1) > 0.01:
                raise LocatedError(("seasonality",), "expected multipliers >= 0 with mean 1 (they "
                                   f"shape the year; leads_per_month sets its level), got mean "
                                   f"{sum(s) / 12:.3g}")
        return self


class Outbound(Strict):
    """SDR-generated meetings: SDR headcount x meetings x ramped productivity."""

    meetings_per_sdr_month: NonNeg = 0.0
    fit_rate: Prob = 1.0
    ai_multiplier: NonNeg = Field(default=1.0, description="volume multiplier of AI-drafted outreach")
    ai_response_penalty: Prob = Field(
        default=0.0, description="share of the entry stage's conversion lost with AI-drafted "
        "outreach"
    )
    ai_failure_probability: Prob = Field(
        default=0.0, description="chance per seed that the AI programme fails within 6 months"
    )
    ai_failure_window_months: NonNeg = 6.0
    tooling_cost_per_month: NonNeg = 0.0
    entry_stage: str | None = Field(
        default=None, description="stage the booked meetings enter (default: the first stage); "
        "a later one when the meeting is booked after the account was qualified")


class FounderNetwork(Strict):
    """Introductions from the founders' own network."""

    intros_per_month: NonNeg = 0.0
    growth_per_month: Param = 0.0
    fit_rate: Prob = 1.0


class Partners(Strict):
    """Referral partners: recruited over time, each ramping over its enablement."""

    partners_start: NonNeg = Field(default=0.0, description="enabled partners at month 0")
    recruited_per_quarter: NonNeg = 0.0
    enablement_months: NonNeg = Field(
        default=12.0, description="months for a new partner's referral rate to reach full"
    )
    referrals_per_partner_month: NonNeg = 0.0
    referral_fit_rate: Prob = 0.6
    partner_fee_rate: Prob = Field(default=0.2, description="share of first-year ACV paid as fee")
    referral_volatility: NonNeg = Field(
        default=0.8, description="coefficient of variation of partners' productivity (per partner)"
    )
    partners_per_manager: NonNeg | None = Field(
        default=None, description="partners one partner manager can enable; more wait"
    )


class Signups(Strict):
    """Product sign-ups (PLG): most never activate and are decided in bulk."""

    signups_per_month: NonNeg = 0.0
    growth_per_month: Param = 0.0
    activation_rate: Prob = Field(default=0.4, description="share reaching the value moment")
    time_to_value_days: Draw = Field(default=3.0, description="days from sign-up to activation")
    fit_rate: Prob = 0.6
    marketing_spend_per_month: NonNeg = Field(
        default=0.0, description="product marketing and onboarding spend; grows with sign-ups"
    )
    cost_per_signup: NonNeg = 0.0


class Sources(Strict):
    inbound: Inbound | None = None
    outbound: Outbound | None = None
    founder_network: FounderNetwork | None = None
    partners: Partners | None = None
    signups: Signups | None = None
    marketplace: Marketplace | None = None
    open_source: OpenSource | None = None
    community: Community | None = None
    hyperscaler: Hyperscaler | None = None
