"""``make bench`` (fit part): ``revsim fit`` on 100,000 deals with stage history.

    .venv/bin/python benchmarks/fit.py [--deals 100000] [--save]

A synthetic company (``sim.fit.synthetic``: a known motion simulated by revsim,
its deals, stage history and subscriptions written as CSV) of about the given
size is fitted with the command's defaults (above 10,000 deals the parameter
uncertainty comes from the likelihood's curvature). Timed: reading and
checking the files, the fit, writing the scenario and retention.csv. Target:
under 30 s on 2 cores. ``--save`` appends the table to benchmarks/results.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sim.fit.api import ExportSpec, load_export, write_fit  # noqa: E402
from sim.fit.fitter import FitOptions, fit_export  # noqa: E402
from sim.fit.synthetic import SyntheticMotion, synthetic_company  # noqa: E402

TARGET_S = 30.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--deals", type=int, default=100_000)
    ap.add_argument("--save", action="store_true")
    args = ap.parse_args(argv)
    growth, months = 0.02, 30
    per_month = args.deals * growth / ((1 + growth) ** months - 1)
    t = time.perf_counter()
    company = synthetic_company(SyntheticMotion(leads_per_month=per_month, months=months), seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        files = company.write(Path(tmp))
        made = time.perf_counter() - t
        c0, t0 = time.process_time(), time.perf_counter()
        export = load_export(ExportSpec(files["deals"], files["history"], files["subscriptions"]))
        t1 = time.perf_counter()
        fit = fit_export(export, company.export_date, FitOptions())
        t2 = time.perf_counter()
        write_fit(fit, Path(tmp) / "fitted.yaml", 24, "sales_led")
        t3, c3 = time.perf_counter(), time.process_time()
    total = t3 - t0
    load = os.getloadavg()[0]
    rows = [("deals", f"{len(company.deals):,}"), ("history rows", f"{len(company.history):,}"),
            ("subscriptions", f"{len(company.subscriptions):,}"),
            ("uncertainty", fit.uncertainty.method),
            ("read and check", f"{t1 - t0:.1f} s"), ("fit", f"{t2 - t1:.1f} s"),
            ("write scenario", f"{t3 - t2:.1f} s"),
            ("total (wall)", f"{total:.1f} s (target < {TARGET_S:.0f} s: "
                             f"{'met' if total < TARGET_S else 'MISSED'})"),
            ("total (CPU time of this process)", f"{c3 - c0:.1f} s"),
            ("load average during the run", f"{load:.1f} on {os.cpu_count()} cores"),
            ("(generating the company, not timed)", f"{made:.1f} s")]
    table = "| fit benchmark | |\n|---|---|\n" + "\n".join(f"| {a} | {b} |" for a, b in rows)
    print(table)
    if args.save:
        with (HERE / "results.md").open("a", encoding="utf-8") as fh:
            fh.write("\n\n## `revsim fit` on 100,000 deals\n\n" + table + "\n")
    return 0 if total < TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
