"""The ``plan:`` block: the hiring decisions ``revsim plan`` searches, and what it aims for.

```yaml
target_arr: 8_000_000
plan:
  motion: sales_led          # the motion whose hiring is searched (default: the only one)
  probability: 0.8           # P(ARR at the horizon >= target_arr) the plan must reach
  minimise: sm_spend_total   # or `maximise: p_target` (with a budget)
  budget: {sm_spend_total: 9_000_000, monthly_burn: 400_000}
  hires:                     # hires per role in the listed months, 0..max each
    ae: {months: [1, 4, 7, 10], max: 4}
    sdr: {months: [1, 7], max: 3}
```

The block is checked against the rest of the scenario (the motion and its roles
exist, months fall inside the horizon, a target is set) by
``Scenario._plan_fits`` in schema.py, with the file:line of the offending key.
Costs and caps are means over seeds of the named per-seed metric (MODEL.md
"Outputs"); ``PLAN_COSTS`` lists the metrics a plan may minimise or cap.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from sim.scenario.schema_types import RoleName, Strict
from sim.scenario.team import check_hire_month

__all__ = ["MONOTONE_COSTS", "PLAN_COSTS", "PlanSearch", "PlanSpec", "RoleSpace"]

# Per-seed metrics (sim/metrics.py) a plan may minimise or cap: money spent.
PLAN_COSTS = ("sm_spend_total", "cs_spend_total", "monthly_burn", "cac")
# Of those, the ones that never fall when a hire is added (salaries are paid from hire,
# commission grows with bookings): the search may prune with them.
MONOTONE_COSTS = ("sm_spend_total", "cs_spend_total")


def _not_above(model: Strict, low: str, high: str) -> None:
    """Two settings of ``model`` in order: ``low`` at most ``high``."""
    a, b = getattr(model, low), getattr(model, high)
    if a > b:
        raise ValueError(f"{low} ({a}) is above {high} ({b})")


def _known_cost(name: str, what: str) -> None:
    """A cost a plan may minimise or cap is one of ``PLAN_COSTS``."""
    if name not in PLAN_COSTS:
        raise ValueError(f"unknown {what} {name!r}; expected one of: {', '.join(PLAN_COSTS)}")


class RoleSpace(Strict):
    """One role's decisions: how many to hire in each listed month, 0..max."""

    months: list[int] = Field(min_length=1, description="months in which hires are decided")
    max: int = Field(ge=0, le=50, description="most hires in any one listed month")
    min: int = Field(default=0, ge=0, description="fewest hires in any one listed month")

    @field_validator("months")
    @classmethod
    def _months(cls, v: list[int]) -> list[int]:
        for m in v:
            check_hire_month(m)
        if len(set(v)) != len(v):
            raise ValueError(f"a month is listed twice: {v}")
        return v

    @model_validator(mode="after")
    def _range(self) -> RoleSpace:
        _not_above(self, "min", "max")
        return self


class PlanSearch(Strict):
    """How hard to search: seed counts of each stage, proposals, finalists."""

    screen_seeds: int = Field(default=25, ge=5, le=10_000,
                              description="seeds every candidate plan is screened on")
    seeds: int = Field(default=400, ge=5, le=100_000,
                       description="seeds a promising plan is run on before it can be chosen")
    validate_seeds: int = Field(default=600, ge=10, le=1_000_000,
                                description="fresh seeds the finalists are re-run on")
    finalists: int = Field(default=4, ge=1, le=100,
                           description="plans re-run on fresh seeds before one is chosen")
    enumerate_max: int = Field(default=400, ge=1, le=1_000_000,
                               description="search every plan when there are at most this many")
    trials: int = Field(default=100, ge=1, le=100_000,
                        description="plans Optuna proposes when the space is larger")
    monotone: bool = Field(default=True, description="more hires never lower P(target) nor the "
                           "monotone costs: plans that cannot win are skipped")

    @model_validator(mode="after")
    def _order(self) -> PlanSearch:
        _not_above(self, "screen_seeds", "seeds")
        return self


class PlanSpec(Strict):
    motion: str | None = Field(default=None, description="default: the scenario's only motion")
    probability: float = Field(default=0.8, gt=0.0, lt=1.0,
                               description="P(ARR at the horizon >= target_arr) to reach")
    minimise: str | None = None
    maximise: Literal["p_target"] | None = None
    budget: dict[str, float] = Field(default_factory=dict, description="metric -> cap on its mean")
    hires: dict[RoleName, RoleSpace] = Field(min_length=1)
    search: PlanSearch = PlanSearch()

    @field_validator("minimise")
    @classmethod
    def _cost(cls, v: str | None) -> str | None:
        if v is not None:
            _known_cost(v, "cost")
        return v

    @field_validator("budget")
    @classmethod
    def _caps(cls, v: dict[str, float]) -> dict[str, float]:
        for k, cap in v.items():
            _known_cost(k, "budget metric")
            if not cap > 0:
                raise ValueError(f"the cap on {k} must be > 0, got {cap:g}")
        return v

    @model_validator(mode="after")
    def _one_goal(self) -> PlanSpec:
        if (self.minimise is None) == (self.maximise is None):
            raise ValueError("give either `minimise: <cost>` (the cheapest plan reaching "
                             "`probability`) or `maximise: p_target` (the likeliest plan within "
                             "`budget`), not both or neither")
        return self

    @property
    def cost(self) -> str:
        """The cost a plan is ranked by: the minimised one, else the first cap, else S&M spend."""
        return self.minimise or next(iter(self.budget), "sm_spend_total")

    def decision_names(self) -> list[str]:
        """One column per decision: ``<role>_m<month>`` in role then month order."""
        return [f"{role}_m{m}" for role, sp in self.hires.items() for m in sp.months]
