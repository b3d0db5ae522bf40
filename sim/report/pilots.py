"""The report's enterprise-pilots section: per motion that sells paid pilots, how many
start, succeed, are extended and convert (with or without a conversion clause), what
their fees bring against their delivery cost, and the pilot as the funnel's last stage
(where every pilot started stands at the horizon).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from sim.engine.pilots import PILOT_OUTCOMES
from sim.report.wording import fmt

if TYPE_CHECKING:
    from sim.runner.results import Results

__all__ = ["PILOT_METRICS", "pilot_section"]

# (metric, row label): each cell is the median over seeds, with the P10 to P90 range
PILOT_METRICS = (
    ("pilots_started", "Pilots started"),
    ("pilot_success_rate", "Pilot success rate"),
    ("pilot_extension_rate", "Successful pilots extended (of those due a decision)"),
    ("pilot_extensions", "Extensions granted"),
    ("pilot_conversion", "Conversion to production (of pilots with an outcome)"),
    ("win_rate_to_production", "Win rate, opportunity to production"),
    ("cycle_days_to_production", "Cycle, opportunity to production"),
    ("pilot_fees_total", "Pilot fees recognised"),
    ("pilot_margin", "Pilot margin (fees less delivery cost, over fees)"),
    ("pilot_margin_total", "Fees less delivery cost, pilots sold"),
    ("cac_payback_before_pilot_fees", "CAC payback were the pilots free (every pilot's "
                                      "delivery cost as acquisition cost)"),
)


def _pilot_motions(res: Results) -> list[str]:
    """Motions with a ``pilot:`` block (in a phase too) or pilots in some seed."""
    runs = res.runs
    started = (runs.groupby("motion")["pilots_started"].max()
               if "pilots_started" in runs else pd.Series(dtype=float))
    out = []
    for m in res.scenario.motions:
        has_block = m.pilot is not None or any(
            "pilot" in (p.overrides() or {}) for p in (m.phases or []))
        if has_block or float(started.get(m.name, 0.0) or 0.0) > 0:
            out.append(m.name)
    return out


def _clause(res: Results, name: str) -> str:
    m = next(x for x in res.scenario.motions if x.name == name)
    if m.pilot is None:
        return "n/a"
    return "with clause" if m.pilot.conversion_clause else "without clause"


def _stage(res: Results, motions: list[str]) -> list[dict[str, str]]:
    """The pilot stage after the sales stages: where the pilots started in the horizon stand
    at its end, mean per seed (means add up: started = converted + failed + declined +
    abandoned + still running + awaiting a decision)."""
    runs = res.runs
    rows = []
    for name in motions:
        g = runs[runs["motion"] == name]
        if g.empty or not all(k in g for k in ("pilots_started", *PILOT_OUTCOMES)):
            continue
        mean = {k: float(g[k].mean()) for k in ("pilots_started", *PILOT_OUTCOMES)}
        started = mean["pilots_started"]
        row = {"motion": name, "started": f"{started:,.1f}",
               "rate": (f"{mean['pilots_converted'] / started * 100:.0f}%" if started > 0
                        else "n/a")}
        row |= {k.removeprefix("pilots_"): f"{mean[k]:,.1f}" for k in PILOT_OUTCOMES}
        rows.append(row)
    return rows


def pilot_section(res: Results, cur: str) -> dict[str, Any] | None:
    """The section's rows and motions; None when no motion sells pilots."""
    motions = _pilot_motions(res)
    if not motions:
        return None
    s = res.summary().set_index(["motion", "metric"])
    rows = []
    for metric, text in PILOT_METRICS:
        cells = []
        for m in motions:
            if (m, metric) not in s.index or not s.loc[(m, metric), "n"]:
                cells.append({"text": "n/a", "range": ""})
                continue
            r = s.loc[(m, metric)]
            cells.append({"text": fmt(metric, r["p50"], cur),
                          "range": f"{fmt(metric, r['p10'], cur)} to {fmt(metric, r['p90'], cur)}"})
        rows.append({"metric": metric, "label": text, "cells": cells})
    return {"motions": motions, "clause": [_clause(res, m) for m in motions], "rows": rows,
            "stage": _stage(res, motions)}
