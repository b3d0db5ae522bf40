"""The unit of work: a chunk of seeds of every motion of one scenario.

A chunk is simulated by a worker process (local pool or Dask) and returns
columnar records; the client only concatenates them. Results depend on the seed
indices alone, never on which worker ran them or how seeds were chunked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.engine.forecast import quarterly_forecast
from sim.engine.ledger import funnel, monthly_series
from sim.engine.model import simulate_seed
from sim.engine.rng import Streams
from sim.metrics import seed_metrics
from sim.scenario.schema import Scenario

__all__ = ["Chunk", "ChunkResult", "plan_chunks", "run_chunk"]


@dataclass(frozen=True)
class Chunk:
    index: int
    start: int  # first seed index
    stop: int  # one past the last
    luck: int = 0  # luck replicate (0: the ordinary run; see sim.engine.rng)


@dataclass
class ChunkResult:
    chunk: Chunk
    runs: dict[str, list[Any]]
    monthly: dict[str, np.ndarray]
    forecast: dict[str, np.ndarray]
    funnel: dict[str, np.ndarray]
    inputs: dict[str, list[Any]] = field(default_factory=dict)


def plan_chunks(seeds: int, chunk_size: int, stops: list[int] | tuple[int, ...] = (),
                luck: int = 0) -> list[Chunk]:
    """Chunks of ``chunk_size`` seeds; none straddles a stop (a seed count after which a
    ``--precision`` run may end), so the stops do not depend on chunking or workers.
    ``luck``: the luck replicate every chunk runs (0: the seeds' own streams)."""
    size = max(1, chunk_size)
    cuts = sorted({0, seeds, *(s for s in stops if 0 < s < seeds)})
    starts = [s for a, b in zip(cuts, cuts[1:], strict=False) for s in range(a, b, size)]
    ends = [min(s + size, next(c for c in cuts if c > s)) for s in starts]
    return [Chunk(i, a, b, luck) for i, (a, b) in enumerate(zip(starts, ends, strict=True))]


def default_chunk_size(seeds: int, workers: int) -> int:
    """About four chunks per worker, between 5 and 50 seeds each."""
    return int(min(50, max(5, -(-seeds // max(1, 4 * workers)))))


def _stack(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if not parts:
        return {}
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def run_chunk(scenario: Scenario, chunk: Chunk) -> ChunkResult:
    runs: dict[str, list[Any]] = {"motion": [], "seed": []}
    monthly_parts: list[dict[str, np.ndarray]] = []
    forecast_parts: list[dict[str, np.ndarray]] = []
    funnel_parts: list[dict[str, np.ndarray]] = []
    inputs: dict[str, list[Any]] = {"motion": [], "seed": []}
    for motion in scenario.motions:
        for seed in range(chunk.start, chunk.stop):
            run = simulate_seed(scenario, motion, seed, chunk.luck)
            monthly = monthly_series(run)
            fc = quarterly_forecast(run, Streams(scenario.seed, seed, chunk.luck))
            _add_inputs(inputs, motion.name, seed, run.inputs)
            metrics = seed_metrics(run, monthly, fc, scenario.target_arr)
            runs["motion"].append(motion.name)
            runs["seed"].append(seed)
            for k, v in metrics.items():
                runs.setdefault(k, []).append(v)
            n = run.n_months
            monthly_parts.append({
                "motion": np.full(n, motion.name, dtype=object),
                "seed": np.full(n, seed, dtype=np.int64),
                "month": np.arange(1, n + 1, dtype=np.int64),
                **monthly,
            })
            nq = fc["quarter"].size
            forecast_parts.append({
                "motion": np.full(nq, motion.name, dtype=object),
                "seed": np.full(nq, seed, dtype=np.int64),
                "quarter": fc["quarter"] + 1,
                "forecast": fc["forecast"],
                "actual": fc["actual"],
                "open_opportunities": fc["open_opportunities"],
                "pipeline": fc["pipeline"],
                "backlog": fc["backlog"],
                "run_rate": fc["run_rate"],
                "pilots": fc["pilots"],
            })
            fn = funnel(run)
            n_stages = fn["stage"].size
            funnel_parts.append({
                "motion": np.full(n_stages, motion.name, dtype=object),
                "seed": np.full(n_stages, seed, dtype=np.int64),
                **fn,
            })
    return ChunkResult(chunk, runs, _stack(monthly_parts), _stack(forecast_parts),
                       _stack(funnel_parts), inputs)


def _add_inputs(table: dict[str, list[Any]], motion: str, seed: int,
                record: dict[str, float]) -> None:
    """One row of the inputs table; a key another motion lacks is NaN there."""
    n = len(table["motion"])
    table["motion"].append(motion)
    table["seed"].append(seed)
    for k, v in record.items():
        table.setdefault(k, [np.nan] * n).append(float(v))
    for col in table.values():
        if len(col) == n:
            col.append(np.nan)
