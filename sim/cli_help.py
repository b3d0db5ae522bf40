"""The help text after each command's options: examples, levers, shock sets, metrics.

Plain click help keeps each block as written (its ``\\b`` marker), so lists and
examples read as laid out.
"""

from __future__ import annotations

__all__ = ["epilog", "lever_help", "metric_help"]


def epilog(*blocks: str) -> str:
    """Help text after the options: each block kept as written (click's \\b marker)."""
    return "\n\n".join("\b\n" + b for b in blocks)


def _listing(title: str, names: list[str] | tuple[str, ...], width: int = 76) -> str:
    lines, line = [f"{title}:"], " "
    for n in names:
        if len(line) + len(n) + 2 > width:
            lines.append(line.rstrip())
            line = " "
        line += f" {n},"
    lines.append(line.rstrip(","))
    return "\n".join(lines)


def lever_help() -> str:
    from sim.scenario.levers import LEVERS, SHOCK_SETS

    sets = [f"  {k}: " + ", ".join(f"{lv}={f:g}" for lv, f in v.items())
            for k, v in SHOCK_SETS.items()]
    return (_listing("Levers (LEVER=FACTOR multiplies every parameter the lever governs)",
                     list(LEVERS)) + "\n" + "Built-in shock sets (--set NAME):\n"
            + "\n".join(sets))


def metric_help() -> str:
    from sim.metrics import METRICS

    return _listing("Metrics (columns of runs.parquet)", METRICS)
