"""Where the company starts: customers, reps and open deals at time zero, and its market.

``initial`` lets a real company start the simulation from where it is (existing
customers with their ARR and ages, tenured reps, deals already in a stage);
``market`` bounds the accounts every source draws from (the ICP) and sets how
long a lost account cools off before it can be approached again.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from sim.scenario.schema_types import RoleName, Strict, limited

__all__ = ["Initial", "InitialAccount", "InitialCustomers", "InitialDeals", "InitialReps",
           "Market"]


class InitialCustomers(Strict):
    """Customers the company already has: ``count`` sharing ``arr`` (total), or a list."""

    count: Annotated[int, limited("accounts")] = Field(default=0, ge=0)
    arr: float = Field(default=0.0, ge=0, description="total ARR of the counted customers")
    contract: Literal["monthly", "annual"] = "annual"
    max_age_months: float = Field(
        default=12.0, gt=0, description="start dates spread uniformly over this many past months"
    )
    accounts: list[InitialAccount] = Field(default_factory=list)


class InitialAccount(Strict):
    arr: float = Field(gt=0)
    months_ago: float = Field(ge=0)
    contract: Literal["monthly", "annual"] = "annual"


class InitialReps(Strict):
    role: RoleName
    count: Annotated[int, limited("reps")] = Field(default=1, ge=1)
    tenure_months: float = Field(ge=0)


class InitialDeals(Strict):
    stage: str
    count: Annotated[int, limited("accounts")] = Field(default=1, ge=1)
    days_in_stage: float = Field(default=0.0, ge=0)
    acv: float | None = Field(default=None, gt=0, description="default: drawn from deal.acv")


class Initial(Strict):
    customers: InitialCustomers = InitialCustomers()
    reps: list[InitialReps] = Field(default_factory=list)
    pipeline: list[InitialDeals] = Field(default_factory=list)


class Market(Strict):
    size: int | None = Field(default=None, gt=0, description="accounts in the ICP (TAM)")
    cooling_off_days: float = Field(default=180.0, ge=0)


InitialCustomers.model_rebuild()
