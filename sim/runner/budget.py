"""How big a run is before it starts: expected leads per seed, time and memory.

The expected number of leads (and activated sign-ups) of one seed is read off
the engine's own arrival intensities (``sim.engine.sources.build_sources`` on the
motion's mean parameters), so every source counts, present and future, with its
growth, headcount and ramp. Past ``LIMITS["leads_per_seed"]`` the scenario is
refused (one seed would need gigabytes); past ``HEAVY_SECONDS`` of estimated
time or ``HEAVY_BYTES`` of memory the user is told before the run starts.

The cost model is linear, ``seconds per seed = BASE_SECONDS + PER_LEAD_SECONDS x
leads``, fitted on this engine (CPU time of the sales_led template over 24
months: 25 ms a seed at 2,100 leads, 206 ms at 48,900); memory is the seed's
lead and customer rows in a worker, plus the per-seed table of the run in the
client.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.engine.rng import Streams
from sim.engine.sources import STEP_DAYS, build_sources
from sim.engine.team import MONTH_DAYS, build_roster
from sim.runner.executors import cpu_count
from sim.scenario.errors import Problem
from sim.scenario.limits import LIMITS, limit_message
from sim.scenario.schema import Motion, Scenario

__all__ = ["Estimate", "estimate", "expected_leads"]

BASE_SECONDS = 0.017
PER_LEAD_SECONDS = 4e-6
BYTES_PER_LEAD = 400  # the lead row, its events and the customer row it may become
BYTES_PER_SEED_ROW = 600  # one row of runs (every metric) per motion and seed, in the client
HEAVY_SECONDS = 15 * 60
HEAVY_BYTES = 2 * 2**30


@dataclass
class Estimate:
    seconds: float = 0.0
    worker_bytes: float = 0.0
    client_bytes: float = 0.0
    leads: dict[str, float] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def heavy(self) -> bool:
        return self.seconds > HEAVY_SECONDS or max(self.worker_bytes, self.client_bytes) > HEAVY_BYTES

    def warning(self) -> str:
        worst = max(self.leads, key=self.leads.__getitem__) if self.leads else ""
        return (f"warning: a heavy run: about {_duration(self.seconds)} and "
                f"{self.worker_bytes / 2**30:.1f} GB per worker, {self.client_bytes / 2**30:.1f} "
                f"GB in the main process (estimated; motion '{worst}' brings about "
                f"{self.leads.get(worst, 0):,.0f} leads a seed). Use fewer --seeds, or "
                "--precision to stop once the answer is known")


def expected_leads(scenario: Scenario, motion: Motion) -> float:
    """Expected leads plus activated sign-ups of one seed (mean parameters; the busiest
    phase's motion over the whole horizon, an upper estimate for a phased motion)."""
    n_months = scenario.horizon_months
    streams = Streams(scenario.seed, 0)
    best = 0.0
    for m in [motion, *motion.phase_motions]:
        roster = build_roster(m.team, scenario.initial.reps, n_months * MONTH_DAYS, streams)
        total = 0.0
        for g in build_sources(m.sources, roster, n_months, streams):
            n = float(np.sum(g.per_day) * STEP_DAYS)
            if g.name == "signups" and m.sources.signups is not None:
                act = m.sources.signups.activation_rate
                n *= float(act if isinstance(act, int | float) else act.mean)
            total += n
        best = max(best, total)
    return best + scenario.initial.customers.count + sum(d.count for d in scenario.initial.pipeline)


def estimate(scenario: Scenario, workers: int | None = None, file: str = "<scenario>"
             ) -> Estimate:
    """Leads per seed of each motion (problems past the limit), time and memory."""
    est = Estimate()
    cap = LIMITS["leads_per_seed"].value
    for i, m in enumerate(scenario.motions):
        n = expected_leads(scenario, m)
        est.leads[m.name] = n
        if n > cap:
            est.problems.append(Problem(file, None, f"motions[{i}].sources",
                                        limit_message("leads_per_seed", n)))
    n_workers = max(1, workers or cpu_count())
    per_seed = sum(BASE_SECONDS + PER_LEAD_SECONDS * n for n in est.leads.values())
    est.seconds = scenario.seeds * per_seed / min(n_workers, scenario.seeds)
    est.worker_bytes = max(est.leads.values(), default=0.0) * BYTES_PER_LEAD
    est.client_bytes = scenario.seeds * len(scenario.motions) * BYTES_PER_SEED_ROW
    return est


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
