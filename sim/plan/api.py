"""``plan_search``: the whole search (space, evaluations, search, validation) from Python.

The command (command.py) and notebooks share it; it writes nothing but the
checkpoint, and returns everything the outputs are made from.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.plan.evaluate import Evaluator
from sim.plan.search import Record, Search, SearchOutcome
from sim.plan.space import Space
from sim.plan.validate import Choice, choose
from sim.scenario.schema import Scenario

__all__ = ["PlanResult", "plan_search"]


@dataclass
class PlanResult:
    space: Space
    evaluator: Evaluator
    outcome: SearchOutcome
    choice: Choice
    timing: dict[str, Any] = field(default_factory=dict)


def plan_search(scenario: Scenario, workers: int = 1, executor: str = "local",
                scheduler: str | None = None, checkpoint: Path | None = None,
                on_best: Callable[[Record, bool], None] | None = None,
                on_validate: Callable[[], None] | None = None) -> PlanResult:
    """Search the scenario's ``plan:`` block and choose on fresh seeds.

    The same scenario gives the same plan for any ``workers``, ``executor`` or
    chunking; with ``checkpoint`` (a folder) every evaluation is kept there and a
    later call with the same folder simulates only what is missing.
    """
    t0 = time.perf_counter()
    space = Space.of(scenario)
    ev = Evaluator(space, workers, executor, scheduler, checkpoint=checkpoint)
    try:
        outcome = Search(space, ev, on_best).run()
        if on_validate is not None:
            on_validate()
        t1 = time.perf_counter()
        choice = choose(space, ev, outcome)
    finally:
        ev.close()
    timing = {"search_seconds": outcome.seconds, "validate_seconds": time.perf_counter() - t1,
              "wall_seconds": time.perf_counter() - t0, "seed_runs": ev.seed_runs,
              "replayed": ev.replayed, "workers": workers, "executor": executor}
    return PlanResult(space, ev, outcome, choice, timing)
