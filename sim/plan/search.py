"""The search over hiring plans: adaptive seeds, monotone pruning, enumeration or Optuna.

Every candidate is screened on the first ``screen_seeds`` search seeds and
promoted, stage by stage (x4 seeds each: 25, 100, 400 by default), only while it
can still matter:

- its mean cost's 95% lower bound is within every budget cap;
- cheapest-plan goal: its Wilson upper bound reaches ``probability`` and its cost's
  lower bound is below the best feasible plan's cost; while no plan is feasible,
  a plan whose upper bound beats the best probability so far is also promoted
  (an infeasible target is answered by the likeliest plan within the caps);
- likeliest-plan goal (``maximise: p_target``): its upper bound beats the best
  probability so far.

Only plans run on the full seed count can become the incumbent (sample-average
approximation: the plan's estimate on the common seeds). With ``monotone``
(more people on board never lower P(target), nor the S&M and CS spend), plans are
compared by their *cumulative* hires: plan x has at least plan o's team when, for
every role and every listed month, x has hired at least as many as o by then
(more hires, or the same hires earlier). A candidate is skipped unsimulated when
it has at least the team of the incumbent feasible plan (it cannot be cheaper),
at most the team of a plan dropped for its probability, or at least the team of
a plan over a monotone cap.

Small spaces are enumerated cheapest first (by committed salary); larger ones are
proposed by Optuna's TPE sampler (ask/tell, a fixed seed, constraints for the
target and the caps), today's plan enqueued first. Batches have a fixed size, so
the same scenario gives the same plan on any number of workers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from sim.plan.evaluate import Estimate, Evaluator
from sim.plan.space import Decision, Space
from sim.scenario.plan import MONOTONE_COSTS

__all__ = ["BATCH", "PROMOTE", "Record", "Search", "SearchOutcome", "stages"]

BATCH = 16  # candidates screened together (fixed: the search must not depend on workers)
PROMOTE = 4  # candidates promoted together, most promising first


def stages(screen: int, full: int) -> list[int]:
    """Seed counts of the adaptive stages: screen, 4x, 16x, ... up to full."""
    out = [screen]
    while out[-1] * 4 < full:
        out.append(out[-1] * 4)
    if out[-1] != full:
        out.append(full)
    return out


@dataclass
class Record:
    decision: Decision
    order: int  # when it was first screened
    est: Estimate
    stage: int = 0  # index of the last stage it ran on
    dropped: str = ""  # why it was not promoted further ("" while alive or at full)


@dataclass
class SearchOutcome:
    records: list[Record]
    full: int
    stages: list[int]
    method: str  # "enumeration" or "optuna"
    pruned: int  # candidates skipped by monotonicity, never simulated
    proposed: int  # candidates proposed (enumerated or asked), duplicates included
    today: Estimate
    seconds: float
    best: Record | None = None
    history: list[tuple[int, Decision, float, float]] = field(default_factory=list)


class Search:
    def __init__(self, space: Space, evaluator: Evaluator,
                 on_best: Callable[[Record, bool], None] | None = None):
        self.space = space
        self.ev = evaluator
        self.spec = space.spec
        self.on_best = on_best
        s = self.spec.search
        self.stages = stages(s.screen_seeds, s.seeds)
        self.full = len(self.stages) - 1
        self.records: dict[Decision, Record] = {}
        self.best: Record | None = None
        self.pruned = 0
        self.proposed = 0
        self.history: list[tuple[int, Decision, float, float]] = []
        self._p_dropped: list[Decision] = []  # dropped for their probability
        self._over: list[tuple[Decision, str]] = []  # certainly over a monotone cap
        # each role's decision indices in month order (``team``)
        keys = space.keys
        self._by_month = [sorted((i for i, (r, _) in enumerate(keys) if r == role),
                                 key=lambda i: keys[i][1]) for role in self.spec.hires]

    # --- judgements -------------------------------------------------------------------

    def within_caps(self, e: Estimate) -> bool:
        return all(e.cost[m] <= cap for m, cap in self.spec.budget.items())

    def feasible(self, r: Record) -> bool:
        return (r.stage == self.full and self.within_caps(r.est)
                and r.est.p >= self.spec.probability)

    def _better(self, a: Record, b: Record | None) -> bool:
        """Is full-stage record ``a`` a better answer than ``b``?"""
        if b is None:
            return True
        c = self.spec.cost
        ka = (a.est.cost[c], -a.est.p, a.decision)
        kb = (b.est.cost[c], -b.est.p, b.decision)
        if self.spec.minimise is not None:
            fa, fb = self.feasible(a), self.feasible(b)
            if fa != fb:
                return fa
            if fa:
                return ka < kb
        return (-a.est.p, a.est.cost[c], a.decision) < (-b.est.p, b.est.cost[c], b.decision)

    def _consider(self, r: Record) -> None:
        if r.stage == self.full and self.within_caps(r.est) and self._better(r, self.best):
            self.best = r
            self.history.append((len(self.records), r.decision, r.est.p, r.est.cost[self.spec.cost]))
            if self.on_best is not None:
                self.on_best(r, self.feasible(r))

    def _worth(self, r: Record) -> str:
        """'' if ``r`` should run on more seeds, else why not."""
        e = r.est
        for m, cap in self.spec.budget.items():
            if e.cost_low[m] > cap:
                return f"over the {m} cap"
        b = self.best
        if self.spec.minimise is not None:
            if b is not None and self.feasible(b):
                if e.p_high < self.spec.probability:
                    return "cannot reach the probability"
                if e.cost_low[self.spec.cost] >= b.est.cost[self.spec.cost]:
                    return "cannot be cheaper than the best feasible plan"
                return ""
            if e.p_high >= self.spec.probability or b is None or e.p_high > b.est.p:
                return ""
            return "cannot reach the probability nor beat the best so far"
        if b is None or e.p_high > b.est.p:
            return ""
        return "cannot beat the best probability so far"

    def team(self, d: Decision) -> np.ndarray:
        """Cumulative hires by each listed month, role by role: plan x has at least plan
        o's team at every listed month when ``team(x) >= team(o)`` everywhere."""
        out: list[int] = []
        for idx in self._by_month:
            out.extend(np.cumsum([d[i] for i in idx]))
        return np.asarray(out)

    def _dominated(self, d: Decision) -> bool:
        """Skip ``d`` unsimulated: monotonicity says it cannot win (see module docstring)."""
        if not self.spec.search.monotone:
            return False
        x = self.team(d)
        b = self.best
        if (b is not None and self.spec.minimise is not None and self.feasible(b)
                and self.spec.cost in MONOTONE_COSTS and np.all(x >= self.team(b.decision))):
            return True
        if any(np.all(x <= self.team(o)) for o in self._p_dropped):
            return True
        return any(np.all(x >= self.team(o)) for o, _ in self._over)

    # --- running ----------------------------------------------------------------------

    def screen(self, batch: Iterable[Decision]) -> None:
        """Screen a batch of candidates and promote, stage by stage, what is worth it."""
        new: list[Decision] = []
        for d in batch:
            self.proposed += 1
            if d in self.records or d in new:
                continue
            if self._dominated(d):
                self.pruned += 1
                continue
            new.append(d)
        self.ev.ensure(new, self.stages[0])
        alive = []
        for d in new:
            r = Record(d, len(self.records), self.ev.estimate(d, self.stages[0]))
            self.records[d] = r
            alive.append(r)
        for i in range(1, len(self.stages)):
            alive = self._promote(alive, i)
            if not alive:
                break

    def _promote(self, alive: list[Record], i: int) -> list[Record]:
        """Run the plans still worth it on stage ``i``'s seeds, most promising first, a few
        at a time, judging the rest again after each group (the incumbent may have moved)."""
        c = self.spec.cost
        if self.spec.minimise is not None:
            queue = sorted(alive, key=lambda r: (r.est.cost[c], -r.est.p, r.decision))
        else:
            queue = sorted(alive, key=lambda r: (-r.est.p, r.est.cost[c], r.decision))
        promoted: list[Record] = []
        while queue:
            group: list[Record] = []
            while queue and len(group) < PROMOTE:
                r = queue.pop(0)
                why = self._worth(r)
                if why:
                    self._drop(r, why)
                else:
                    group.append(r)
            if not group:
                break
            self.ev.ensure([r.decision for r in group], self.stages[i])
            for r in group:
                r.est, r.stage = self.ev.estimate(r.decision, self.stages[i]), i
                if i == self.full:
                    self._consider(r)
            promoted += group
        return promoted

    def _drop(self, r: Record, why: str) -> None:
        r.dropped = why
        if "probability" in why:
            self._p_dropped.append(r.decision)
        elif why.startswith("over the ") and why.split()[2] in MONOTONE_COSTS:
            self._over.append((r.decision, why))

    def run(self) -> SearchOutcome:
        t0 = time.perf_counter()
        space = self.space
        today = space.today()
        today_est = self.ev.estimate(today, self.stages[-1])
        first = [today] if space.contains(today) else []
        if space.size() <= self.spec.search.enumerate_max:
            method = "enumeration"
            rest = sorted((d for d in space.all() if d != today),
                          key=lambda d: (space.headcount_cost_proxy(d), d))
            todo = first + rest
            for i in range(0, len(todo), BATCH):
                self.screen(todo[i:i + BATCH])
        else:
            method = "optuna"
            self._optuna(first)
        recs = sorted(self.records.values(), key=lambda r: r.order)
        return SearchOutcome(recs, self.stages[-1], self.stages, method, self.pruned,
                             self.proposed, today_est, time.perf_counter() - t0, self.best,
                             self.history)

    def _optuna(self, first: list[Decision]) -> None:
        import warnings

        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        names, bounds = self.space.names, self.space.bounds

        def constraints(trial: optuna.trial.FrozenTrial) -> list[float]:
            return list(trial.user_attrs.get("constraints", [1.0]))

        # Optuna 5 reads constraints set on the trial; earlier versions ask constraints_func
        on_trial = hasattr(optuna.trial.Trial, "set_constraint")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = optuna.samplers.TPESampler(
                seed=self.space.scenario.seed % (2**32), multivariate=True,
                n_startup_trials=min(2 * BATCH, self.spec.search.trials),
                constraints_func=None if on_trial else constraints)
            study = optuna.create_study(
                direction="maximize" if self.spec.maximise is not None else "minimize",
                sampler=sampler)
            for d in first:
                study.enqueue_trial(dict(zip(names, d, strict=True)))
            left = self.spec.search.trials
            while left > 0:
                trials = [study.ask() for _ in range(min(BATCH, left))]
                left -= len(trials)
                batch = [tuple(t.suggest_int(n, lo, hi) for n, (lo, hi) in
                               zip(names, bounds, strict=True)) for t in trials]
                self.screen(batch)
                for t, d in zip(trials, batch, strict=True):
                    r = self.records.get(d)
                    if r is None:
                        study.tell(t, state=optuna.trial.TrialState.PRUNED)
                        continue
                    cons = self._constraints(r.est)
                    if on_trial:
                        for j, v in enumerate(cons):
                            t.set_constraint(f"c{j}", v)
                    else:
                        t.set_user_attr("constraints", cons)
                    value = r.est.p if self.spec.maximise is not None else r.est.cost[
                        self.spec.cost]
                    study.tell(t, value if math.isfinite(value) else 0.0)

    def _constraints(self, e: Estimate) -> list[float]:
        """Optuna's constraint values (> 0 infeasible): target shortfall, cap excesses."""
        out = [] if self.spec.minimise is None else [self.spec.probability - e.p]
        out += [(e.cost[m] - cap) / cap for m, cap in self.spec.budget.items()]
        return out or [0.0]
