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

Cheapest-plan goal: the finalists are re-run one at a time, most promising
first, after today's plan; once a re-run plan reaches the probability within the
caps on fresh seeds, a finalist whose search-stage cost is certainly higher (its
95% lower bound at or above that plan's fresh mean cost) cannot be chosen and is
not re-run (``Choice.skipped``). The answer is the same as re-running every
finalist, unless a plan's mean cost on fresh seeds fell below its lower bound on
the search seeds.

The chosen plan's fresh-seed run is also what its "What drives the spread" is
estimated from (``chosen_results``: the seeds' metrics and uncertain inputs, as
a run's ``Results``); its first ``luck_seed_count`` fresh seeds are run once more
with other luck for luck's share, as ``revsim run`` does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.metrics import t_quantile
from sim.plan.evaluate import Estimate, Evaluator
from sim.plan.search import SearchOutcome
from sim.plan.space import Decision, Space
from sim.runner.api import luck_seed_count
from sim.runner.results import Results

__all__ = ["Choice", "Finalist", "Paired", "choose", "chosen_results", "finalists"]


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
    skipped: list[Decision]  # finalists not re-run: certainly costlier than a plan that reached
    luck_seeds: int = 0  # the chosen plan's first fresh seeds run again with other luck


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
    c = spec.cost

    def within(f: Finalist) -> bool:
        return all(f.fresh.cost[m] <= cap for m, cap in spec.budget.items())

    def reaches(f: Finalist) -> bool:
        return within(f) and f.fresh.p >= spec.probability

    ev.ensure([today, *picks[:1]], n, fresh=True)  # the reference and the first finalist
    today_f = Finalist(today, outcome.today, ev.estimate(today, n, fresh=True))
    bar = math.inf  # the lowest fresh cost of a re-run plan that reaches the probability
    if spec.minimise is not None and space.contains(today) and reaches(today_f):
        bar = today_f.fresh.cost[c]
    fin: list[Finalist] = []
    skipped: list[Decision] = []
    for d in picks:
        search = ev.estimate(d, outcome.full)
        if spec.minimise is not None and d != today and search.cost_low[c] >= bar:
            skipped.append(d)
            continue
        f = Finalist(d, search, ev.estimate(d, n, fresh=True))
        fin.append(f)
        if spec.minimise is not None and reaches(f):
            bar = min(bar, f.fresh.cost[c])

    # today's plan, when inside the searched ranges, is a candidate on the same footing
    cands = fin + ([today_f] if space.contains(today) and all(f.decision != today for f in fin)
                   else [])
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
    inputs = ev.inputs(chosen.decision, n, fresh=True)
    # luck's share of the chosen plan's spread needs seeds re-run with the same inputs
    luck = luck_seed_count(n) if inputs.columns.size > 1 else 0
    if luck >= 2:
        ev.ensure([chosen.decision], luck, fresh=True, luck=1)

    def paired(other: Decision, metrics: tuple[str, ...]) -> dict[str, Paired]:
        o = ev.rows(other, n, fresh=True)
        return {("p_target" if m == "reached_target" else m): Paired.of(rows[m], o[m])
                for m in metrics}

    return Choice(
        chosen=chosen, reached=chosen.fresh.p >= spec.probability, within_caps=within(chosen),
        finalists=cands, today=today_f, runner_up=runner,
        vs_runner_up=paired(runner.decision, ("reached_target", c)) if runner else {},
        vs_today=paired(today, ("reached_target", c, "arr_end", "bookings_total")),
        fresh_seeds=n, skipped=skipped, luck_seeds=luck)


def chosen_results(space: Space, ev: Evaluator, choice: Choice) -> Results:
    """The chosen plan's fresh-seed run as a run's ``Results`` (the searched motion, named
    as in the scenario, with the chosen hires): per-seed metrics, uncertain inputs and the
    luck re-run, from which ``sim.drivers`` estimates what drives its spread."""
    d, n, m = choice.chosen.decision, choice.fresh_seeds, choice.luck_seeds
    name = space.motion.name
    sc = space.scenario.model_copy(update={"motions": [space.motion_for(d, name)],
                                           "compare": [], "plan": None, "seeds": n})

    def runs(frame: pd.DataFrame) -> pd.DataFrame:
        frame.insert(0, "motion", name)
        return frame

    inputs = ev.inputs(d, n, fresh=True)
    inputs.insert(0, "motion", name)
    luck = runs(ev.rows(d, m, fresh=True, luck=1)) if m >= 2 else None
    return Results(sc, runs(ev.rows(d, n, fresh=True)), inputs=inputs, luck_runs=luck,
                   manifest={"seeds": n, "luck_replicate_seeds": m if m >= 2 else 0})
