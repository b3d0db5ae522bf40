"""The decision space of ``revsim plan``: hires per role in the listed months.

A *decision* is a tuple of hire counts, one per (role, month) of the ``plan:``
block, in the block's order (``PlanSpec.decision_names``). Applying it to the
searched motion sets ``team.<role>.hires`` at the listed months to the decided
counts and keeps the motion's hires in every other month (they are commitments
outside the search). Today's plan is the motion's own hires at the listed months;
it may lie outside the searched ranges and is still evaluated, as the reference.

Every candidate becomes a motion of one scenario that holds only candidates, so
seed *i* of every candidate sees the same random streams (common random numbers,
sim/engine/rng.py): plans are compared seed for seed.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sim.scenario.plan import PlanSpec
from sim.scenario.schema import Motion, Scenario

__all__ = ["Decision", "Space", "decision_of", "key"]

Decision = tuple[int, ...]


@dataclass(frozen=True)
class Space:
    scenario: Scenario
    spec: PlanSpec
    motion_index: int  # the searched motion's index in scenario.motions (and in the file)

    @classmethod
    def of(cls, scenario: Scenario) -> Space:
        spec = scenario.plan
        if spec is None:
            raise ValueError("the scenario has no plan: block")
        names = [m.name for m in scenario.motions]
        index = names.index(spec.motion) if spec.motion is not None else 0
        return cls(scenario, spec, index)

    @property
    def motion(self) -> Motion:
        return self.scenario.motions[self.motion_index]

    @property
    def keys(self) -> list[tuple[str, int]]:
        """(role, month) of each decision, in decision order."""
        return [(role, m) for role, sp in self.spec.hires.items() for m in sp.months]

    @property
    def names(self) -> list[str]:
        return self.spec.decision_names()

    @property
    def bounds(self) -> list[tuple[int, int]]:
        return [(sp.min, sp.max) for sp in self.spec.hires.values() for _ in sp.months]

    def size(self) -> int:
        n = 1
        for lo, hi in self.bounds:
            n *= hi - lo + 1
        return n

    def all(self) -> Iterator[Decision]:
        """Every decision of the grid, in lexicographic order."""
        return itertools.product(*(range(lo, hi + 1) for lo, hi in self.bounds))

    def contains(self, d: Decision) -> bool:
        return all(lo <= x <= hi for x, (lo, hi) in zip(d, self.bounds, strict=True))

    def today(self) -> Decision:
        """The motion's own hires at the listed months."""
        roles = self.motion.team.roles()
        return tuple(int(roles[role].hires.get(m, 0)) for role, m in self.keys)

    def hires(self, d: Decision) -> dict[str, dict[int, int]]:
        """Each searched role's full hiring plan (month -> count) under decision ``d``."""
        roles = self.motion.team.roles()
        out: dict[str, dict[int, int]] = {}
        listed: dict[str, dict[int, int]] = {}
        for (role, m), x in zip(self.keys, d, strict=True):
            listed.setdefault(role, {})[m] = int(x)
        for role, decided in listed.items():
            plan = {m: c for m, c in roles[role].hires.items() if m not in decided}
            plan.update({m: c for m, c in decided.items() if c > 0})
            out[role] = dict(sorted(plan.items()))
        return out

    def headcount_cost_proxy(self, d: Decision) -> float:
        """Salary a decision commits to over the horizon (mean cost_per_year x years on
        payroll): a deterministic order for visiting plans cheapest first."""
        from sim.scenario.schema_types import mean_of

        roles = self.motion.team.roles()
        h = self.scenario.horizon_months
        return sum(x * mean_of(roles[role].cost_per_year) * (h - m) / 12.0
                   for (role, m), x in zip(self.keys, d, strict=True))

    def motion_for(self, d: Decision, name: str) -> Motion:
        """The searched motion with decision ``d`` written into its team, named ``name``."""
        data: dict[str, Any] = self.motion.model_dump(by_alias=True, exclude_unset=False)
        data["name"] = name
        team = data["team"]
        for role, plan in self.hires(d).items():
            team[role]["hires"] = plan
        return Motion.model_validate(data)

    def candidates(self, decisions: list[Decision]) -> Scenario:
        """A scenario whose motions are the candidates (named by ``key``), same seeds."""
        motions = [self.motion_for(d, key(d)) for d in decisions]
        return self.scenario.model_copy(update={"motions": motions, "compare": [], "plan": None})

    def label(self, d: Decision) -> str:
        """Hires in words: 'ae 2@m1 1@m4; sdr none'."""
        parts = []
        for role in self.spec.hires:
            got = [f"{x}@m{m}" for (r, m), x in zip(self.keys, d, strict=True) if r == role and x]
            parts.append(f"{role} {' '.join(got) if got else 'none'}")
        return "; ".join(parts)


def key(d: Decision) -> str:
    """A decision as a motion name: 'plan-2-0-1-3'."""
    return "plan-" + "-".join(str(x) for x in d)


def decision_of(name: str) -> Decision:
    return tuple(int(x) for x in name.removeprefix("plan-").split("-"))

