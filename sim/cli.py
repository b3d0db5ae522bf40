"""The ``revsim`` command line (INTERFACE.md "Commands").

Exit codes: 0 success; 2 bad input (file, option, scenario), printed as
``file:line: key.path: what was expected`` with no traceback and nothing
written; 1 anything else.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from sim import cli_fit, cli_stress
from sim.cli_common import (
    ExecOpt,
    Executor,
    LuckOnlyOpt,
    OutOpt,
    QuietOpt,
    SchedOpt,
    SeedsOpt,
    Terminated,
    WorkersOpt,
    budget_problems,
    err,
    fail,
    fail_if,
    interrupted,
    out,
    target_dir,
    warn,
)
from sim.cli_help import epilog, metric_help
from sim.plan.command import plan as plan_command
from sim.scenario.errors import Problem, ScenarioError

# Plain (click) help: flags read as flags, and each command's epilog keeps its layout.
app = typer.Typer(
    name="revsim",
    help="Monte Carlo revenue-system simulator: compare go-to-market motions, stress-test plans.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
templates_app = typer.Typer(help="The motion templates and their defaults.", no_args_is_help=False,
                            rich_markup_mode=None)
app.add_typer(templates_app, name="templates")

@app.command(epilog=epilog(
    "Examples:\n  revsim run scenarios/compare_motions.yaml --seeds 500\n"
    "  revsim run a.yaml b.yaml --out results/today --workers 2\n"
    "  revsim run plan.yaml --precision 0.01 --metric arr_end --seeds 4000\n"
    "  revsim run plan.yaml --resume --out results/today", metric_help()))
def run(
    scenarios: Annotated[list[Path], typer.Argument(help="Scenario YAML files.")],
    seeds: SeedsOpt = None,
    workers: WorkersOpt = None,
    out_dir: OutOpt = None,
    executor: ExecOpt = Executor.local,
    scheduler: SchedOpt = None,
    quiet: QuietOpt = False,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Finish an interrupted run (the same --out, or found under results/).")] = False,
    precision: Annotated[float | None, typer.Option(
        "--precision", min=0.0001, max=1.0,
        help="Stop when the 95% CI half-width of --metric is below this share of its mean "
             "(seeds from --min-seeds, doubling, up to --seeds).")] = None,
    metric: Annotated[str, typer.Option("--metric", help="The metric --precision watches.")] = (
        "arr_end"),
    min_seeds: Annotated[int, typer.Option("--min-seeds", min=2,
                                           help="First stage of a --precision run.")] = 100,
    luck_only: LuckOnlyOpt = False,
) -> None:
    """Simulate every motion of every file; write a results folder; print the headline table."""
    from sim.cli_checks import check_options, check_targets, claimed, results_target
    from sim.runner.checkpoint import Checkpoint
    from sim.runner.progress import progress_for
    from sim.runner.results import default_results_dir
    from sim.scenario.loader import load_scenario_with_warnings

    loaded = []
    problems: list[Problem] = []
    for path in scenarios:
        try:
            sc, warnings = load_scenario_with_warnings(path, seeds=seeds)
            loaded.append((path, sc))
            warn(warnings)
        except ScenarioError as e:
            problems += e.problems
    fail_if(problems + check_options(workers, executor.value, scheduler, metric))
    plans = []
    for path, sc in loaded:
        target = results_target(out_dir, sc.name, len(loaded) > 1, default_results_dir(sc))
        if resume and out_dir is None:
            found = Checkpoint.find(target.parent.parent, sc)
            if found is None:
                problems.append(Problem(str(path), None, "", "--resume: no interrupted run of "
                                        "this scenario under results/; run it without --resume"))
                continue
            target = found.with_name(found.name.removesuffix(".partial"))
        plans.append((path, sc, target))
    fail_if(problems + check_targets([(str(p), t) for p, _, t in plans], resume)
            + budget_problems([(str(p), sc) for p, sc, _ in plans], workers))
    from sim.publish import compose
    from sim.runner.api import simulate

    with contextlib.ExitStack() as stack:  # every folder claimed before anything runs
        claims = [stack.enter_context(claimed(t, resume)) for _, _, t in plans]
        for (path, sc, _), claim in zip(plans, claims, strict=True):
            again = f"revsim run {path} --resume" + (f" --out {out_dir}" if out_dir else "")
            try:
                with progress_for(sc, quiet) as on_chunk:
                    res = simulate(sc, workers=workers, executor=executor.value,
                                   scheduler=scheduler, on_chunk=on_chunk,
                                   checkpoint=claim.partial, precision=precision, metric=metric,
                                   min_seeds=min_seeds, luck_only=luck_only)
                saved = compose(res, claim)
            except KeyboardInterrupt as e:
                err.print(escape(f"interrupted: the finished chunks are kept in {claim.partial}; "
                                 f"to finish the run: {again}"), highlight=False, soft_wrap=True)
                raise typer.Exit(143 if isinstance(e, Terminated) else 130) from None
            except OSError as e:
                kept = claim.partial.is_dir() and any(claim.partial.glob("chunk-*"))
                hint = (f"; the finished chunks are kept in {claim.partial}: to finish the run: "
                        f"{again}" if kept else "")
                err.print(escape(f"error: could not write the results ({e}); nothing was "
                                 f"published{hint}"), highlight=False, soft_wrap=True)
                raise typer.Exit(1) from None
            from sim.scenario.checks import unused_after_run

            warn([Problem(str(path), None, "", w) for w in unused_after_run(sc, res.runs)])
            _print_run(res, saved, metric, precision, quiet)


def _print_run(res: object, saved: Path, metric: str, precision: float | None,
               quiet: bool) -> None:
    from sim.report.terminal import headline_table

    p = res.manifest.get("precision")  # type: ignore[attr-defined]
    if p:
        worst = max(p["achieved"].values())
        out.print(f"precision: {metric} known to +/-{worst:.2%} of its mean (target "
                  f"{precision:.2%}) after {p['seeds_run']} seeds", highlight=False, markup=False)
    if not quiet:
        out.print(headline_table(res))  # type: ignore[arg-type]
    out.print(f"results: {saved}", highlight=False, soft_wrap=True, markup=False)
    if not quiet:
        out.print(f"report:  {saved / 'report.html'}", highlight=False, soft_wrap=True,
                  markup=False)


@app.command(epilog=epilog(
    "Examples:\n  revsim validate scenarios/*.yaml\n  revsim validate plan.yaml --show"))
def validate(
    scenarios: Annotated[list[Path], typer.Argument(help="Scenario YAML files.")],
    show: Annotated[bool, typer.Option("--show", help="Print the resolved parameters.")] = False,
) -> None:
    """Check scenario files without simulating."""
    from sim.scenario.loader import load_scenario_with_warnings
    from sim.scenario.resolved import resolved_yaml

    problems: list[Problem] = []
    for path in scenarios:
        try:
            sc, warnings = load_scenario_with_warnings(path)
        except ScenarioError as e:
            problems += e.problems
            continue
        warn(warnings)
        too_big = budget_problems([(str(path), sc)], None)
        if too_big:
            problems += too_big
            continue
        out.print(f"[green]ok[/] {escape(str(path))}: {len(sc.motions)} motion(s), "
                  f"{sc.horizon_months} months, {sc.seeds} seeds", highlight=False)
        if show:
            print(resolved_yaml(sc))
    if problems:
        fail(problems)


# `revsim stress` and `revsim sensitivity` live in their own module (listed here, after validate)
cli_stress.register(app)


@app.command(epilog=epilog("Example:\n  revsim calibrate --seeds 200"))
def calibrate(
    seeds: SeedsOpt = None,
    workers: WorkersOpt = None,
    out_dir: OutOpt = None,
    executor: ExecOpt = Executor.local,
    scheduler: SchedOpt = None,
    quiet: QuietOpt = False,
    template: Annotated[list[str] | None, typer.Option(
        "--template", help="Only these templates (repeatable).")] = None,
) -> None:
    """Every template's simulated figures (median, P10-P90) next to the docs/benchmarks.md ranges;
    exit 1 if a median is outside (a stated conflict between two ranges is not)."""
    from sim.calibration import BENCHMARKS, calibration_section
    from sim.calibration import calibrate as run_calibration
    from sim.cli_checks import check_options, claimed
    from sim.publish import compose
    from sim.report.terminal import section_table
    from sim.scenario.limits import LIMITS, limit_message

    unknown = [t for t in template or [] if t not in BENCHMARKS]
    if unknown:
        fail([Problem("--template", None, "", f"no benchmarks for {', '.join(unknown)}; "
                       f"expected one of: {', '.join(BENCHMARKS)}")])
    fail_if(check_options(workers, executor.value, scheduler))
    if out_dir is not None:
        target_dir(out_dir, None, "calibration")
    n = seeds or 200
    if not 1 <= n <= LIMITS["seeds"].value:
        fail([Problem("--seeds", None, "", limit_message("seeds", n))])
    if not quiet:
        err.print(f"calibrating {len(template or BENCHMARKS)} templates over {n} seeds...")
    try:
        with contextlib.ExitStack() as stack:
            claim = stack.enter_context(claimed(out_dir)) if out_dir is not None else None
            res, table = run_calibration(seeds=n, workers=workers, executor=executor.value,
                                         scheduler=scheduler, templates=template)
            if claim is not None:
                compose(res, claim, files={"calibration.csv": table.to_csv(index=False).encode()})
    except KeyboardInterrupt as e:
        raise interrupted(e) from None
    out.print(section_table(calibration_section(table, n)))
    for r in table[table.status == "conflict"].itertuples():
        out.print(f"[yellow]conflict[/] {r.template}: {r.note}", highlight=False)
    outside = table[table.status == "outside"]
    if len(outside):
        out.print(f"[bold red]{len(outside)} figure(s) outside their benchmark[/]")
        raise typer.Exit(1)
    out.print("[green]every figure inside its benchmark[/]" if not (table.status == "conflict").any()
              else "[green]every figure inside its benchmark or a stated conflict[/]")


@templates_app.callback(invoke_without_command=True)
def templates_default(ctx: typer.Context) -> None:
    """List the templates when no subcommand is given."""
    if ctx.invoked_subcommand is None:
        templates_list()


@templates_app.command("list")
def templates_list() -> None:
    """The motion templates, with a line on each."""
    from rich.table import Table

    from sim.scenario.templates import template_description, template_names

    t = Table("template", "what it is", box=None)
    for name in template_names():
        t.add_row(name, template_description(name))
    out.print(t)


@templates_app.command("show")
def templates_show(name: Annotated[str, typer.Argument(help="Template name.")]) -> None:
    """A template's full defaults as a commented, valid scenario fragment."""
    from sim.scenario.templates import template_fragment, template_names

    if name not in template_names():
        fail([Problem("templates show", None, "", f"unknown template {name!r}; expected one of: "
                       + ", ".join(template_names()))])
    sys.stdout.write(template_fragment(name))


@app.command(epilog=epilog("Example:\n  revsim report results/compare-motions/20261130T090000Z-1a2b3c4d"))
def report(
    results_dir: Annotated[Path, typer.Argument(help="A results folder written by revsim run.")],
) -> None:
    """Rebuild report.html, figures/ and comparison.csv from a saved results folder."""
    from sim.report.html import write_report
    from sim.report.terminal import headline_table
    from sim.runner.results import Results

    if not (results_dir / "manifest.json").is_file() or not (results_dir / "runs.parquet").is_file():
        fail([Problem(str(results_dir), None, "", "not a results folder (no manifest.json and "
                       "runs.parquet); give the folder `revsim run` printed")])
    from sim.calibration import benchmark_section

    res = Results.load(results_dir)
    section = benchmark_section(res)
    path = write_report(res, results_dir, [section] if section else None)
    out.print(headline_table(res))
    out.print(f"report: {path}", highlight=False, soft_wrap=True)


@app.command()
def schema() -> None:
    """The scenario JSON Schema, for editor completion and validation."""
    from sim.scenario.json_schema import scenario_json_schema

    print(json.dumps(scenario_json_schema(), indent=2))


# `revsim fit` and `revsim backtest` live in their own module, `plan` in sim/plan/
cli_fit.register(app)
app.command("plan")(plan_command)


def _on_sigterm(_signum: int, _frame: object) -> None:
    raise Terminated()


def main() -> None:
    """Console entry point: user mistakes exit 2 without a traceback, anything else 1."""
    import signal

    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        rc = app(standalone_mode=False)
    except ScenarioError as e:
        for p in e.problems:
            err.print(f"[bold red]error[/] {escape(str(p))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except (KeyboardInterrupt, typer.Abort) as e:
        err.print("interrupted")
        sys.exit(143 if isinstance(e, Terminated) else 130)
    except Exception as e:
        # usage errors (bad option values, unknown commands) carry their own exit code 2
        show, code = getattr(e, "show", None), getattr(e, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()
            sys.exit(code)
        err.print(f"[bold red]revsim failed:[/] {escape(f'{type(e).__name__}: {e}')}",
                  highlight=False)
        sys.exit(1)
    sys.exit(rc if isinstance(rc, int) else 0)


if __name__ == "__main__":
    main()
