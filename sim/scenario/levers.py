"""Levers: named, motion-independent knobs for stress tests and sensitivity.

A phased motion's phases take the same shocks as the motion they change.

A lever governs a list of parameter paths; a factor multiplies every one of them
that the motion has (``win_rate=0.8`` multiplies the last stage's advance and the
PQL conversion by 0.8). Distributions are scaled (``Dist.scaled``); probabilities
are capped at 1; hiring months and lags are stretched and rounded to whole
months. A lever that governs nothing in a motion leaves it unchanged.
"""

from __future__ import annotations

import math
from typing import Any

from sim.scenario.distributions import Distribution, Fixed
from sim.scenario.schema import Motion, Scenario

__all__ = ["LEVERS", "SHOCK_SETS", "apply_levers", "governed_paths", "shock_scenario"]

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


def _scale(value: Any, factor: float, key: str) -> Any:
    if value is None:
        return None
    if key == "hires":
        return {int(round(int(m) * factor)): c for m, c in value.items()}
    if isinstance(value, Distribution):
        scaled = value.scaled(factor)
        if key in PROBABILITIES and scaled.mean > 1:
            return Fixed(value=1.0)
        return scaled
    x = float(value) * factor
    if key == "backfill_lag_months":
        return float(round(x))
    return min(x, 1.0) if key in PROBABILITIES else x


def _expand(motion: dict[str, Any], path: str) -> list[tuple[Any, ...]]:
    """Concrete key paths of ``path`` present (and not null) in the motion's data."""
    out: list[tuple[Any, ...]] = []

    def walk(node: Any, parts: list[str], prefix: tuple[Any, ...]) -> None:
        if node is None:
            return
        if not parts:
            out.append(prefix)
            return
        head, rest = parts[0], parts[1:]
        if head.startswith("stages["):
            stages = node.get("stages") or []
            sel = head[len("stages["):-1]
            names = [st["name"] for st in stages]
            qual = (node.get("qualification") or {}).get("stage")
            q = names.index(qual) if qual in names else 0
            idx = {"*": range(len(stages)), "-1": [len(stages) - 1], "q": [q]}[sel]
            for i in idx:
                walk(stages[i], rest, (*prefix, "stages", i))
        elif head == "*":
            for k, v in (node or {}).items():
                walk(v, rest, (*prefix, k))
        elif isinstance(node, dict) and head in node:
            walk(node[head], rest, (*prefix, head))

    walk(motion, path.split("."), ())
    return out


def governed_paths(motion: Motion, lever: str) -> list[tuple[Any, ...]]:
    data = motion.model_dump(by_alias=True, round_trip=True)
    return [p for path in LEVERS[lever] for p in _expand(data, path)]


def apply_levers(motion: Motion, shocks: dict[str, float]) -> Motion:
    """The motion with every governed parameter multiplied by its lever's factor."""
    if all(math.isclose(f, 1.0) for f in shocks.values()):
        return motion
    data = motion.model_dump(by_alias=True, round_trip=True)
    objects: dict[tuple[Any, ...], Any] = {}
    for lever, factor in shocks.items():
        for path in governed_paths(motion, lever):
            node: Any = motion
            for part in path:
                node = node[part] if isinstance(part, int) else getattr(node, part)
            objects[path] = _scale(objects.get(path, node), factor, str(path[-1]))
    for path, value in objects.items():
        target: Any = data
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
    shocked = Motion.model_validate(data)
    # each phase's motion takes the same shocks (what a phase writes is shocked too)
    shocked._phase_motions = [apply_levers(pm, shocks) for pm in motion.phase_motions]
    return shocked


def shock_scenario(scenario: Scenario, shocks: dict[str, float]) -> Scenario:
    unknown = [k for k in shocks if k not in LEVERS]
    if unknown:
        raise KeyError(", ".join(unknown))
    motions = [apply_levers(m, shocks) for m in scenario.motions]
    return scenario.model_copy(update={"motions": motions})
