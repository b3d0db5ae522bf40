"""The team: hiring plan, ramp, cost, capacity and attrition of every rep.

The roster of one seed is decided before the event loop runs, because nothing in
it depends on deals: tenured starters, planned hires by month, initial reps with
tenure, and for each rep an exponential time to leave (annual attrition rate a
gives a daily hazard -ln(1-a)/365) followed, after the backfill lag, by a new
hire who ramps again and may leave in turn.

Productivity rises linearly from ``ramp_start`` at hire to 1.0 after
``ramp_months``. An owner's concurrent-deal capacity is
``floor(max_open_deals * productivity)``; the times at which it steps up are
computed exactly, so the event loop only sees a handful of capacity events.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.engine.params import num
from sim.engine.rng import Streams
from sim.scenario.company import InitialReps
from sim.scenario.schema import ROLES, SELLING_ROLES
from sim.scenario.team import Role, Team

__all__ = ["MONTH_DAYS", "Roster", "build_roster"]

MONTH_DAYS = 365.0 / 12.0
TENURED = -1e9  # hire time of a rep fully ramped before the run starts


@dataclass
class Roster:
    """All reps of one seed, one entry per person (backfills are new entries)."""

    role: np.ndarray  # str
    hire: np.ndarray  # days (TENURED for reps ramped before time zero)
    leave: np.ndarray  # days (inf if they stay)
    ramp_days: np.ndarray
    ramp_start: np.ndarray
    ramp_win_factor: np.ndarray
    cost_per_day: np.ndarray
    selling_share: np.ndarray
    max_open: np.ndarray  # 0 for roles that own no stage

    def indices(self, role: str) -> np.ndarray:
        return np.flatnonzero(self.role == role)

    def progress(self, i: int | np.ndarray, t: float | np.ndarray) -> np.ndarray:
        """Share of the ramp completed at time ``t`` (0 at hire, 1 when ramped)."""
        rd = self.ramp_days[i]
        el = np.asarray(t) - self.hire[i]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            p = np.where(rd > 0, el / np.where(rd > 0, rd, 1.0), 1.0)
        return np.clip(p, 0.0, 1.0)

    def productivity(self, i: int | np.ndarray, t: float | np.ndarray) -> np.ndarray:
        """0 before hire and after leaving; ramp_start rising to 1 in between."""
        prog = self.progress(i, t)
        rs = self.ramp_start[i]
        p = rs + (1.0 - rs) * prog
        t = np.asarray(t)
        return np.where((t >= self.hire[i]) & (t < self.leave[i]), p, 0.0)

    def _productivity_at(self, i: int, t: float) -> float:
        """``productivity(i, t)`` for one rep and one time, in Python floats (the same
        IEEE operations, without a dozen numpy calls on scalars)."""
        hire, rd, rs = float(self.hire[i]), float(self.ramp_days[i]), float(self.ramp_start[i])
        if not hire <= t < float(self.leave[i]):
            return 0.0
        prog = min(max((t - hire) / rd, 0.0), 1.0) if rd > 0 else 1.0
        return rs + (1.0 - rs) * prog

    def capacity_events(self, horizon: float) -> list[tuple[float, int, int]]:
        """(time, rep, capacity) for every change of an owner's integer capacity."""
        events: list[tuple[float, int, int]] = []
        for i in np.flatnonzero(self.max_open > 0).tolist():
            m = int(self.max_open[i])
            hire = max(float(self.hire[i]), 0.0) if self.hire[i] > TENURED else 0.0
            if hire >= horizon:
                continue
            c0 = int(math.floor(m * self._productivity_at(i, hire) + 1e-9))
            events.append((hire, int(i), c0))
            rs, rd = float(self.ramp_start[i]), float(self.ramp_days[i])
            for c in range(c0 + 1, m + 1):
                # productivity(t) = rs + (1-rs)(t-hire0)/rd reaches c/m at:
                frac = (c / m - rs) / (1.0 - rs) if rs < 1 else 0.0
                t = float(self.hire[i]) + frac * rd
                if t < self.leave[i] and t < horizon:
                    events.append((max(t, hire), int(i), c))
            if self.leave[i] < horizon:
                events.append((float(self.leave[i]), int(i), 0))
        events.sort(key=lambda e: (e[0], e[1]))
        return events

    def employed_days(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Days each rep (rows) is on payroll within each interval [a_j, b_j) (columns)."""
        start = np.maximum(self.hire, 0.0)[:, None]
        end = self.leave[:, None]
        return np.clip(np.minimum(end, b[None, :]) - np.maximum(start, a[None, :]), 0.0, None)

    def monthly_cost(self, n_months: int) -> dict[str, np.ndarray]:
        """Salary cost per month: ``sm`` (selling roles' selling share) and ``cs``."""
        a = np.arange(n_months) * MONTH_DAYS
        days = self.employed_days(a, a + MONTH_DAYS)
        cost = days * self.cost_per_day[:, None]
        selling = np.isin(self.role, SELLING_ROLES)
        sm = (cost * (self.selling_share * selling)[:, None]).sum(axis=0)
        cs = cost[self.role == "csm"].sum(axis=0)
        return {"sm": sm, "cs": cs}

    def headcount(self, times: np.ndarray) -> dict[str, np.ndarray]:
        """Reps on payroll at each time, by role."""
        on = (np.maximum(self.hire, 0.0)[:, None] <= times[None, :]) & (
            self.leave[:, None] > times[None, :]
        )
        return {r: on[self.role == r].sum(axis=0) for r in ROLES}


def _leave_time(start: float, attrition: float, rng: np.random.Generator) -> float:
    rate_per_day = -math.log1p(-min(attrition, 0.999999)) / 365.0
    if rate_per_day <= 0:
        return math.inf
    return start + float(rng.exponential(1.0)) / rate_per_day


def build_roster(
    team: Team, initial_reps: list[InitialReps], horizon: float, streams: Streams
) -> Roster:
    """Every rep of the seed: starters, initial reps, planned hires, backfills."""
    rows: list[tuple[str, float, float, Role]] = []
    roles = team.roles()
    for rname in ROLES:
        role = roles.get(rname)
        extra = [r for r in initial_reps if r.role == rname]
        if role is None and not extra:
            continue
        if role is None:
            role = Role()
        rng = streams.get("team", rname)
        attrition = num(role.attrition_annual)
        lag = num(role.backfill_lag_months) * MONTH_DAYS
        hires: list[float] = [TENURED] * int(round(num(role.start)))
        for r in extra:
            hires += [-r.tenure_months * MONTH_DAYS] * r.count
        for month, count in sorted(role.hires.items()):
            if month * MONTH_DAYS < horizon:
                hires += [month * MONTH_DAYS] * count
        queue = list(hires)
        while queue:
            hire = queue.pop(0)
            leave = _leave_time(max(hire, 0.0), attrition, rng)
            rows.append((rname, hire, leave, role))
            if leave + lag < horizon:
                queue.append(leave + lag)
    n = len(rows)

    def col(f: object) -> np.ndarray:
        return np.array([f(r) for r in rows], dtype=float) if n else np.zeros(0)  # type: ignore[operator]

    return Roster(
        role=np.array([r[0] for r in rows], dtype=object) if n else np.zeros(0, dtype=object),
        hire=col(lambda r: r[1]),
        leave=col(lambda r: r[2]),
        ramp_days=col(lambda r: num(r[3].ramp_months) * MONTH_DAYS),
        ramp_start=col(lambda r: min(max(num(r[3].ramp_start), 0.0), 1.0)),
        ramp_win_factor=col(lambda r: num(r[3].ramp_win_factor)),
        cost_per_day=col(lambda r: num(r[3].cost_per_year) / 365.0),
        selling_share=col(lambda r: num(r[3].selling_share)),
        max_open=col(lambda r: 0 if r[3].max_open_deals is None else round(num(r[3].max_open_deals))),
    )
