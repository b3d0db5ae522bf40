"""Sources that borrow someone else's audience: marketplace, open source, community, hyperscaler.

Each is a flow of leads into the motion's stages (MODEL.md "Sources"), with the
mechanism its catalogue motion names (002, Motions 2, 3, 4 and 12). The engine
side is ``sim.engine.channels``.
"""

from __future__ import annotations

from pydantic import Field

from sim.scenario.schema_types import NonNeg, Param, Prob, Strict

__all__ = ["Community", "Hyperscaler", "Marketplace", "OpenSource", "Risk"]


class Risk(Strict):
    """An event that happens at most once: from its month on the flow is multiplied down."""

    annual_probability: Prob = Field(default=0.0, description="chance of the event in any one year")
    flow_factor: Prob = Field(default=0.4, description="the flow after the event, as a share of before")


class Marketplace(Strict):
    """Buyers who find the listing in a host platform's store (002, Motion 2)."""

    installs_per_month: NonNeg = Field(
        default=0.0, description="buyers who install or start a trial from the listing, per month")
    growth_per_month: Param = 0.0
    fit_rate: Prob = 0.8
    revenue_share: Prob = Field(
        default=0.2, description="share of billed revenue the platform keeps (002: 15-30%), a COGS")
    listing_cost_per_month: NonNeg = Field(default=0.0, description="listing and integration upkeep")
    platform_risk: Risk = Field(
        default=Risk(annual_probability=0.1, flow_factor=0.4),
        description="the platform changes terms or ships a first-party rival")


class OpenSource(Strict):
    """A free project whose users grow by compounding adoption (002, Motion 3)."""

    users_start: NonNeg = Field(default=1000.0, description="active users of the open project at month 0")
    adoption_growth_monthly: Param = Field(default=0.08, description="compounding monthly user growth")
    max_users: NonNeg | None = Field(
        default=None, description="users at saturation (logistic growth); none: unbounded")
    commercial_rate_monthly: Prob = Field(
        default=0.0005,
        description="share of users a month hitting enterprise needs (hosting, SSO, audit, "
                    "support) and becoming a commercial lead")
    fit_rate: Prob = 0.7
    community_cost_per_month: NonNeg = Field(default=0.0, description="developer relations, maintainers")
    cloud_wrap: Risk = Field(
        default=Risk(annual_probability=0.08, flow_factor=0.5),
        description="a cloud provider wraps the project: fewer users need the commercial offer")


class Community(Strict):
    """An audience built before the product, converting well until it outgrows the founder (Motion 4)."""

    audience_start: NonNeg = Field(default=0.0, description="followers at month 0")
    audience_per_month: NonNeg = Field(default=2000.0, description="followers gained per month")
    audience_growth_monthly: Param = Field(default=0.0, description="compounding growth on top")
    build_months: NonNeg = Field(
        default=12.0, description="months of content before the product launches (no revenue)")
    intent_rate_monthly: Prob = Field(
        default=0.002, description="share of the audience a month who come to buy, after launch")
    audience_lift: NonNeg = Field(
        default=10.0,
        description="first-stage conversion of an audience lead relative to a cold one (002: 10-20x)")
    founder_reach: NonNeg = Field(
        default=50000.0, description="audience the founder reaches personally; beyond it the lift dilutes")
    fit_rate: Prob = 0.8
    content_cost_per_month: NonNeg = 0.0


class Hyperscaler(Strict):
    """Marketplace listing plus co-sell introductions from the cloud's AEs (002, Motion 12)."""

    listing_leads_per_month: NonNeg = Field(default=0.0, description="buyers from the cloud marketplace")
    certification_months: NonNeg = Field(
        default=6.0, description="partner-programme work before co-sell introductions start")
    intros_per_month: NonNeg = Field(
        default=0.0, description="introductions a month by the cloud's account executives, once certified")
    intro_ramp_months: NonNeg = Field(default=6.0, description="months for introductions to reach full rate")
    growth_per_month: Param = 0.0
    fit_rate: Prob = 0.8
    marketplace_fee: Prob = Field(default=0.03, description="fee on revenue billed through the marketplace")
    programme_cost_per_month: NonNeg = Field(default=0.0, description="partner programme, certifications")
    deprioritisation: Risk = Field(
        default=Risk(annual_probability=0.15, flow_factor=0.3),
        description="the cloud's priorities shift: introductions fall")
