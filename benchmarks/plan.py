"""How long `revsim plan` takes, stage by stage, on scenarios/plan.yaml with its default search.

The issue's target: a sales-led scenario with 2 roles x 4 months (scenarios/plan.yaml:
AE 0..3 and SDR 0..2 hires in months 1, 4, 7 and 10, 20,736 plans) searched with the
default settings within 10 minutes on 2 cores. This runs the search as the command
does (``plan_search`` on the local pool, then the outputs written as ``revsim plan``
writes them) and counts, per stage, the plans run, the seed runs simulated, the
batches (one local pool per batch) and the time: wall clock, and CPU of this
process and of its worker processes (``resource.getrusage``, children included),
since the wall clock of a shared machine says more about the others' load.

```sh
make bench BENCH_PLAN=1                       # also runs this (about 7 minutes, 2 cores)
.venv/bin/python benchmarks/plan.py           # the table on stdout
.venv/bin/python benchmarks/plan.py --save    # ... and appended to benchmarks/results.md
```
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import sim.plan.api as plan_api  # noqa: E402
from sim.plan.evaluate import Evaluator  # noqa: E402
from sim.plan.report import write_outputs  # noqa: E402
from sim.plan.search import stages  # noqa: E402
from sim.report.terminal import currency_symbol  # noqa: E402
from sim.scenario.loader import load_scenario  # noqa: E402


def cpu() -> float:
    """CPU seconds of this process and its finished children."""
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


class Stats:
    def __init__(self) -> None:
        self.plans: dict[str, set[Any]] = defaultdict(set)
        self.seed_runs: dict[str, int] = defaultdict(int)
        self.batches: dict[str, int] = defaultdict(int)
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.seeds: dict[str, int] = {}


STATS = Stats()


class CountingEvaluator(Evaluator):
    """The search's evaluator, counting plans, seed runs, batches and time per stage."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        s = self.space.spec.search
        self.rungs = stages(s.screen_seeds, s.seeds)
        self.seen: set[tuple[Any, int, int]] = set()  # (plan, seed, luck) asked for so far

    def ensure(self, plans: list[Any], n: int, fresh: bool = False, **kw: Any) -> None:
        luck = kw.get("luck", 0)
        if luck:
            name = "chosen plan, other luck"
        elif fresh:
            name = "validate (fresh seeds)"
        else:
            i = self.rungs.index(n) if n in self.rungs else len(self.rungs) - 1
            name = ("screen" if i == 0 else "full" if i == len(self.rungs) - 1
                    else f"promote {i}")
        # what a search without a checkpoint simulates here: the seeds not asked for before,
        # in one batch per set of plans missing the same seeds (as Evaluator.ensure runs them)
        base = 10_000_000 if fresh else 0
        groups: dict[tuple[int, ...], list[Any]] = {}
        for d in dict.fromkeys(plans):
            missing = tuple(x for x in range(base, base + n) if (d, x, luck) not in self.seen)
            self.seen.update((d, x, luck) for x in missing)
            if missing:
                groups.setdefault(missing, []).append(d)
        for missing, ds in groups.items():
            STATS.plans[name].update(ds)
            STATS.seed_runs[name] += len(missing) * len(ds)
            STATS.batches[name] += 1
            STATS.seeds[name] = n
        w0, c0 = time.perf_counter(), cpu()
        super().ensure(plans, n, fresh, **kw)
        STATS.wall[name] += time.perf_counter() - w0
        STATS.cpu[name] += cpu() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scenario", nargs="?", default=str(ROOT / "scenarios" / "plan.yaml"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--save", action="store_true", help="append the table to benchmarks/results.md")
    ap.add_argument("--out", type=Path, help="keep the outputs (plan.yaml, report.html...) there")
    ap.add_argument("--checkpoint", type=Path, help="keep (or replay) the evaluations there: "
                    "the counts are those of a search without one, the times are not")
    args = ap.parse_args()

    load = os.getloadavg()[0]
    sc = load_scenario(Path(args.scenario))
    plan_api.Evaluator = CountingEvaluator  # type: ignore[misc]
    w0, c0 = time.perf_counter(), cpu()
    res = plan_api.plan_search(sc, workers=args.workers, checkpoint=args.checkpoint)
    search_wall, search_cpu = time.perf_counter() - w0, cpu() - c0
    w1, c1 = time.perf_counter(), cpu()
    with tempfile.TemporaryDirectory() as tmp:
        write_outputs(args.out or Path(tmp) / "out", Path(args.scenario), res.space,
                      res.evaluator, res.outcome, res.choice, res.timing,
                      currency_symbol(sc.currency))
    out_wall, out_cpu = time.perf_counter() - w1, cpu() - c1
    total_wall, total_cpu = time.perf_counter() - w0, cpu() - c0

    order = ["screen", *[f"promote {i}" for i in range(1, 10)], "full",
             "validate (fresh seeds)", "chosen plan, other luck"]
    names = [k for k in order if k in STATS.wall]
    rows = [["Stage", "Seeds per plan", "Plans run", "Seed runs", "Batches", "Wall (s)",
             "CPU (s)"]]
    for k in names:
        rows.append([k, f"{STATS.seeds.get(k, 0):,}", f"{len(STATS.plans[k]):,}",
                     f"{STATS.seed_runs[k]:,}", f"{STATS.batches[k]:,}", f"{STATS.wall[k]:.0f}",
                     f"{STATS.cpu[k]:.0f}"])
    sim_wall, sim_cpu = sum(STATS.wall.values()), sum(STATS.cpu.values())
    rows.append(["search logic, Optuna, estimates", "", "", "", "",
                 f"{search_wall - sim_wall:.0f}", f"{search_cpu - sim_cpu:.0f}"])
    rows.append(["outputs (figures, drivers, report)", "", "", "", "", f"{out_wall:.0f}",
                 f"{out_cpu:.0f}"])
    rows.append(["**total**", "", f"{len(res.outcome.records):,} screened",
                 f"{sum(STATS.seed_runs.values()):,}", f"{sum(STATS.batches.values()):,}",
                 f"{total_wall:.0f}", f"{total_cpu:.0f}"])
    o, ch = res.outcome, res.choice
    c = res.space.spec.cost
    lines = [
        f"- scenario: {Path(args.scenario).name}, {res.space.size():,} plans, method "
        f"{o.method}, {o.proposed:,} proposals, {len(o.records):,} screened, {o.pruned:,} "
        f"skipped by monotonicity; rungs {', '.join(str(x) for x in o.stages)} search seeds, "
        f"{ch.fresh_seeds:,} fresh seeds",
        f"- finalists re-run on fresh seeds: {len(ch.finalists):,} (and today's plan); not "
        f"re-run, certainly costlier than a plan that reached the probability: "
        f"{len(getattr(ch, 'skipped', [])):,}",
        f"- chosen: {res.space.label(ch.chosen.decision)}; P(target) fresh {ch.chosen.fresh.p:.1%} "
        f"[{ch.chosen.fresh.p_low:.1%}, {ch.chosen.fresh.p_high:.1%}] (search "
        f"{ch.chosen.search.p:.1%} on {ch.chosen.search.n:,}), {c} "
        f"{ch.chosen.fresh.cost[c]:,.0f}",
        f"- today's plan: {res.space.label(ch.today.decision)}; P(target) fresh "
        f"{ch.today.fresh.p:.1%} [{ch.today.fresh.p_low:.1%}, {ch.today.fresh.p_high:.1%}], "
        f"{c} {ch.today.fresh.cost[c]:,.0f}",
        f"- {args.workers} local workers; CPU = this process and its workers (user + system); "
        f"1-minute load average at start {load:.2f} on {os.cpu_count()} CPUs",
    ]
    table = "\n".join("| " + " | ".join(r) + " |" + ("\n|" + "---|" * len(r) if i == 0 else "")
                      for i, r in enumerate(rows))
    print(table)
    print("\n".join(lines))
    if args.save:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, cwd=ROOT).stdout.strip()
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        with (HERE / "results.md").open("a", encoding="utf-8") as fh:
            fh.write(f"\n## Plan search (`benchmarks/plan.py`)\n\n- date: {stamp}, commit "
                     f"{commit}, python {platform.python_version()}\n" + "\n".join(lines)
                     + "\n\n" + table + "\n")


if __name__ == "__main__":
    main()
