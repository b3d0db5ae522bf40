"""``make bench``: the engine's speed on the standard workload, against a reference model.

    .venv/bin/python benchmarks/run.py [--seeds N] [--save] [--no-dask]

Measures, in one run (see benchmarks/README.md for what each figure means):

- the engine (``sim.simulate`` on benchmarks/standard.yaml) with 1 worker, 2
  local workers and, unless ``--no-dask`` or dask is missing, 2 Dask workers:
  once with the LocalCluster start-up inside the timed call
  (``executor='dask'``) and once on a cluster already running and warmed
  (``scheduler=<address>``);
- the reference model (benchmarks/reference.py, process-per-lead simpy) over
  ``min(N, 50)`` seeds, serially;
- the engine/reference time ratio, and a sanity check that the two agree on
  the mean results per seed (they model the same workload);
- peak RSS of this process and of its largest child.

``--save`` also writes the tables as Markdown to benchmarks/results.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import logging
import math
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for p in (str(ROOT), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)

from reference import run_reference  # noqa: E402

from sim import load_scenario, simulate  # noqa: E402

SCENARIO = HERE / "standard.yaml"
RESULTS = HERE / "results.md"
REFERENCE_SEEDS = 50
DASK_TARGET_SEEDS = 1000

TARGET_RATIO = 0.2  # engine ms/seed (1 worker) <= 0.2 x reference ms/seed
TARGET_SPEEDUP = 1.8  # 2 local workers >= 1.8 x 1 worker
TARGET_DASK = 0.10  # Dask overhead <= 10% of local, 2 workers, at 1,000 seeds
AGREE_Z = 3.0  # |difference| / standard error below which engine and reference agree

# (engine column of Results.runs, reference key, label, format)
COMPARED = [
    ("leads_total", "leads", "leads", "{:,.1f}"),
    ("opportunities_created", "opportunities", "opportunities", "{:,.1f}"),
    ("new_customers", "wins", "wins", "{:,.2f}"),
    ("bookings_total", "bookings", "bookings", "{:,.0f}"),
    ("arr_end", "arr_end", "ARR at the end", "{:,.0f}"),
]


@dataclass
class Timing:
    label: str
    seeds: int
    wall: float  # seconds, around the whole call
    extra: dict = field(default_factory=dict)

    @property
    def ms_per_seed(self) -> float:
        return 1000.0 * self.wall / self.seeds

    @property
    def seeds_per_s(self) -> float:
        return self.seeds / self.wall


def timed(label: str, seeds: int, fn):
    t0 = time.perf_counter()
    out = fn()
    return Timing(label, seeds, time.perf_counter() - t0), out


def rss_mb(who: int) -> float:
    """Peak resident set size in MB (ru_maxrss is in KB on Linux, bytes on macOS)."""
    r = resource.getrusage(who).ru_maxrss
    return r / (1024 * 1024) if sys.platform == "darwin" else r / 1024


def mean_se(v: np.ndarray) -> tuple[float, float]:
    v = np.asarray(v, dtype=float)
    se = float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else float("nan")
    return float(v.mean()), se


def have_dask() -> bool:
    return (importlib.util.find_spec("dask") is not None
            and importlib.util.find_spec("distributed") is not None)


# -- measurements ----------------------------------------------------------------


def bench_engine(n: int, use_dask: bool, say) -> dict:
    sc = load_scenario(SCENARIO)
    say("warm-up: engine, 4 seeds, 1 worker")
    simulate(sc, seeds=4, workers=1)

    say(f"engine: {n} seeds, 1 worker")
    t1, res1 = timed("1 worker", n, lambda: simulate(sc, seeds=n, workers=1))
    say(f"engine: {n} seeds, 2 local workers")
    t2, _ = timed("2 workers, local", n, lambda: simulate(sc, seeds=n, workers=2))
    out = {"scenario": sc, "t1": t1, "t2": t2, "runs": res1.runs,
           "dask_cold": None, "dask_warm": None, "dask_startup": None}

    if use_dask:
        logging.getLogger("distributed").setLevel(logging.ERROR)
        say(f"engine: {n} seeds, Dask, 2 workers (cluster start-up included)")
        out["dask_cold"], _ = timed("2 workers, Dask (start-up included)", n,
                                    lambda: simulate(sc, seeds=n, workers=2, executor="dask"))
        from dask.distributed import LocalCluster

        from sim.runner.executors import local_cluster

        say("engine: Dask, 2 workers on a running cluster")
        t0 = time.perf_counter()
        cluster = local_cluster(2, LocalCluster)  # as `--executor dask` starts one
        out["dask_startup"] = time.perf_counter() - t0
        try:
            addr = cluster.scheduler_address
            simulate(sc, seeds=4, workers=2, executor="dask", scheduler=addr)  # warm the workers
            out["dask_warm"], _ = timed(
                "2 workers, Dask (cluster running)", n,
                lambda: simulate(sc, seeds=n, workers=2, executor="dask", scheduler=addr))
        finally:
            cluster.close()
    # this process ran the 1-worker seeds; children are the pool and Dask workers
    out["rss_self"] = rss_mb(resource.RUSAGE_SELF)
    out["rss_children"] = rss_mb(resource.RUSAGE_CHILDREN)
    return out


def bench_reference(n: int, say) -> tuple[Timing, list[dict]]:
    say(f"reference: {n} seeds, serial")
    rows: list[dict] = []
    t, _ = timed("reference", n, lambda: rows.extend(run_reference(s) for s in range(n)))
    return t, rows


# -- tables ----------------------------------------------------------------------


def status(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


TIMING_HEAD = ["Run", "Seeds", "Wall (s)", "ms/seed", "Seeds/s"]
TARGET_HEAD = ["Figure", "Measured", "Target", "Status"]
SANITY_HEAD = ["Mean per seed", "Engine ± SE", "Reference ± SE", "Diff", "z", "Agree"]


def timing_rows(e: dict, ref: Timing) -> list[list[str]]:
    names = {"t1": "engine, 1 worker", "t2": "engine, 2 local workers",
             "dask_cold": "engine, Dask 2 workers, start-up incl.",
             "dask_warm": "engine, Dask 2 workers, cluster running"}
    rows = []
    for key, name in names.items():
        t = e[key]
        if t is not None:
            rows.append([name, str(t.seeds), f"{t.wall:.2f}", f"{t.ms_per_seed:.1f}",
                         f"{t.seeds_per_s:.1f}"])
    if e["dask_startup"] is not None:
        rows.append(["Dask LocalCluster start-up (2 workers)", "", f"{e['dask_startup']:.2f}",
                     "", ""])
    if e["dask_cold"] is None:
        rows.append(["engine, Dask (skipped)", "", "", "", ""])
    rows.append(["reference (process per lead), serial", str(ref.seeds), f"{ref.wall:.2f}",
                 f"{ref.ms_per_seed:.1f}", f"{ref.seeds_per_s:.1f}"])
    return rows


def target_rows(n: int, e: dict, ref: Timing) -> list[list[str]]:
    t1, t2 = e["t1"], e["t2"]
    ratio = t1.ms_per_seed / ref.ms_per_seed
    speedup = t1.wall / t2.wall
    rows = [
        ["engine / reference, ms/seed (1 worker)", f"{ratio:.3f}x", f"<= {TARGET_RATIO}x",
         status(ratio <= TARGET_RATIO)],
        ["speed-up, 2 local workers over 1", f"{speedup:.2f}x", f">= {TARGET_SPEEDUP}x",
         status(speedup >= TARGET_SPEEDUP)],
    ]
    judged = n >= DASK_TARGET_SEEDS
    for key, what in (("dask_cold", "start-up incl."), ("dask_warm", "cluster running")):
        t = e[key]
        if t is not None:
            over = t.wall / t2.wall - 1.0
            rows.append([f"Dask overhead vs local, 2 workers, {what}", f"{over:+.1%}",
                         f"<= {TARGET_DASK:.0%} at {DASK_TARGET_SEEDS:,} seeds",
                         status(over <= TARGET_DASK) if judged else f"n/a at {n}"])
    rows.append(["peak RSS, client process (RUSAGE_SELF)", f"{e['rss_self']:.0f} MB", "", ""])
    rows.append(["peak RSS, largest child (RUSAGE_CHILDREN)", f"{e['rss_children']:.0f} MB",
                 "", ""])
    return rows


def sanity_rows(runs, ref_rows: list[dict]) -> tuple[list[list[str]], list[str]]:
    rows, bad = [], []
    for ecol, rkey, label, fmt in COMPARED:
        em, es = mean_se(runs[ecol].to_numpy())
        rm, rs = mean_se(np.array([r[rkey] for r in ref_rows]))
        se = math.sqrt(es * es + rs * rs)
        z = (em - rm) / se if se > 0 else float("nan")
        ok = abs(z) < AGREE_Z
        if not ok:
            bad.append(label)
        rows.append([label, f"{fmt.format(em)} ± {fmt.format(es)}",
                     f"{fmt.format(rm)} ± {fmt.format(rs)}",
                     f"{(em - rm) / rm:+.2%}" if rm else "", f"{z:+.2f}",
                     "yes" if ok else "NO"])
    return rows, bad


def notes(n: int, e: dict, ref: Timing, bad: list[str], load: float | None) -> list[str]:
    out = [
        f"Engine: {n} seeds of benchmarks/standard.yaml, timed around the whole `simulate` "
        f"call after a 4-seed warm-up. Reference: {ref.seeds} seeds of benchmarks/reference.py, "
        "serially in this process.",
        f"Sanity: engine and reference agree when |z| < {AGREE_Z:g}, z = difference / "
        "sqrt(SE_engine² + SE_reference²). Wins and bookings must agree.",
    ]
    if n < DASK_TARGET_SEEDS and e["dask_cold"] is not None:
        out.append(
            f"Dask overhead is mostly a fixed cost (cluster start-up, scattering the scenario, "
            f"task round trips) spread over the seeds: at {n} seeds it is larger than at the "
            f"{DASK_TARGET_SEEDS:,} seeds the 10% target is set for, so it is not judged here "
            f"(run with --seeds {DASK_TARGET_SEEDS}).")
    window = float(e["scenario"].motions[0].retention.early_window_days)
    if window > 0:
        out.append(
            f"standard.yaml inherits early_window_days: {window:g} from the sales_led template: "
            "the engine applies no monthly churn at renewals inside that window, the reference "
            "churns at every monthly anniversary, so the engine's ARR at the end is expected "
            "about 1/0.99² - 1 ≈ 2% higher (retention.early_window_days: 0 in standard.yaml "
            "would make the two models the same).")
    if load is not None and load > 0.5:
        out.append(f"The machine was not idle (1-minute load average {load:.2f} at start): "
                   "timings, the speed-up above all, are noisy.")
    if bad:
        out.append("Disagreement beyond the threshold on: " + ", ".join(bad) + ".")
    return out


TABLES = [("Timings", TIMING_HEAD), ("Targets", TARGET_HEAD),
          ("Sanity: engine vs reference, same workload", SANITY_HEAD)]


def print_tables(title: str, tables: list[list[list[str]]], note_lines: list[str]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # plain text fallback
        print(title)
        for (name, head), rows in zip(TABLES, tables, strict=True):
            print(f"\n{name}\n" + " | ".join(head))
            for r in rows:
                print(" | ".join(r))
        print()
        for line in note_lines:
            print("- " + line)
        return
    console = Console(width=None if sys.stdout.isatty() else 110)
    console.print(f"[bold]{title}[/]")
    colours = {"PASS": "green", "MISS": "red", "NO": "red"}
    for (name, head), rows in zip(TABLES, tables, strict=True):
        t = Table(title=name, title_justify="left")
        for i, h in enumerate(head):
            t.add_column(h, justify="left" if i == 0 or h == "Target" else "right")
        for r in rows:
            t.add_row(*[f"[{colours[c]}]{c}[/]" if c in colours else c for c in r])
        console.print(t)
    for line in note_lines:
        console.print("- " + line)


def markdown_table(head: list[str], rows: list[list[str]]) -> str:
    def esc(x: str) -> str:
        return x.replace("|", "\\|")

    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def machine() -> dict:
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        nproc = os.cpu_count() or 1
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {"nproc": nproc, "python": platform.python_version(),
            "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "commit": commit or "unknown"}


def save_markdown(n: int, tables: list[list[list[str]]], note_lines: list[str],
                  load: float | None) -> None:
    m = machine()
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "# Benchmark results",
        "",
        "Written by `benchmarks/run.py --save` (`make bench BENCH_SAVE=1`); "
        "`benchmarks/README.md` says what each figure means.",
        "",
        f"- date: {now}",
        f"- machine: {m['nproc']} CPUs (nproc), {m['processor']}, {m['platform']}",
        f"- python: {m['python']}",
        f"- commit: {m['commit']}",
        f"- seeds: {n} (engine), {min(n, REFERENCE_SEEDS)} (reference)",
    ]
    if load is not None:
        parts.append(f"- load average at start: {load:.2f}")
    for (name, head), rows in zip(TABLES, tables, strict=True):
        parts += ["", f"## {name}", "", markdown_table(head, rows)]
    parts += ["", "## Notes", "", *[f"- {line}" for line in note_lines], ""]
    RESULTS.write_text("\n".join(parts))
    print(f"wrote {RESULTS.relative_to(ROOT)}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=200, help="engine seeds (default 200)")
    ap.add_argument("--save", action="store_true", help="also write benchmarks/results.md")
    ap.add_argument("--no-dask", action="store_true", help="skip the Dask measurements")
    args = ap.parse_args(argv)
    n = args.seeds
    if n < 2:
        ap.error("--seeds must be at least 2")
    use_dask = not args.no_dask and have_dask()

    def say(msg: str) -> None:
        print(f"... {msg}", file=sys.stderr, flush=True)

    if not args.no_dask and not use_dask:
        say("dask[distributed] is not installed: Dask measurements skipped")
    try:
        load: float | None = os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - not Unix
        load = None
    e = bench_engine(n, use_dask, say)
    ref_t, ref_rows = bench_reference(min(n, REFERENCE_SEEDS), say)

    sanity, bad = sanity_rows(e["runs"], ref_rows)
    tables = [timing_rows(e, ref_t), target_rows(n, e, ref_t), sanity]
    note_lines = notes(n, e, ref_t, bad, load)
    m = machine()
    title = (f"revsim benchmark: standard workload, {n} seeds "
             f"({m['nproc']} CPUs, Python {m['python']})")
    print_tables(title, tables, note_lines)
    if args.save:
        save_markdown(n, tables, note_lines, load)
    return 0


if __name__ == "__main__":
    sys.exit(main())
