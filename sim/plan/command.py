"""``revsim plan SCENARIO --out DIR``: search the scenario's ``plan:`` block.

Registered in sim/cli.py. Writes DIR (``plan.yaml``, ``frontier.csv``,
``report.html``, ``figures/``) under a temporary name and renames it when complete.
The evaluations are checkpointed in ``DIR.partial/`` as they finish; an
interrupted search continues with ``--resume`` and, the search being
deterministic, replays to the same plan, simulating only what is missing.
"""

from __future__ import annotations

import shutil
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sim.scenario.errors import Problem, ScenarioError

__all__ = ["plan"]

out = Console() if sys.stdout.isatty() else Console(width=160)
err = Console(stderr=True)


class PlanExecutor(StrEnum):
    local = "local"
    dask = "dask"


def plan(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file with a plan: block.")],
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="Folder for plan.yaml, frontier.csv and report.html (must not exist).")] = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", min=1, help="Worker processes (default: CPU count).")] = None,
    executor: Annotated[PlanExecutor, typer.Option(
        "--executor", help="local processes or a Dask cluster.")] = PlanExecutor.local,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", help="Dask scheduler address, e.g. tcp://host:8786.")] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue an interrupted search into the same --out.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the answer.")] = False,
) -> None:
    """Search hiring plans: the cheapest that reaches the ARR target with the plan's probability."""
    from sim.plan.api import plan_search
    from sim.plan.report import write_outputs
    from sim.plan.search import Record
    from sim.plan.space import Space
    from sim.report.style import money
    from sim.report.terminal import currency_symbol
    from sim.runner.executors import cpu_count
    from sim.runner.results import default_results_dir
    from sim.scenario.loader import load_scenario

    sc = load_scenario(scenario)
    if sc.plan is None:
        raise ScenarioError([Problem(str(scenario), None, "plan", (
            "the scenario has no plan: block; add one naming the roles and months to search, "
            "e.g. plan: {probability: 0.8, minimise: sm_spend_total, hires: {ae: {months: "
            "[1, 4], max: 3}}} (README 'Planning hires')"))])
    if scheduler and executor is not PlanExecutor.dask:
        raise ScenarioError([Problem("--scheduler", None, "", "--scheduler goes with --executor dask")])
    target = out_dir if out_dir is not None else default_results_dir(sc).with_name(
        default_results_dir(sc).name + "-plan")
    partial = target.with_name(target.name + ".partial")
    if target.exists():
        raise ScenarioError([Problem("--out", None, "", f"{target} already exists; choose another "
                                     "folder")])
    if resume and not partial.is_dir():
        raise ScenarioError([Problem("--resume", None, "", f"no interrupted search in {partial}")])
    if not resume and partial.exists():
        raise ScenarioError([Problem("--out", None, "", (
            f"an interrupted search is in {partial}: add --resume to finish it, or choose "
            "another --out"))])

    space = Space.of(sc)
    spec = space.spec
    n_workers = cpu_count() if workers is None else workers
    cur = currency_symbol(sc.currency)

    def on_best(r: Record, feasible: bool) -> None:
        if quiet:
            return
        what = "best feasible" if feasible else "best so far (target not reached)"
        out.print(escape(f"  {what}: {space.label(r.decision)}  P(target) {r.est.p:.0%} "
                         f"[{r.est.p_low:.0%}, {r.est.p_high:.0%}] on {r.est.n} seeds, "
                         f"{spec.cost} {money(r.est.cost[spec.cost], cur)}"), highlight=False)

    def on_validate() -> None:
        if not quiet:
            out.print(f"validating up to {spec.search.finalists} finalist(s) and today's plan on "
                      f"{spec.search.validate_seeds:,} fresh seeds...", highlight=False)

    if not quiet:
        out.print(f"searching {space.size():,} hiring plans of motion "
                  f"'{escape(space.motion.name)}' ({', '.join(space.names)}) on "
                  f"{n_workers} worker(s)...", highlight=False)
    try:
        res = plan_search(sc, n_workers, executor.value, scheduler, partial, on_best, on_validate)
    except KeyboardInterrupt:
        err.print(f"interrupted: the finished evaluations are kept in {partial}; to finish: "
                  f"revsim plan {scenario} --out {target} --resume", highlight=False,
                  soft_wrap=True)
        raise
    outcome, choice, timing = res.outcome, res.choice, res.timing
    saved = write_outputs(target, scenario, res.space, res.evaluator, outcome, choice, timing, cur)
    shutil.rmtree(partial, ignore_errors=True)
    out.print(escape(_answer(res.space, choice, cur)), highlight=False)
    if not quiet:
        out.print(_work_table(outcome, choice, timing))
    out.print(f"plan:    {saved / 'plan.yaml'}", highlight=False, soft_wrap=True)
    out.print(f"report:  {saved / 'report.html'}", highlight=False, soft_wrap=True)


def _answer(space: object, choice: object, cur: str) -> str:
    from sim.plan.report import answer_text

    return answer_text(space, choice, cur)  # type: ignore[arg-type]


def _work_table(outcome: object, choice: object, timing: dict[str, Any]) -> Table:
    from sim.plan.report import work_rows

    t = Table("stage", "seeds per plan", "plans", "seed runs", box=None, title="Evaluated plans",
              title_justify="left")
    for row in work_rows(outcome, choice, timing):  # type: ignore[arg-type]
        t.add_row(*row)
    return t
