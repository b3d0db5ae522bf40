"""Where pilots stand at the horizon, and their extensions (docs/model.md "Metrics").

Hand-worked: one deal, evaluated in 5 days, buys a 60-day pilot (day 5 to day 65);
without a conversion clause a successful pilot is put off every 60 days from its end.
Then 600 such deals at once, against the theory of the extension draws.
"""

from __future__ import annotations

import math

from conftest import make_scenario, run_one

from sim.compare import BOUNDED_SHARES, direction
from sim.engine.forecast import quarterly_forecast
from sim.engine.ledger import monthly_series
from sim.engine.pilots import PILOT_OUTCOMES
from sim.engine.rng import Streams
from sim.metrics import METRICS, seed_metrics

PILOT = {
    "stages": [{"name": "work", "owner": "ae", "duration": 5, "advance": 1.0}],
    "pilot": {"fee": 40_000, "duration_days": 60, "success_rate": 1.0, "delivery_cost": 50_000,
              "production_multiplier": 5, "conversion_clause": False,
              "decision_conversion": 1.0, "decision_window_days": 0,
              "extension_probability": 1.0, "extension_days": 60, "extension_decay": 0.7,
              "max_extensions": 4},
}


def _metrics(pilot: dict, months: int, deals: int = 1) -> dict[str, float]:
    motion = {**PILOT, "pilot": {**PILOT["pilot"], **pilot}}
    sc = make_scenario(motion, horizon_months=months,
                       initial={"pipeline": [{"stage": "work", "count": deals,
                                              "days_in_stage": 0}]})
    run = run_one(sc, 3)
    return seed_metrics(run, monthly_series(run), quarterly_forecast(run, Streams(1, 0)), None)


def _outcomes(m: dict[str, float]) -> dict[str, float]:
    return {k: m[k] for k in PILOT_OUTCOMES}


def _only(**counts: float) -> dict[str, float]:
    return {k: counts.get(k, 0.0) for k in PILOT_OUTCOMES}


def test_extensions_are_counted_as_they_are_granted():
    # always extended, at most 4 times: extensions at days 65, 125, 185, 245; abandoned
    # at 65 + 4 x 60 = 305
    m = _metrics({}, months=6)  # horizon day 180: two extensions granted, decision due at 185
    assert m["pilots_started"] == 1
    assert m["pilot_extensions"] == 2
    assert m["pilot_extension_rate"] == 1.0  # the one pilot due a decision was put off
    assert _outcomes(m) == _only(pilots_awaiting_decision=1)
    assert math.isnan(m["pilot_conversion"])  # no outcome known yet
    m = _metrics({}, months=12)  # day 360: all four granted, abandoned at day 305
    assert m["pilot_extensions"] == 4 and m["pilot_extension_rate"] == 1.0
    assert _outcomes(m) == _only(pilots_abandoned=1)
    assert m["pilot_conversion"] == 0.0
    m = _metrics({}, months=2)  # day 60: the pilot is still running, no decision due
    assert m["pilot_extensions"] == 0 and math.isnan(m["pilot_extension_rate"])
    assert _outcomes(m) == _only(pilots_running=1)


def test_each_pilot_has_one_outcome():
    clause = _metrics({"conversion_clause": True}, months=6)  # decided at its end, day 65
    assert _outcomes(clause) == _only(pilots_converted=1)
    assert clause["pilot_extensions"] == 0 and clause["pilot_extension_rate"] == 0.0
    assert _outcomes(_metrics({"success_rate": 0.0}, months=6)) == _only(pilots_failed=1)
    # never extended, never converts: declined at its end
    declined = _metrics({"extension_probability": 0.0, "decision_conversion": 0.0}, months=6)
    assert _outcomes(declined) == _only(pilots_declined=1)
    assert declined["pilot_extension_rate"] == 0.0
    # at most one extension, and it is certain: put off at day 65, abandoned at day 125
    once = _metrics({"max_extensions": 1}, months=6)
    assert once["pilot_extensions"] == 1 and _outcomes(once) == _only(pilots_abandoned=1)


def test_extension_rate_and_count_match_the_draws():
    n, s, p, k = 600, 0.6, 0.5, 4
    pilot = {"success_rate": s, "extension_probability": p, "decision_conversion": 0.8}
    # horizon 48 months: every decision (at most day 65 + 240) falls inside it
    m = _metrics(pilot, months=48, deals=n)
    assert sum(_outcomes(m).values()) == m["pilots_started"] == n
    due = n - m["pilots_failed"]
    assert abs(due - n * s) < 4 * math.sqrt(n * s * (1 - s))
    # each successful pilot is put off at its end with probability p
    assert abs(m["pilot_extension_rate"] - p) < 4 * math.sqrt(p * (1 - p) / due)
    # extensions per pilot: S x min(geometric, k); P(E = j) = p^j (1 - p), j < k; P(E = k) = p^k
    dist = {j: p**j * (1 - p) for j in range(k)} | {k: p**k}
    mean = s * sum(j * q for j, q in dist.items())  # 0.6 x 0.9375
    var = s * sum(j * j * q for j, q in dist.items()) - mean**2
    assert abs(m["pilot_extensions"] - n * mean) < 4 * math.sqrt(n * var)
    q = s * p**k  # abandoned: put off all four times
    assert abs(m["pilots_abandoned"] - n * q) < 4 * math.sqrt(n * q * (1 - q))
    assert m["pilots_running"] == m["pilots_awaiting_decision"] == 0


def test_a_horizon_cuts_the_extensions_granted():
    # every pilot ends at day 65; by day 180 a pilot put off j times has had min(j, 2)
    # extensions, and one put off twice or more still awaits its decision (due at 185)
    n, s, p = 600, 0.6, 0.5
    m = _metrics({"success_rate": s, "extension_probability": p}, months=6, deals=n)
    mean = s * (p + p**2)  # E[min(E, 2)] = P(E >= 1) + P(E >= 2)
    var = s * (1 * p * (1 - p) + 4 * p**2) - mean**2
    assert abs(m["pilot_extensions"] - n * mean) < 4 * math.sqrt(n * var)
    q = s * p**2
    assert abs(m["pilots_awaiting_decision"] - n * q) < 4 * math.sqrt(n * q * (1 - q))
    assert sum(_outcomes(m).values()) == n


def test_pilot_metrics_are_metrics_with_a_direction():
    for k in (*PILOT_OUTCOMES, "pilot_extensions", "pilot_extension_rate"):
        assert k in METRICS
    assert direction("pilot_extensions") == direction("pilot_extension_rate") == -1
    assert direction("pilots_converted") == 1 and direction("pilots_abandoned") == -1
    assert direction("pilots_awaiting_decision") == direction("pilots_running") == 0
    assert "pilot_extension_rate" in BOUNDED_SHARES


def test_no_pilots_no_extensions():
    sc = make_scenario({}, horizon_months=6)
    run = run_one(sc, 1)
    m = seed_metrics(run, monthly_series(run), quarterly_forecast(run, Streams(1, 0)), None)
    assert m["pilots_started"] == m["pilot_extensions"] == 0
    assert all(m[k] == 0 for k in PILOT_OUTCOMES)
    assert math.isnan(m["pilot_extension_rate"])
