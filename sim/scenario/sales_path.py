"""The sales path of the scenario format: stages and their owners, the queue for a rep,
qualification, what a won deal is worth and how it is priced, the handoff to
customer success (the engine side is ``sim.engine.pipeline`` and ``sim.engine.pricing``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from sim.scenario.pricing import PRICING_MODELS, Outcome, Services, Usage, ValueShare
from sim.scenario.schema_types import Draw, LocatedError, NonNeg, Prob, RoleName, Strict

__all__ = ["Deal", "Handoff", "Qualification", "Queue", "Stage"]


class Stage(Strict):
    name: str = Field(min_length=1)
    owner: RoleName | None = None
    duration: Draw = Field(description="days in the stage")
    advance: Prob = Field(description="probability of moving on to the next stage (or winning)")


class Queue(Strict):
    decay_per_week: Prob = Field(default=0.0, description="conversion lost per week waiting")
    max_wait_days: NonNeg | None = Field(default=None, description="then the deal is lost")


class Qualification(Strict):
    stage: str | None = Field(
        default=None,
        description="the stage that qualifies leads; passing it creates an opportunity "
        "(default: the first stage)",
    )
    strictness: Prob = Field(
        default=0.5, description="0 lets bad-fit leads pass like good ones, 1 stops them all"
    )


class Deal(Strict):
    """What a won deal is worth and how the customer pays (MODEL.md "How customers pay")."""

    acv: Draw | None = Field(
        default=None,
        description="annual contract value per deal (currency per year); subscription pricing. "
        "With a pilot a deal is worth its production contract, pilot.fee x "
        "pilot.production_multiplier, and deal.acv is not used")
    contract: Literal["monthly", "annual"] = "annual"
    pricing: Literal["subscription", "usage", "outcome", "value_share", "services"] = "subscription"
    usage: Usage | None = None
    outcome: Outcome | None = None
    value_share: ValueShare | None = None
    services: Services | None = None
    bad_fit_win_factor: Prob = Field(
        default=0.6, description="win-probability multiplier of a bad-fit opportunity"
    )

    @model_validator(mode="before")
    @classmethod
    def _section(cls, data: Any) -> Any:
        """The pricing model's own defaults (catalogue figures) when its section is omitted."""
        if isinstance(data, dict):
            pricing = data.get("pricing", "subscription")
            if pricing in PRICING_MODELS[1:] and data.get(pricing) is None:
                data = {**data, pricing: {}}
        return data

    @model_validator(mode="after")
    def _priced(self) -> Deal:
        for other in PRICING_MODELS[1:]:
            if other != self.pricing and getattr(self, other) is not None:
                raise LocatedError((other,), f"deal.{other} is set but deal.pricing is "
                                             f"'{self.pricing}': set pricing: {other}, or remove "
                                             f"the section with deal.{other}: null (a template's "
                                             "section stays unless set to null)")
        return self


class Handoff(Strict):
    acceptance_criteria: bool = True
    criteria_win_factor: Prob = Field(
        default=1.0, description="win-probability multiplier from insisting on criteria"
    )
