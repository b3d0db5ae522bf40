"""``revsim fit`` and ``revsim backtest``: a motion fitted to a CRM export, and its track record.

Registered on the main app by ``sim.cli``; bad input raises ``ScenarioError``,
which the entry point prints as ``file:row: column: message`` and exits 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console

from sim.scenario.errors import Problem, ScenarioError

__all__ = ["register"]

MapOpt = Annotated[list[str] | None, typer.Option(
    "--map", help="FIELD=COLUMN (repeatable): id, created, closed, stage, amount, owner, source, "
                  "product, segment; history.id/timestamp/stage; subscriptions.customer/start/"
                  "end/arr.")]
WonOpt = Annotated[list[str] | None, typer.Option(
    "--won", help="A stage value of won deals (repeatable; default 'won').")]
LostOpt = Annotated[list[str] | None, typer.Option(
    "--lost", help="A stage value of lost deals (repeatable; default 'lost').")]
StagesOpt = Annotated[str | None, typer.Option(
    "--stages", help="Open stages in order, comma-separated (default: from the history).")]
HistoryOpt = Annotated[Path | None, typer.Option(
    "--history", help="Stage history CSV: id, timestamp, stage (one row per stage entered).")]
SubsOpt = Annotated[Path | None, typer.Option(
    "--subscriptions", help="Subscriptions CSV: customer, start, end, arr.")]
PresetOpt = Annotated[str | None, typer.Option(
    "--preset", help="salesforce, hubspot or pipedrive: their export's columns (README).")]
BootOpt = Annotated[int, typer.Option(
    "--bootstrap", min=0, max=2000,
    help="Replicates for parameter uncertainty (bootstrap over deals up to 10,000 deals, "
         "the likelihood's curvature above).")]


def _spec(export: Path, history: Path | None, subscriptions: Path | None, maps: list[str] | None,
          won: list[str] | None, lost: list[str] | None, stages: str | None,
          preset: str | None) -> object:
    from sim.fit.api import ExportSpec

    return ExportSpec(export, history, subscriptions, maps or [], won or [], lost or [], stages,
                      preset)


def fit(
    export: Annotated[Path, typer.Argument(help="Deals CSV (or .xlsx): one row per deal.")],
    out: Annotated[Path, typer.Option("--out", help="Scenario YAML to write.")],
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Fit on what was known on this date (default: the export's last date).")
    ] = None,
    maps: MapOpt = None,
    won: WonOpt = None,
    lost: LostOpt = None,
    stages: StagesOpt = None,
    history: HistoryOpt = None,
    subscriptions: SubsOpt = None,
    preset: PresetOpt = None,
    bootstrap: BootOpt = 100,
    horizon_months: Annotated[int, typer.Option("--horizon-months", min=1, max=240,
                                                help="Horizon of the scenario.")] = 24,
    template: Annotated[str, typer.Option(
        "--template", help="Template for what an export cannot tell (team, costs).")] = "sales_led",
    by_owner: Annotated[bool, typer.Option("--by-owner",
                                           help="Report the win probability by owner.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --out file.")] = False,
) -> None:
    """Fit a motion to a CRM export; write a scenario `revsim run` accepts."""
    from sim.fit.api import parse_date, run_fit, write_fit
    from sim.fit.motion_fit import FitOptions
    from sim.scenario.templates import template_names

    if out.exists() and not force:
        raise ScenarioError([Problem(str(out), None, "", "exists already; give another --out or "
                                     "--force to replace it")])
    if out.suffix.lower() not in (".yaml", ".yml"):
        raise ScenarioError([Problem(str(out), None, "", "--out is a scenario file: expected a "
                                     ".yaml name")])
    if template not in template_names():
        raise ScenarioError([Problem("--template", None, "", f"unknown template {template!r}; "
                                     f"expected one of: {', '.join(template_names())}")])
    when = parse_date(as_of, "--as-of") if as_of else None
    spec = _spec(export, history, subscriptions, maps, won, lost, stages, preset)
    result = run_fit(spec, when, FitOptions(bootstrap=bootstrap, by_owner=by_owner))  # type: ignore[arg-type]
    written = write_fit(result, out, horizon_months, template)
    console = Console()
    c = result.counts
    console.print(f"fitted {c['deals']:,} deals as of {result.as_of_date.date()}: "
                  f"{c['won']:,} won, {c['lost']:,} lost, {c['open']:,} open, {c['stale']:,} stale; "
                  f"win probability {result.win_rate:.3f} (naive {result.naive['win_rate']:.3f})",
                  highlight=False, soft_wrap=True)
    for why, n in sorted(result.unusable.items()):
        console.print(f"rows not used: {n:,} {why}", highlight=False, soft_wrap=True)
    for p in written:
        console.print(f"wrote {p}", highlight=False, soft_wrap=True)




def backtest(
    export: Annotated[Path, typer.Argument(help="Deals CSV (or .xlsx): one row per deal.")],
    as_of: Annotated[str, typer.Option("--as-of", help="Fit on what was known on this date.")],
    quarters: Annotated[int, typer.Option("--quarters", min=1, max=12,
                                          help="Quarters simulated after each origin.")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write (must not exist).")],
    origins: Annotated[int, typer.Option(
        "--origins", min=0, max=40, help="Also back-test from this many earlier as-of dates, a "
                                         "quarter apart (rolling origin).")] = 0,
    maps: MapOpt = None,
    won: WonOpt = None,
    lost: LostOpt = None,
    stages: StagesOpt = None,
    history: HistoryOpt = None,
    subscriptions: SubsOpt = None,
    preset: PresetOpt = None,
    bootstrap: BootOpt = 100,
    seeds: Annotated[int, typer.Option("--seeds", min=10, help="Simulations per origin.")] = 200,
    workers: Annotated[int | None, typer.Option("--workers", min=1,
                                                help="Worker processes.")] = None,
    template: Annotated[str, typer.Option(
        "--template", help="Template for what an export cannot tell (team, costs).")] = "sales_led",
) -> None:
    """Fit as of a date, simulate the next quarters, compare with what happened."""
    import os
    import shutil
    import tempfile

    from sim.fit.api import load_export, parse_date
    from sim.fit.backtest import run_backtest
    from sim.fit.motion_fit import FitOptions
    from sim.fit.report import backtest_html

    if out.exists():
        raise ScenarioError([Problem(str(out), None, "", "exists already; give a new --out folder")])
    when = parse_date(as_of, "--as-of")
    spec = _spec(export, history, subscriptions, maps, won, lost, stages, preset)
    ex = load_export(spec)  # type: ignore[arg-type]
    first = ex.date(float(ex.deals["created"].min())) if len(ex.deals) else when
    earliest = when - pd_timedelta_days(origins * 365 / 4)
    if earliest <= first:
        raise ScenarioError([Problem("--as-of", None, "", f"the earliest origin {earliest.date()} "
                                     f"is not after the export's first deal {first.date()}: "
                                     "give a later --as-of or fewer --origins")])
    console = Console(stderr=True)
    bt = run_backtest(ex, when, quarters, origins, seeds,
                      FitOptions(bootstrap=bootstrap), template, workers,
                      progress=lambda s: console.print(s, highlight=False))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        bt.table.to_csv(tmp / "backtest.csv", index=False)
        bt.scores.to_csv(tmp / "scores.csv", index=False)
        backtest_html(bt, Path(str(export)).name, quarters, tmp)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    res = Console()
    for r in bt.scores.itertuples():
        if r.forecast == "revsim" and r.n:
            res.print(f"{r.metric}: {r.coverage_p10_p90:.0%} of {r.n} quarters inside P10-P90 "
                      f"(95% interval {r.coverage_low:.0%}-{r.coverage_high:.0%}); WAPE of P50 "
                      f"{r.wape:.1%}, bias {r.bias:+.1%}", highlight=False, soft_wrap=True)
        elif r.n:
            res.print(f"{r.metric}: weighted pipeline WAPE {r.wape:.1%}, bias {r.bias:+.1%}",
                      highlight=False, soft_wrap=True)
    res.print(f"wrote {out}/backtest.csv, scores.csv, report.html", highlight=False,
              soft_wrap=True)


def pd_timedelta_days(days: float) -> pd.Timedelta:
    return pd.Timedelta(days=days)


def register(app: typer.Typer) -> None:
    app.command("fit")(fit)
    app.command("backtest")(backtest)
