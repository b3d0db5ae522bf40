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
``production_multiplier x fee``. The fee and the multiplier are drawn with the
lead (``deal_values``), so the deal value the pipeline and the forecast see is
the production contract the pilot leads to (a deal entering with a value of its
own, an initial deal or a PQL, draws its fee when the pilot is sold and keeps
its value). Everything else about a pilot is decided when it is sold (its draws
come from the ``pilot`` stream), and only the conversion is an event.

A pilot's record says when each of these happened; ``pilot_outcomes`` reads where
every pilot stands at the horizon, and how many extensions were granted by then.

Money: the fee is booked when the pilot is sold (pilot bookings, never ARR) and
recognised as one-off revenue evenly over the pilot; its delivery cost is spent
evenly over the pilot too. Up to the fee, delivery is the cost of that revenue;
only what a pilot costs beyond its fee (its net loss) is acquisition cost (S&M).
``pilot_money`` spreads both by month.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from sim.engine.params import num
from sim.engine.records import Table
from sim.engine.rng import Streams
from sim.engine.team import MONTH_DAYS
from sim.scenario.distributions import as_dist
from sim.scenario.schema import Pilot

__all__ = ["PILOT_OUTCOMES", "PilotDesk", "pilot_metrics", "pilot_money", "pilot_outcomes",
           "pilot_table"]

# Where each pilot stands at the horizon (pilot_outcomes); they add up to the pilots started.
PILOT_OUTCOMES = ("pilots_converted", "pilots_failed", "pilots_declined", "pilots_abandoned",
                  "pilots_running", "pilots_awaiting_decision")


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
        "abandoned": (np.bool_, (), False),
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

    def deal_values(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Pilot fees and production contract values (fee x multiplier) of ``n`` new deals."""
        fee = np.maximum(self.fee.sample(rng, n), 0.0)
        return fee, fee * np.maximum(self.multiplier.sample(rng, n), 0.0)

    def sell(self, lead: int, t: float, fee: float, acv: float) -> None:
        """Lead ``lead`` buys a pilot at ``t``: ``fee`` (NaN: drawn now), production value ``acv``."""
        r = self.rng
        u = r.random(4 + self.max_ext)
        if not math.isfinite(fee):
            fee = max(float(self.fee.sample(r)), 0.0)
        t_end = t + max(float(self.duration.sample(r)), 0.0)
        cost = max(float(self.cost.sample(r)), 0.0)
        success = bool(u[0] < self.success)
        converted, abandoned, ext, t_dec = False, False, 0, t_end
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
                             converted=converted, abandoned=abandoned, production_acv=acv)
        if converted and math.isfinite(t_dec):
            self.schedule(t_dec, rows.start)


def pilot_money(P: dict[str, np.ndarray], n_months: int) -> dict[str, np.ndarray]:
    """Each month's pilot revenue, delivery cost, its cost of revenue and its net loss.

    A pilot's fee and its delivery cost are spread evenly over the pilot, from its
    start to its end (all in the month it starts when it lasts no time); what falls
    past the horizon is not counted. The cost of the pilot revenue is the delivery
    cost up to the fee, min(cost, fee); the rest, max(cost - fee, 0), is the net
    loss, counted as acquisition cost (S&M). Per pilot, fee - cost = (fee - cost of
    revenue) - net loss.
    """
    t0, t1 = P["t_start"], P["t_end"]
    edges = np.arange(n_months + 1) * MONTH_DAYS
    length = t1 - t0
    overlap = np.clip(np.minimum(t1[:, None], edges[None, 1:])
                      - np.maximum(t0[:, None], edges[None, :-1]), 0.0, None)
    share = np.where(length[:, None] > 0, overlap / np.where(length > 0, length, 1.0)[:, None],
                     (np.floor(t0 / MONTH_DAYS)[:, None] == np.arange(n_months)[None, :]))
    fee, cost = P["fee"], P["delivery_cost"]
    return {
        "revenue": fee @ share,
        "delivery_cost": cost @ share,
        "cogs": np.minimum(cost, fee) @ share,
        "loss": np.maximum(cost - fee, 0.0) @ share,
    }


def pilot_outcomes(P: dict[str, np.ndarray], horizon: float) -> dict[str, float]:
    """Where the pilots stand at ``horizon`` (days), and their extensions by then.

    Every pilot started is exactly one of: converted to production, failed (ended
    without success), declined (decided, not converted), abandoned (put off
    ``max_extensions`` times), still running (ends after the horizon), or awaiting
    a decision (succeeded; its decision, first or after extensions, falls after the
    horizon). A successful pilot without a clause is extended at its end and at
    each ``extension_days`` after, so its k-th extension is granted at
    ``t_end + (k - 1) x extension_days`` (``extension_days`` read back from its
    record: (t_decision - t_end) / extensions). ``pilots_due_decision`` counts the
    successful pilots whose first decision fell in the horizon; ``pilots_extended``
    those of them put off at least once; ``pilot_extensions`` the extensions
    granted in the horizon.
    """
    t_end, t_dec, ext = P["t_end"], P["t_decision"], P["extensions"].astype(np.int64)
    success, converted, abandoned = P["success"], P["converted"], P["abandoned"]
    ended, decided = t_end <= horizon, t_dec <= horizon
    due = success & ended
    out = {
        "pilots_converted": converted & decided,
        "pilots_failed": ended & ~success,
        "pilots_declined": due & decided & ~converted & ~abandoned,
        "pilots_abandoned": due & decided & abandoned,
        "pilots_running": ~ended,
        "pilots_awaiting_decision": due & ~decided,
        "pilots_due_decision": due,
        "pilots_extended": due & (ext > 0),
    }
    counts = {k: float(v.sum()) for k, v in out.items()}
    step = np.divide(t_dec - t_end, ext, out=np.zeros(ext.size), where=ext > 0)
    since = np.maximum(horizon - t_end, 0.0)
    granted = np.where(step > 0, np.floor(since / np.where(step > 0, step, 1.0)) + 1, ext)
    counts["pilot_extensions"] = float(np.minimum(ext, granted)[due].sum())
    return counts


def pilot_metrics(P: dict[str, np.ndarray] | None, horizon: float) -> dict[str, float]:
    """A seed's pilot metrics (docs/model.md "Metrics"): pilots started, where they stand at
    the horizon, success, conversion, extensions, fees less delivery cost.

    pilot_success_rate = successes / pilots ended; pilot_conversion = converted /
    (converted + failed + declined + abandoned), the pilots whose outcome is known;
    pilot_extension_rate = successful pilots put off at least once / successful
    pilots whose decision came due. Counts are 0 and rates NaN without pilots.
    """
    counts = pilot_outcomes(P, horizon) if P is not None and P["t_start"].size else {}
    out = {k: counts.get(k, 0.0) for k in (*PILOT_OUTCOMES, "pilot_extensions")}
    if P is None or not counts:
        nan = math.nan
        return {**out, "pilots_started": 0.0, "pilot_success_rate": nan, "pilot_conversion": nan,
                "pilot_margin_total": nan, "pilot_extension_rate": nan}
    started = float(P["t_start"].size)
    ended = started - out["pilots_running"]
    done = ended - out["pilots_awaiting_decision"]
    due = counts["pilots_due_decision"]
    return {**out, "pilots_started": started,
            "pilot_success_rate": (ended - out["pilots_failed"]) / ended if ended else math.nan,
            "pilot_conversion": out["pilots_converted"] / done if done else math.nan,
            "pilot_margin_total": float(P["fee"].sum() - P["delivery_cost"].sum()),
            "pilot_extension_rate": counts["pilots_extended"] / due if due else math.nan}
