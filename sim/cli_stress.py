"""``revsim stress`` and ``revsim sensitivity``: the scenario's motions under shocks to
their levers, on the same seeds as the baseline (the work is in ``sim/stress.py``).

Registered on the main app by ``sim.cli`` (between ``validate`` and ``calibrate``, so
``revsim --help`` lists the commands in the order they are used).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sim.cli_common import (
    ExecOpt,
    Executor,
    LuckOnlyOpt,
    OutOpt,
    QuietOpt,
    SchedOpt,
    SeedsOpt,
    WorkersOpt,
    budget_problems,
    fail,
    fail_if,
    interrupted,
    load,
    out,
    target_dir,
    warn,
)
from sim.cli_help import epilog, lever_help, metric_help
from sim.scenario.errors import Problem

__all__ = ["register", "sensitivity", "stress"]


STRESS_EPILOG = epilog(
    "Examples:\n  revsim stress plan.yaml --set downturn\n"
    "  revsim stress plan.yaml --shock lead_volume=0.7 --shock win_rate=0.85\n"
    "  revsim stress plan.yaml --all-sets", lever_help())


def stress(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    shock: Annotated[list[str] | None, typer.Option(
        "--shock", help="LEVER=FACTOR, repeatable (e.g. --shock lead_volume=0.7).")] = None,
    set_name: Annotated[str | None, typer.Option(
        "--set", help="A named shock set: the scenario's `stress:` entries or a built-in one.")] = None,
    all_sets: Annotated[bool, typer.Option(
        "--all-sets", help="Run every built-in shock set and every set of the scenario's "
                           "`stress:` against one baseline, into one table.")] = False,
    seeds: SeedsOpt = None,
    workers: WorkersOpt = None,
    out_dir: OutOpt = None,
    executor: ExecOpt = Executor.local,
    scheduler: SchedOpt = None,
    quiet: QuietOpt = False,
    luck_only: LuckOnlyOpt = False,
) -> None:
    """Baseline against shocked plan on the same seeds: paired changes and P(target)."""
    from sim.cli_checks import check_options, claimed, parse_shocks
    from sim.publish import compose
    from sim.report.terminal import currency_symbol, section_table
    from sim.scenario.checks import unused_lever_motions
    from sim.scenario.levers import SHOCK_SETS
    from sim.stress import all_sets_section, run_stress, run_stress_sets, stress_section

    sc = load(scenario, seeds=seeds)
    fail_if(check_options(workers, executor.value, scheduler))
    named = {k: v for k, v in SHOCK_SETS.items() if k not in {s.name for s in sc.stress}} | {
        s.name: s.shocks for s in sc.stress}
    if all_sets:
        if set_name is not None or shock:
            fail([Problem("--all-sets", None, "", "runs every shock set: give it without "
                           "--set or --shock")])
        target = target_dir(out_dir, sc, "stress")
        fail_if(budget_problems([(str(scenario), sc)], workers))
        try:
            with claimed(target) as claim:
                base, table = run_stress_sets(sc, named, workers=workers,
                                              executor=executor.value, scheduler=scheduler,
                                              luck_only=luck_only)
                section = all_sets_section(table, sc.seeds, currency_symbol(sc.currency))
                path = compose(base, claim, extras=[section],
                               files={"stress.csv": table.to_csv(index=False).encode()})
        except KeyboardInterrupt as e:
            raise interrupted(e) from None
        if not quiet:
            out.print(section_table(section))
        out.print(f"results: {path}", highlight=False, soft_wrap=True, markup=False)
        return
    shocks: dict[str, float] = {}
    if set_name is not None:
        if set_name not in named:
            fail([Problem("--set", None, "", f"unknown shock set {set_name!r}; expected one of: "
                           + ", ".join(named))])
        shocks.update(named[set_name])
    parsed, problems = parse_shocks(shock or [])
    fail_if(problems)
    for lever in parsed:
        idle = unused_lever_motions(sc, lever)
        if len(idle) == len(sc.motions):
            fail([Problem("--shock", None, "", f"lever {lever!r} governs nothing in any motion "
                           f"of {sc.name!r}: the shock would change nothing")])
        if idle:
            warn([Problem("--shock", None, "", f"lever {lever!r} changes nothing in "
                           f"{', '.join(idle)}")])
    shocks.update(parsed)
    if not shocks:
        fail([Problem("stress", None, "", "give --shock LEVER=FACTOR, --set NAME or --all-sets "
                       "(built-in sets: " + ", ".join(SHOCK_SETS) + ")")])
    target = target_dir(out_dir, sc, "stress")
    fail_if(budget_problems([(str(scenario), sc)], workers))
    try:
        with claimed(target) as claim:
            res = run_stress(sc, shocks, workers=workers, executor=executor.value,
                             scheduler=scheduler, luck_only=luck_only)
            section = stress_section(res, currency_symbol(sc.currency))
            path = compose(res.shocked, claim, extras=[section],
                           files={"stress.csv": res.deltas.to_csv(index=False).encode()})
    except KeyboardInterrupt as e:
        raise interrupted(e) from None
    if not quiet:
        out.print(section_table(section))
    out.print(f"results: {path}", highlight=False, soft_wrap=True, markup=False)


SENSITIVITY_EPILOG = epilog(
    "Examples:\n  revsim sensitivity plan.yaml --metric arr_end --delta 0.2\n"
    "  revsim sensitivity plan.yaml --metric cac_payback_months --seeds 200",
    lever_help(), metric_help())


def sensitivity(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    metric: Annotated[str, typer.Option("--metric", help="The metric to rank levers by.")] = (
        "arr_end"),
    delta: Annotated[float, typer.Option("--delta", min=0.01, max=0.9,
                                         help="Each lever moves by this share down and up.")] = 0.2,
    seeds: SeedsOpt = None,
    workers: WorkersOpt = None,
    out_dir: OutOpt = None,
    executor: ExecOpt = Executor.local,
    scheduler: SchedOpt = None,
    quiet: QuietOpt = False,
    luck_only: LuckOnlyOpt = False,
) -> None:
    """Tornado: every lever moved down and up by delta, ranked by its swing on the metric."""
    from sim.cli_checks import check_options, claimed
    from sim.publish import compose
    from sim.report.terminal import currency_symbol, section_table
    from sim.stress import run_sensitivity, sensitivity_section, tornado_figure

    sc = load(scenario, seeds=seeds)
    fail_if(check_options(workers, executor.value, scheduler, metric))
    target = target_dir(out_dir, sc, "sensitivity")
    fail_if(budget_problems([(str(scenario), sc)], workers))
    try:
        with claimed(target) as claim:
            base, table = run_sensitivity(sc, metric, delta, workers=workers,
                                          executor=executor.value, scheduler=scheduler,
                                          luck_only=luck_only)
            cur = currency_symbol(sc.currency)
            png = tornado_figure(table, metric, delta, cur) if len(table) else None
            section = sensitivity_section(table, metric, delta, sc.seeds, cur, png)
            files = {"sensitivity.csv": table.to_csv(index=False).encode()}
            if png is not None:
                files["figures/tornado.png"] = png
            path = compose(base, claim, extras=[section], files=files)
    except KeyboardInterrupt as e:
        raise interrupted(e) from None
    if not quiet:
        out.print(section_table(section))
    out.print(f"results: {path}", highlight=False, soft_wrap=True, markup=False)


def register(app: typer.Typer) -> None:
    app.command("stress", epilog=STRESS_EPILOG)(stress)
    app.command("sensitivity", epilog=SENSITIVITY_EPILOG)(sensitivity)
