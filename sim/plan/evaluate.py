"""Replications of candidate plans on common random numbers, and their estimates.

A plan is evaluated on seed indices ``0..n-1`` of the scenario's root seed (the
*search seeds*); every candidate sees the same seeds, so two plans' estimates
differ by the plans, not by luck. Finalists are re-run on *fresh seeds*, indices
``FRESH + 0 .. FRESH + m-1``: streams no search decision has seen.

The work goes through the runner (``run_chunks``: inline, local pool or Dask), one
scenario per batch whose motions are the batch's candidates. Each finished chunk's
per-seed rows (the metrics in ``KEPT`` and the seed's uncertain inputs) are
appended to the checkpoint folder, if there is one, so an interrupted search
replays from them instead of simulating again. A seed is never simulated twice
for a plan: promotion runs only the seeds a plan has not run yet. Estimates
depend on the seed indices only, never on the worker count or chunking.

A seed may also be run with another *luck replicate* (``luck``: the seed's
inputs, other random draws; sim/engine/rng.py): the chosen plan's first fresh
seeds are, for luck's share of its spread (sim/drivers.py).

Estimates: P(target) as the share of seeds whose ARR at the horizon reaches the
target, with a 95% Wilson score interval (statsmodels); a cost as the mean over
seeds with a 95% Student-t interval.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.metrics import HEADLINE, t_quantile
from sim.plan.space import Decision, Space, decision_of, key
from sim.runner.chunks import Chunk
from sim.runner.executors import run_chunks
from sim.runner.parts import ChunkPart
from sim.scenario.errors import Problem, ScenarioError
from sim.scenario.plan import PLAN_COSTS

__all__ = ["FRESH", "INPUT", "KEPT", "Estimate", "Evaluator", "wilson"]

FRESH = 10_000_000  # first seed index of the validation seeds
# per-seed metrics kept: the target, the costs, and the headline metrics (the chosen plan's
# drivers.csv has each of them)
KEPT = tuple(dict.fromkeys(("reached_target", "arr_end", "bookings_total", "new_customers",
                            *PLAN_COSTS, *HEADLINE)))
INPUT = "input:"  # prefix of an uncertain input's column in the checkpoint's rows
CHECKPOINT_META = "plan-checkpoint.json"


def wilson(successes: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (95% by default)."""
    from statsmodels.stats.proportion import proportion_confint

    if n == 0:
        return 0.0, 1.0
    low, high = proportion_confint(successes, n, alpha=alpha, method="wilson")
    return float(low), float(high)


@dataclass(frozen=True)
class Estimate:
    """A plan on a set of seeds: P(target) with its interval, costs with theirs."""

    n: int
    p: float
    p_low: float
    p_high: float
    cost: dict[str, float]  # metric -> mean over seeds
    cost_low: dict[str, float]
    cost_high: dict[str, float]

    @property
    def se(self) -> float:
        """Binomial standard error of ``p``."""
        return math.sqrt(self.p * (1 - self.p) / self.n) if self.n else math.nan

    @classmethod
    def of(cls, rows: pd.DataFrame) -> Estimate:
        n = len(rows)
        hits = int(rows["reached_target"].sum())
        low, high = wilson(hits, n)
        cost, lo, hi = {}, {}, {}
        for m in PLAN_COSTS:
            x = rows[m].to_numpy(dtype=float)
            x = x[np.isfinite(x)]
            mean = float(x.mean()) if x.size else math.nan
            half = (t_quantile(0.975, x.size - 1) * float(x.std(ddof=1)) / math.sqrt(x.size)
                    if x.size > 1 else math.inf)
            cost[m], lo[m], hi[m] = mean, mean - half, mean + half
        return cls(n, hits / n if n else math.nan, low, high, cost, lo, hi)


class Evaluator:
    """Runs candidate plans on seed ranges and keeps every per-seed row it has seen."""

    def __init__(self, space: Space, workers: int = 1, executor: str = "local",
                 scheduler: str | None = None, checkpoint: Path | None = None,
                 on_batch: Callable[[int], None] | None = None):
        self.space = space
        self.workers = max(1, workers)
        self.executor = executor
        self.scheduler = scheduler
        self.checkpoint = checkpoint
        self.on_batch = on_batch
        self.seed_runs = 0  # seed-plan replications simulated (not read from a checkpoint)
        self.replayed = 0  # ... read back from a checkpoint
        self._rows: dict[tuple[str, int], dict[int, tuple[float, ...]]] = {}  # (plan, luck)
        self._inputs: dict[str, dict[int, dict[str, float]]] = {}  # plan -> seed -> inputs
        self._parts = 0
        self._cluster: Any = None
        # The engine reads some laws through scipy.stats, which it imports on first use
        # (seconds of CPU). A search forks fresh local workers for every batch: imported
        # here, in the parent, every forked worker starts with it instead of importing it.
        import scipy.stats  # noqa: F401

        if checkpoint is not None:
            self._open(checkpoint)

    def close(self) -> None:
        """Stop the local Dask cluster this evaluator started, if any."""
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def _scheduler(self) -> str | None:
        """With ``--executor dask`` and no scheduler, one local cluster serves every batch
        (started on first use), rather than a cluster started and stopped per batch."""
        if self.executor != "dask" or self.scheduler is not None:
            return self.scheduler
        if self._cluster is None:
            from sim.runner.executors import local_cluster

            try:
                self._cluster = local_cluster(self.workers)
            except ImportError:
                return None  # run_chunks says what to install
        return str(self._cluster.scheduler_address)

    # --- checkpoint -------------------------------------------------------------------

    def _open(self, folder: Path) -> None:
        from sim import __version__
        from sim.runner.results import scenario_hash

        # a row depends on the scenario and on what a decision means (the plan's motion and
        # hires), not on the goal, caps or search effort: a search resumed with other
        # settings reuses every replication already run
        sc, spec = self.space.scenario, self.space.spec
        same = sc.model_copy(update={"plan": spec.model_copy(update={
            "probability": 0.5, "minimise": None, "maximise": None, "budget": {},
            "search": type(spec.search)()})})
        meta = {"scenario_hash": scenario_hash(same), "package_version": __version__}
        path = folder / CHECKPOINT_META
        if path.is_file():
            old = json.loads(path.read_text())
            for k, what in (("scenario_hash", "scenario"), ("package_version", "revsim version")):
                if old.get(k) != meta[k]:
                    raise ScenarioError([Problem(str(folder), None, "", (
                        f"cannot resume: the interrupted search had another {what}; "
                        "start a new search instead"))])
            for f in sorted(folder.glob("rows-*.parquet")):
                self._add(pd.read_parquet(f), replayed=True)
                self._parts += 1
            return
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(meta, indent=2))

    def _add(self, runs: pd.DataFrame, replayed: bool = False) -> None:
        cols = list(KEPT)
        luck = runs["luck"] if "luck" in runs else pd.Series(0, index=runs.index)
        names = [c for c in runs.columns if c.startswith(INPUT)]
        for (motion, rep), g in runs.groupby([runs["motion"], luck], sort=False):
            store = self._rows.setdefault((str(motion), int(rep)), {})
            seeds = g["seed"].to_numpy()
            # (a headline metric missing from an older checkpoint's rows is NaN there)
            vals_all = g.reindex(columns=cols).to_numpy(dtype=float)
            for seed, vals in zip(seeds, vals_all, strict=True):
                store[int(seed)] = tuple(vals)
            if int(rep) == 0 and names:
                kept = self._inputs.setdefault(str(motion), {})
                for seed, x in zip(seeds, g[names].to_numpy(dtype=float), strict=True):
                    kept[int(seed)] = {k[len(INPUT):]: float(v) for k, v in zip(names, x, strict=True)
                                       if math.isfinite(v)}
        if replayed:
            self.replayed += len(runs)

    def _finished(self, part: ChunkPart) -> None:
        runs = pd.read_parquet(io.BytesIO(part.tables["runs"]), columns=["motion", "seed", *KEPT])
        runs["luck"] = part.chunk.luck
        inputs = pd.read_parquet(io.BytesIO(part.tables["inputs"]))
        if not inputs.empty:
            inputs = inputs.rename(columns={c: INPUT + c for c in inputs.columns
                                            if c not in ("motion", "seed")})
            runs = runs.merge(inputs, on=["motion", "seed"], how="left", validate="one_to_one")
        if self.checkpoint is not None:
            tmp = self.checkpoint / f".rows-{self._parts:06d}.parquet"
            runs.to_parquet(tmp, index=False)
            tmp.rename(self.checkpoint / f"rows-{self._parts:06d}.parquet")
        self._parts += 1
        self._add(runs)
        self.seed_runs += len(runs)

    # --- evaluation -------------------------------------------------------------------

    def ensure(self, plans: list[Decision], n: int, fresh: bool = False, luck: int = 0) -> None:
        """Make sure every plan has seeds ``0..n-1`` (or the fresh ones) simulated, with
        luck replicate ``luck``; only the seeds a plan has not run yet are simulated."""
        base = FRESH if fresh else 0
        want = range(base, base + n)
        groups: dict[tuple[int, ...], list[Decision]] = {}
        for d in dict.fromkeys(plans):
            have = self._rows.get((key(d), luck), {})
            missing = tuple(s for s in want if s not in have)
            if missing:
                groups.setdefault(missing, []).append(d)
        for missing, ds in groups.items():
            self._run(ds, list(missing), luck)

    def _run(self, plans: list[Decision], seeds: list[int], luck: int = 0) -> None:
        sc = self.space.candidates(plans)
        # contiguous ranges of the missing seeds, cut into chunks of about equal work
        ranges: list[tuple[int, int]] = []
        for s in seeds:
            if ranges and ranges[-1][1] == s:
                ranges[-1] = (ranges[-1][0], s + 1)
            else:
                ranges.append((s, s + 1))
        per_chunk = max(1, math.ceil(len(seeds) / (3 * self.workers)))
        chunks: list[Chunk] = []
        for lo, hi in ranges:
            for start in range(lo, hi, per_chunk):
                chunks.append(Chunk(len(chunks), start, min(hi, start + per_chunk), luck))
        run_chunks(sc, chunks, self.workers, self.executor, self._scheduler(), self._finished)
        if self.on_batch is not None:
            self.on_batch(len(plans) * len(seeds))

    def rows(self, d: Decision, n: int, fresh: bool = False, luck: int = 0) -> pd.DataFrame:
        """The per-seed rows of plan ``d`` on its first ``n`` search (or fresh) seeds."""
        base = FRESH if fresh else 0
        store = self._rows[(key(d), luck)]
        data = [store[s] for s in range(base, base + n)]
        df = pd.DataFrame(data, columns=list(KEPT))
        df.insert(0, "seed", np.arange(base, base + n))
        return df

    def inputs(self, d: Decision, n: int, fresh: bool = False) -> pd.DataFrame:
        """Plan ``d``'s uncertain inputs (a column per key path) on the same seeds as
        ``rows``; no input columns when the motion has no uncertain input."""
        base = FRESH if fresh else 0
        kept = self._inputs.get(key(d), {})
        seeds = np.arange(base, base + n)
        df = pd.DataFrame([kept.get(int(s), {}) for s in seeds])
        df.insert(0, "seed", seeds)
        return df

    def estimate(self, d: Decision, n: int, fresh: bool = False) -> Estimate:
        self.ensure([d], n, fresh)
        return Estimate.of(self.rows(d, n, fresh))

    def known(self) -> list[Decision]:
        return [decision_of(k) for k, luck in self._rows if luck == 0]
