"""``make bench`` (fit part): ``revsim fit`` on 100,000 deals with stage history.

    .venv/bin/python benchmarks/fit.py [--deals 100000] [--save]

A synthetic company (``sim.fit.synthetic``: a known motion simulated by revsim,
its deals, stage history and subscriptions written as CSV) of about the given
size is fitted with the command's defaults (above 10,000 deals the parameter
uncertainty comes from the likelihood's curvature; at or below, 100 bootstrap
replicates over deals in one worker process per core). Timed: reading and
checking the files, the fit, writing the scenario and retention.csv; not
timed: generating and writing the synthetic export. Each step's wall time and
CPU time (this process and its workers, ``resource.getrusage``) are recorded,
with the machine's load average, since wall time on a shared machine is mostly
waiting. Target: under 30 s wall on 2 cores. ``--save`` appends the table to
benchmarks/results.md. ``--recovery`` also prints the recovery table: each
stage parameter's truth (the motion's nominal value, which the engine applies
unmodified), what this run realised (``SyntheticCompany.realised``), the
estimate, its 90% interval and the naive estimate.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sim.fit.api import ExportSpec, load_export, write_fit  # noqa: E402
from sim.fit.fitter import fit_export  # noqa: E402
from sim.fit.motion_fit import FitOptions, MotionFit  # noqa: E402
from sim.fit.synthetic import SyntheticCompany, SyntheticMotion, synthetic_company  # noqa: E402

TARGET_S = 30.0


def clock() -> tuple[float, float]:
    """Wall time, and CPU time of this process and its (finished) workers."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter(), me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def recovery_table(company: SyntheticCompany, fit: MotionFit) -> str:
    """Truth, the run's realised sample, estimate, 90% interval and naive, per parameter."""
    point = fit.point()
    names = ["win_rate"] + [f"{s[0]}.{q}" for q in ("advance", "duration_mean")
                            for s in company.motion.stages]
    rows = []
    for k in names:
        lo, hi = fit.uncertainty.interval(k)
        rows.append(f"| {k} | {company.truth[k]:.4g} | {company.realised[k]:.4f} | "
                    f"{point[k]:.4f} | {lo:.4f}-{hi:.4f} | {fit.naive.get(k, float('nan')):.4f} |")
    return ("| parameter | truth | realised | estimate | 90% interval | naive |\n"
            "|---|---|---|---|---|---|\n" + "\n".join(rows))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--deals", type=int, default=100_000)
    ap.add_argument("--save", action="store_true")
    ap.add_argument("--recovery", action="store_true", help="also print the recovery table")
    args = ap.parse_args(argv)
    growth, months = 0.02, 30
    per_month = args.deals * growth / ((1 + growth) ** months - 1)
    t = time.perf_counter()
    company = synthetic_company(SyntheticMotion(leads_per_month=per_month, months=months), seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        files = company.write(Path(tmp))
        made = time.perf_counter() - t
        load0 = os.getloadavg()[0]
        t0, c0 = clock()
        export = load_export(ExportSpec(files["deals"], files["history"], files["subscriptions"]))
        t1, c1 = clock()
        fit = fit_export(export, company.export_date, FitOptions())
        t2, c2 = clock()
        write_fit(fit, Path(tmp) / "fitted.yaml", 24, "sales_led")
        t3, c3 = clock()
    total = t3 - t0
    load = os.getloadavg()[0]
    rows = [("deals", f"{len(company.deals):,}"), ("history rows", f"{len(company.history):,}"),
            ("subscriptions", f"{len(company.subscriptions):,}"),
            ("uncertainty", fit.uncertainty.method),
            ("read and check (wall / CPU)", f"{t1 - t0:.1f} s / {c1 - c0:.1f} s"),
            ("fit (wall / CPU)", f"{t2 - t1:.1f} s / {c2 - c1:.1f} s"),
            ("write scenario (wall / CPU)", f"{t3 - t2:.1f} s / {c3 - c2:.1f} s"),
            ("total (wall)", f"{total:.1f} s (target < {TARGET_S:.0f} s: "
                             f"{'met' if total < TARGET_S else 'MISSED'})"),
            ("total (CPU: this process and its workers)", f"{c3 - c0:.1f} s"),
            ("load average (1 min) at start / end", f"{load0:.1f} / {load:.1f} on "
                                                    f"{os.cpu_count()} cores"),
            ("(generating the company, not timed)", f"{made:.1f} s")]
    table = "| fit benchmark | |\n|---|---|\n" + "\n".join(f"| {a} | {b} |" for a, b in rows)
    print(table)
    if args.recovery:
        print("\n" + recovery_table(company, fit))
    if args.save:
        with (HERE / "results.md").open("a", encoding="utf-8") as fh:
            fh.write(f"\n\n## `revsim fit` on {args.deals:,} deals\n\n" + table + "\n")
    return 0 if total < TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
