"""Enterprise pilots: a won evaluation becomes a paid pilot, and maybe production.

When a motion has a ``pilot`` block, winning the sales path sells a pilot: its
fee is booked (pilot bookings, never ARR) and its delivery cost is spent at the
start. At the pilot's end it has succeeded with ``success_rate``. A successful
pilot

- with ``conversion_clause``: is decided at a uniform time within
  ``decision_window_days`` and converts with ``decision_conversion``;
- without it: each time a decision is due, it is put off with
  ``extension_probability`` by ``extension_days`` (at most ``max_extensions``
  times, then abandoned), and every extension multiplies the odds of converting
  by ``extension_decay``.

A conversion is a production contract: a customer whose ARR is
``production_multiplier x fee``. Everything about a pilot is decided when it is
sold (its draws come from the ``pilot`` stream), and only the conversion is an
event.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from sim.engine.params import num
from sim.engine.records import Table
from sim.engine.rng import Streams
from sim.scenario.distributions import as_dist
from sim.scenario.schema import Pilot

__all__ = ["PilotDesk", "pilot_table"]


def pilot_table() -> Table:
    return Table({
        "lead": (np.int64, (), -1),
        "t_start": (np.float64, (), np.nan),
        "fee": (np.float64, (), 0.0),
        "delivery_cost": (np.float64, (), 0.0),
        "t_end": (np.float64, (), np.nan),
        "success": (np.bool_, (), False),
        "extensions": (np.int16, (), 0),
        "t_decision": (np.float64, (), np.nan),
        "converted": (np.bool_, (), False),
        "production_acv": (np.float64, (), 0.0),
    }, capacity=256)


class PilotDesk:
    def __init__(self, pilot: Pilot, streams: Streams, schedule: Callable[[float, int], None]):
        self.fee = as_dist(pilot.fee)
        self.duration = as_dist(pilot.duration_days)
        self.success = num(pilot.success_rate)
        self.cost = as_dist(pilot.delivery_cost)
        self.multiplier = as_dist(pilot.production_multiplier)
        self.clause = pilot.conversion_clause
        self.convert = num(pilot.decision_conversion)
        self.window = num(pilot.decision_window_days)
        self.p_extend = num(pilot.extension_probability)
        self.ext_days = num(pilot.extension_days)
        self.decay = num(pilot.extension_decay)
        self.max_ext = pilot.max_extensions
        self.rng = streams.get("pilot")
        self.schedule = schedule  # (time of conversion, pilot row) -> event
        self.P = pilot_table()

    def sell(self, lead: int, t: float) -> None:
        r = self.rng
        u = r.random(4 + self.max_ext)
        fee = max(float(self.fee.sample(r)), 0.0)
        t_end = t + max(float(self.duration.sample(r)), 0.0)
        cost = max(float(self.cost.sample(r)), 0.0)
        acv = fee * max(float(self.multiplier.sample(r)), 0.0)
        success = bool(u[0] < self.success)
        converted, ext, t_dec = False, 0, t_end
        if success and self.clause:
            t_dec = t_end + u[1] * self.window
            converted = bool(u[2] < self.convert)
        elif success:
            odds = self.convert
            while ext < self.max_ext and u[4 + ext] < self.p_extend:
                ext += 1
                odds *= self.decay
            abandoned = self.max_ext > 0 and ext == self.max_ext
            t_dec = t_end + ext * self.ext_days
            converted = not abandoned and bool(u[2] < odds)
        rows = self.P.append(1, lead=lead, t_start=t, fee=fee, delivery_cost=cost, t_end=t_end,
                             success=success, extensions=ext, t_decision=t_dec,
                             converted=converted, production_acv=acv)
        if converted and math.isfinite(t_dec):
            self.schedule(t_dec, rows.start)
