"""The team section of the scenario format: each role's headcount plan, ramp, cost and
capacity (the engine side is ``sim.engine.team``).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from sim.scenario.limits import LIMITS, limit_message
from sim.scenario.schema_types import ROLES, NonNeg, Prob, Strict, limited

__all__ = ["Role", "Team", "check_hire_month"]


def check_hire_month(month: int) -> None:
    """A hire is made in month 0 or later (a role's ``hires``, a plan's decision months)."""
    if month < 0:
        raise ValueError(f"hire month {month} is before month 0")


class Role(Strict):
    """One role's headcount plan, ramp, cost and capacity."""

    start: Annotated[NonNeg, limited("reps")] = Field(
        default=0.0, description="tenured (fully ramped) reps at month 0")
    hires: dict[int, int] = Field(default_factory=dict, description="month -> number hired")
    ramp_months: NonNeg = 0.0
    ramp_start: Prob = Field(default=1.0, description="productivity at hire, rising to 1.0")
    ramp_win_factor: Prob = Field(default=1.0, description="win-rate multiplier at hire")
    cost_per_year: NonNeg = 0.0
    selling_share: Prob = Field(
        default=1.0, description="share of this role's cost counted as sales & marketing"
    )
    commission_rate: Prob = 0.0
    attrition_annual: Prob = 0.0
    backfill_lag_months: NonNeg = 2.0
    max_open_deals: Annotated[NonNeg, limited("max_open_deals")] | None = Field(
        default=None, description="concurrent opportunities a fully ramped owner carries"
    )
    deals_per_quarter: NonNeg | None = Field(
        default=None, description="closes this role's reps can make per calendar quarter, all "
        "together (the founder's calendar); a deal ready to close waits for the next quarter"
    )

    @field_validator("hires")
    @classmethod
    def _hires(cls, v: dict[int, int]) -> dict[int, int]:
        for month, count in v.items():
            check_hire_month(month)
            if count < 0:
                raise ValueError(f"hires in month {month} must be >= 0, got {count}")
        total = sum(v.values())
        if total > LIMITS["reps"].value:
            raise ValueError(limit_message("reps", total))
        return v


class Team(Strict):
    founder: Role | None = None
    sdr: Role | None = None
    ae: Role | None = None
    se: Role | None = None
    csm: Role | None = None
    partner_manager: Role | None = None

    def roles(self) -> dict[str, Role]:
        return {r: getattr(self, r) for r in ROLES if getattr(self, r) is not None}
