"""Settings that are valid but do nothing: warnings, not errors.

A hire after the horizon never happens, a phase that starts after it never starts, a
shock set whose lever governs nothing in any motion changes nothing. Each is almost
surely a slip (a 48 typed for 18, a lever meant for another motion), so the user is
told, naming the key and the motion; the run goes on.
"""

from __future__ import annotations

from typing import Any

from sim.scenario.levers import LEVERS, governed_paths
from sim.scenario.schema import Scenario

__all__ = ["scenario_warnings", "unused_after_run", "unused_lever_motions"]


def unused_lever_motions(sc: Scenario, lever: str) -> list[str]:
    """The motions of ``sc`` in which ``lever`` governs no parameter."""
    return [m.name for m in sc.motions if not governed_paths(m, lever)]


def scenario_warnings(sc: Scenario) -> list[tuple[tuple[Any, ...], str]]:
    """(key path, message) for every setting of ``sc`` that can have no effect."""
    out: list[tuple[tuple[Any, ...], str]] = []
    h = sc.horizon_months
    for i, m in enumerate(sc.motions):
        for role, r in m.team.roles().items():
            late = sorted(month for month in r.hires if month > h)
            if late:
                out.append((("motions", i, "team", role, "hires", late[0]),
                            f"{m.name}: hiring in month {', '.join(map(str, late))} is after "
                            f"the horizon ({h} months): it never happens"))
        for j, ph in enumerate(m.phases):
            if ph.start_month is not None and ph.start_month >= h:
                out.append((("motions", i, "phases", j, "start_month"),
                            f"{m.name}: the phase starting in month {ph.start_month} starts "
                            f"after the horizon ({h} months): it never runs"))
    for k, s in enumerate(sc.stress):
        for lever in s.shocks:
            if lever in LEVERS and len(unused_lever_motions(sc, lever)) == len(sc.motions):
                out.append((("stress", k, "shocks", lever),
                            f"shock set {s.name!r}: lever {lever!r} governs nothing in any "
                            "motion of this scenario: it changes nothing"))
    return out


def unused_after_run(sc: Scenario, runs: Any) -> list[str]:
    """What a run showed to have had no effect: a ``pilot:`` block of a motion that sold
    no pilot in any seed (no evaluation reached it). ``runs``: the per-seed table."""
    out = []
    for m in sc.motions:
        if m.pilot is None or "pilots_started" not in runs:
            continue
        started = runs.loc[runs["motion"] == m.name, "pilots_started"]
        if len(started) and float(started.fillna(0).sum()) == 0:
            out.append(f"{m.name}: its pilot: block was never used (no deal reached a pilot in "
                       "any seed); check that the motion has a sales path that wins deals")
    return out
