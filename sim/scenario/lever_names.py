"""The levers and built-in shock sets by name: which parameters each lever governs.

Plain data below the schema (which checks a shock set's lever names); the levers'
mechanics, applying a factor to a motion, are in ``sim.scenario.levers``.
"""

from __future__ import annotations

__all__ = ["LEVERS", "PROBABILITIES", "SHOCK_SETS"]

# lever -> paths; "*" is every stage or every role; stages[-1] is the last stage and
# stages[q] the qualification stage (lead -> opportunity)
LEVERS: dict[str, tuple[str, ...]] = {
    "lead_volume": ("sources.inbound.leads_per_month", "sources.outbound.meetings_per_sdr_month",
                    "sources.founder_network.intros_per_month",
                    "sources.partners.referrals_per_partner_month",
                    "sources.signups.signups_per_month", "sources.marketplace.installs_per_month",
                    "sources.open_source.commercial_rate_monthly",
                    "sources.community.intent_rate_monthly",
                    "sources.hyperscaler.listing_leads_per_month",
                    "sources.hyperscaler.intros_per_month"),
    "conversion": ("stages[q].advance", "conversion.freemium_monthly", "conversion.opt_in",
                   "conversion.opt_out"),
    "win_rate": ("stages[-1].advance", "pql.conversion"),
    "cycle_time": ("stages[*].duration",),
    "acv": ("deal.acv", "pql.acv", "self_serve.price_per_seat_month", "pilot.fee",
            "deal.usage.unit_price", "deal.outcome.price_per_outcome", "deal.value_share.share",
            "deal.services.fee"),
    "churn": ("retention.monthly_churn", "retention.early_churn", "self_serve.monthly_churn",
              "self_serve.early_churn"),
    "expansion": ("retention.expansion_rate_annual", "self_serve.expansion_rate_annual",
                  "deal.usage.growth_monthly"),
    "ramp_time": ("team.*.ramp_months",),
    "rep_cost": ("team.*.cost_per_year",),
    "hiring_delay": ("team.*.hires", "team.*.backfill_lag_months"),
    "activation": ("sources.signups.activation_rate",),
    "pql_rate": ("pql.usage_growth_monthly",),
    "partner_productivity": ("sources.partners.referrals_per_partner_month",),
    "pilot_conversion": ("pilot.success_rate", "pilot.decision_conversion"),
}

PROBABILITIES = {"advance", "conversion", "monthly_churn", "early_churn", "activation_rate",
                 "success_rate", "decision_conversion", "freemium_monthly", "opt_in", "opt_out",
                 "commercial_rate_monthly", "intent_rate_monthly", "share"}

# Built-in shock sets a user can run with `revsim stress --set NAME`.
SHOCK_SETS: dict[str, dict[str, float]] = {
    "downturn": {"lead_volume": 0.7, "cycle_time": 1.3, "win_rate": 0.85, "churn": 1.3,
                 "expansion": 0.7},
    "hiring_slip": {"hiring_delay": 1.5, "ramp_time": 1.3},
    "price_pressure": {"acv": 0.85, "win_rate": 0.9},
    "churn_shock": {"churn": 1.5, "expansion": 0.8},
}
