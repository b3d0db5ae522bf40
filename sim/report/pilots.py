"""The report's enterprise-pilots section: per motion that sells paid pilots, how many
start, succeed and convert (with or without a conversion clause), what their fees
bring against their delivery cost, and the pilot as the funnel's last stage.

Pilot extensions are not in the results (the engine's pilot records are summarised
into the metrics, which do not count them), so the section does not show them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from sim.report.wording import fmt

if TYPE_CHECKING:
    from sim.runner.results import Results

__all__ = ["PILOT_METRICS", "pilot_section"]

# (metric, row label): each cell is the median over seeds with the P10 - P90 range
PILOT_METRICS = (
    ("pilots_started", "Pilots started"),
    ("pilot_success_rate", "Pilot success rate"),
    ("pilot_conversion", "Conversion to production"),
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
    """The pilot stage after the sales stages: pilots started and converted to production
    within the horizon, mean per seed (the rest failed, were declined or abandoned, or are
    still running or awaiting a decision at the end)."""
    mo = res.monthly_columns(["motion", "seed", "pilots_started", "pilots_converted"])
    rows = []
    for name in motions:
        g = mo[mo["motion"] == name] if "motion" in mo else mo.iloc[0:0]
        if g.empty or "pilots_converted" not in g:
            continue
        per_seed = g.groupby("seed")[["pilots_started", "pilots_converted"]].sum()
        started = float(per_seed["pilots_started"].mean())
        converted = float(per_seed["pilots_converted"].mean())
        rows.append({
            "motion": name,
            "started": f"{started:,.1f}",
            "converted": f"{converted:,.1f}",
            "not_converted": f"{started - converted:,.1f}",
            "rate": f"{converted / started * 100:.0f}%" if started > 0 else "n/a",
        })
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
                          "range": f"{fmt(metric, r['p10'], cur)} - {fmt(metric, r['p90'], cur)}"})
        rows.append({"metric": metric, "label": text, "cells": cells})
    return {"motions": motions, "clause": [_clause(res, m) for m in motions], "rows": rows,
            "stage": _stage(res, motions)}
