"""Fresh-seed validation of the finalists, and the choice made on it.

The plan that looks best on the search seeds is, on average, one that was lucky
on them: its search-stage estimate is biased upward (the optimiser's curse; Smith
& Winkler 2006). The finalists (the best plans of the search, and today's plan as
the reference) are therefore re-run on fresh seeds no search decision has seen,
all on the same fresh seeds, and the plan is chosen on those figures alone:

Today's plan, when it lies inside the searched ranges, is a candidate like the
finalists.

- cheapest-plan goal: the cheapest finalist whose fresh P(target) reaches the
  probability within the caps; if none does, the target is out of reach and the
  answer is the finalist with the highest fresh P(target) within the caps;
- likeliest-plan goal: the finalist with the highest fresh P(target) within the
  caps (the cheaper of equals).

Differences between finalists are paired seed for seed (the same fresh seeds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.metrics import t_quantile
from sim.plan.evaluate import Estimate, Evaluator
from sim.plan.search import SearchOutcome
from sim.plan.space import Decision, Space

__all__ = ["Choice", "Finalist", "Paired", "choose", "finalists"]


@dataclass(frozen=True)
class Finalist:
    decision: Decision
    search: Estimate  # on the full search seeds
    fresh: Estimate  # on the fresh seeds


@dataclass(frozen=True)
class Paired:
    """A - B on the same seeds: mean difference with its 95% t interval."""

    mean: float
    low: float
    high: float

    @classmethod
    def of(cls, a: np.ndarray, b: np.ndarray) -> Paired:
        d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
        d = d[np.isfinite(d)]
        if d.size < 2:
            return cls(float(d.mean()) if d.size else math.nan, math.nan, math.nan)
        half = t_quantile(0.975, d.size - 1) * float(d.std(ddof=1)) / math.sqrt(d.size)
        return cls(float(d.mean()), float(d.mean()) - half, float(d.mean()) + half)


@dataclass(frozen=True)
class Choice:
    chosen: Finalist
    reached: bool  # the chosen plan's fresh P(target) reaches the probability
    within_caps: bool  # ... and its fresh mean costs are within the caps
    finalists: list[Finalist]  # the candidates re-run on fresh seeds (today's, if in the ranges)
    today: Finalist
    runner_up: Finalist | None
    vs_runner_up: dict[str, Paired]  # "p_target", the cost: chosen - runner-up
    vs_today: dict[str, Paired]  # "p_target", the cost, arr_end: chosen - today
    fresh_seeds: int


def finalists(space: Space, outcome: SearchOutcome) -> list[Decision]:
    """The best plans of the search, most promising first (``search.finalists`` of them)."""
    spec = space.spec
    full = [r for r in outcome.records if r.stage == len(outcome.stages) - 1
            and all(r.est.cost[m] <= cap for m, cap in spec.budget.items())]
    c = spec.cost
    if spec.minimise is not None:
        ok = sorted((r for r in full if r.est.p >= spec.probability),
                    key=lambda r: (r.est.cost[c], -r.est.p, r.decision))
        rest = sorted((r for r in full if r.est.p < spec.probability),
                      key=lambda r: (-r.est.p, r.est.cost[c], r.decision))
        ranked = ok + rest
    else:
        ranked = sorted(full, key=lambda r: (-r.est.p, r.est.cost[c], r.decision))
    out = [r.decision for r in ranked[:spec.search.finalists]]
    if not out:  # nothing within the caps on the search seeds: the likeliest plans seen
        top = sorted(outcome.records, key=lambda r: (-r.stage, -r.est.p, r.decision))
        out = [r.decision for r in top[:spec.search.finalists]]
    return out


def choose(space: Space, ev: Evaluator, outcome: SearchOutcome) -> Choice:
    spec = space.spec
    n = spec.search.validate_seeds
    today = space.today()
    picks = finalists(space, outcome)
    ev.ensure([*picks, today], n, fresh=True)
    fin = [Finalist(d, ev.estimate(d, outcome.full), ev.estimate(d, n, fresh=True))
           for d in picks]
    today_f = Finalist(today, outcome.today, ev.estimate(today, n, fresh=True))
    c = spec.cost

    def within(f: Finalist) -> bool:
        return all(f.fresh.cost[m] <= cap for m, cap in spec.budget.items())

    # today's plan, when inside the searched ranges, is a candidate on the same footing
    cands = fin + ([today_f] if space.contains(today) and today not in picks else [])
    pool = [f for f in cands if within(f)] or cands
    if spec.minimise is not None:
        ok = [f for f in pool if f.fresh.p >= spec.probability]
        if ok:
            ranked = sorted(ok, key=lambda f: (f.fresh.cost[c], -f.fresh.p, f.decision))
        else:
            ranked = sorted(pool, key=lambda f: (-f.fresh.p, f.fresh.cost[c], f.decision))
    else:
        ranked = sorted(pool, key=lambda f: (-f.fresh.p, f.fresh.cost[c], f.decision))
    chosen = ranked[0]
    others = sorted((f for f in cands if f is not chosen),
                    key=lambda f: (-f.fresh.p, f.fresh.cost[c], f.decision))
    runner = ranked[1] if len(ranked) > 1 else (others[0] if others else None)
    rows = ev.rows(chosen.decision, n, fresh=True)

    def paired(other: Decision, metrics: tuple[str, ...]) -> dict[str, Paired]:
        o = ev.rows(other, n, fresh=True)
        return {("p_target" if m == "reached_target" else m): Paired.of(rows[m], o[m])
                for m in metrics}

    return Choice(
        chosen=chosen, reached=chosen.fresh.p >= spec.probability, within_caps=within(chosen),
        finalists=cands, today=today_f, runner_up=runner,
        vs_runner_up=paired(runner.decision, ("reached_target", c)) if runner else {},
        vs_today=paired(today, ("reached_target", c, "arr_end", "bookings_total")),
        fresh_seeds=n)
