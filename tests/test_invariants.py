"""Invariants over random valid scenarios (hypothesis): nothing lost, nothing counted twice."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_scenario, run_one
from helpers import PROB, draw_stages
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.engine.ledger import monthly_series
from sim.engine.pilots import PILOT_OUTCOMES, pilot_metrics
from sim.engine.records import LOST, OPEN, WON
from sim.engine.sources import SOURCE_ID


@st.composite
def scenarios(draw):
    n_stages = draw(st.integers(1, 4))
    stages = draw_stages(draw, n_stages, [0, 3, {"dist": "exponential", "mean": 15},
                                          {"dist": "lognormal", "mean": 20, "sd": 15}],
                         st.floats(0.05, 1.0))
    motion = {
        "sources": {"inbound": {"leads_per_month": draw(st.floats(0, 150)),
                                "growth_per_month": draw(st.floats(-0.05, 0.1)),
                                "fit_rate": draw(PROB), "cost_per_lead": 10}},
        "stages": stages,
        "team": {"ae": {"start": draw(st.integers(0, 3)),
                        "hires": draw(st.dictionaries(st.integers(0, 12), st.integers(0, 2),
                                                      max_size=3)),
                        "ramp_months": draw(st.floats(0, 6)),
                        "ramp_start": draw(PROB), "ramp_win_factor": draw(PROB),
                        "attrition_annual": draw(st.floats(0, 0.9)),
                        "max_open_deals": draw(st.integers(1, 20)), "cost_per_year": 100000,
                        "commission_rate": draw(st.floats(0, 0.2))}},
        "queue": {"decay_per_week": draw(st.floats(0, 0.5)),
                  "max_wait_days": draw(st.one_of(st.none(), st.floats(1, 60)))},
        "qualification": {"strictness": draw(PROB)},
        "deal": {"acv": {"dist": "lognormal", "mean": 20000, "sd": 8000},
                 "contract": draw(st.sampled_from(["monthly", "annual"])),
                 "bad_fit_win_factor": draw(PROB)},
        "handoff": {"acceptance_criteria": draw(st.booleans())},
        "retention": {"early_churn": draw(PROB), "early_window_days": draw(st.floats(0, 120)),
                      "monthly_churn": draw(st.floats(0, 0.2)),
                      "expansion_rate_annual": draw(st.floats(0, 0.5)),
                      "contraction_rate_annual": draw(st.floats(0, 0.5)),
                      "bad_fit_multiplier": draw(st.floats(1, 3)),
                      "accounts_per_csm": draw(st.one_of(st.none(), st.floats(1, 50)))},
    }
    if draw(st.booleans()):  # a product path, sometimes with PQLs into sales
        motion["sources"]["signups"] = {"signups_per_month": draw(st.floats(0, 400)),
                                        "activation_rate": draw(PROB)}
        motion["conversion"] = {"model": draw(st.sampled_from(["freemium", "trial"])),
                                "freemium_monthly": draw(PROB), "dormancy_monthly": draw(PROB)}
        if draw(st.booleans()):
            motion["pql"] = {"threshold": draw(st.floats(0.5, 20)),
                             "conversion": draw(PROB), "usage_growth_monthly": 0.3}
    if draw(st.booleans()):
        motion["sources"]["partners"] = {"partners_start": draw(st.integers(0, 5)),
                                         "recruited_per_quarter": draw(st.integers(0, 4)),
                                         "referrals_per_partner_month": draw(st.floats(0, 5))}
    if draw(st.booleans()):
        motion["pilot"] = {"success_rate": draw(PROB), "conversion_clause": draw(st.booleans()),
                           "duration_days": draw(st.floats(0, 120)),
                           "extension_probability": draw(PROB),
                           "extension_days": draw(st.sampled_from([0, 20, 60])),
                           "max_extensions": draw(st.integers(0, 4))}
    pricing = draw(st.sampled_from(["subscription", "usage", "outcome", "value_share", "services"]))
    if pricing != "subscription":
        motion["deal"]["pricing"] = pricing
        motion["deal"]["acv"] = None
        if "pql" in motion:
            motion["pql"]["acv"] = 9000
        if pricing == "value_share":
            motion["deal"]["value_share"] = {"baseline_days": draw(st.sampled_from([0, 45])),
                                             "floor": 1e5, "ceiling": 3e6}
        if pricing == "services":
            motion["deal"]["services"] = {"duration_months": draw(st.floats(0.5, 8)),
                                          "max_concurrent": draw(st.integers(1, 3)),
                                          "follow_on_probability": draw(PROB)}
    if draw(st.booleans()):  # a second phase: a new path for new leads
        trigger = draw(st.sampled_from([{"start_month": draw(st.integers(0, 10))},
                                        {"after_customers": draw(st.integers(1, 30))},
                                        {"after_arr": draw(st.floats(1e4, 2e6))}]))
        phase: dict = dict(trigger)
        if draw(st.booleans()):
            phase["stages"] = draw_stages(draw, draw(st.integers(1, 3)), [0, 5, 20],
                                          st.floats(0.05, 1.0), prefix="p")
            phase["qualification"] = {"stage": None}
        if draw(st.booleans()):
            phase["team"] = {"ae": {"hires": {0: draw(st.integers(0, 3))}}}
        if draw(st.booleans()):
            phase["sources"] = {"inbound": {"leads_per_month": draw(st.floats(0, 150))}}
        motion["phases"] = [phase]
    if motion["retention"]["accounts_per_csm"] is not None:
        motion["team"]["csm"] = {"start": draw(st.integers(0, 2)), "cost_per_year": 80000}
    size = draw(st.one_of(st.none(), st.integers(20, 3000)))
    top = {
        "horizon_months": draw(st.integers(1, 15)),
        "market": {"size": size, "cooling_off_days": draw(st.floats(0, 200))},
        "initial": {
            "customers": {"count": draw(st.integers(0, 20)), "arr": 200000},
            "pipeline": [{"stage": f"s{draw(st.integers(0, n_stages - 1))}",
                          "count": draw(st.integers(1, 10)),
                          "days_in_stage": draw(st.floats(0, 60))}],
        },
    }
    return make_scenario(motion, **top), draw(st.integers(0, 10_000))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_invariants(case):
    sc, seed = case
    run = run_one(sc, seed)
    L, C = run.leads, run.customers
    H = run.horizon
    m = monthly_series(run)
    out = L["outcome"]
    # every lead ends won, lost, or open at the horizon; never two of these
    assert set(np.unique(out)) <= {OPEN, WON, LOST}
    closed = out != OPEN
    assert np.isfinite(L["t_end"][closed]).all() and (L["t_end"][closed] <= H + 1e-6).all()
    assert np.isnan(L["t_end"][~closed]).all()
    # each won lead is exactly one customer (with pilots: each converted pilot is); a
    # value-share baseline or a services engagement waiting for a slot starts it later
    won_rows = np.flatnonzero(out == WON)
    leads_of_customers = np.sort(C["lead"][~C["initial"]])
    started = C["start"] <= H
    new_started = ~C["initial"] & started
    if run.pilots is None:
        assert np.array_equal(leads_of_customers, won_rows)
        n_new = won_rows.size
    else:
        P = run.pilots
        self_serve = np.flatnonzero((out == WON) & (L["source"] == SOURCE_ID["signups"]))
        sales_won = np.setdiff1d(won_rows, self_serve)
        assert np.array_equal(np.sort(P["lead"]), sales_won)  # each won evaluation sold a pilot
        converted = P["lead"][P["converted"] & (P["t_decision"] <= H)]
        assert np.array_equal(leads_of_customers, np.sort(np.concatenate([converted, self_serve])))
        n_new = converted.size + self_serve.size
    assert np.unique(leads_of_customers).size == leads_of_customers.size
    # every sign-up is counted once; self-serve customers are won sign-up rows
    assert (m["activated"] <= m["signups"]).all()
    # leads counted once in the monthly books
    sales_lead = np.isfinite(L["t_arrive"]) & (L["source"] != SOURCE_ID["signups"])
    assert m["leads"].sum() == sales_lead.sum()
    # stages entered in order, in time
    e = L["entry"]
    assert (np.nan_to_num(np.diff(e, axis=1), nan=0.0) >= -1e-9).all()
    # money
    assert (m["arr"] >= 0).all() and (C["arr"] >= 0).all()
    assert np.isclose(m["bookings_new"].sum(), C["arr0"][new_started].sum())
    if run.pilots is None:
        assert np.isclose(m["bookings_new"].sum(), L["acv"][C["lead"][new_started]].sum())
    churned = int((C["end"] <= H).sum())
    waiting = int((~C["initial"] & ~started).sum())
    assert m["customers"][-1] == n_new - waiting + int(C["initial"].sum()) - churned
    assert (m["sm_spend"] >= 0).all()
    # revenue is recurring plus one-off, each non-negative; the ARR bridge closes on new
    # recurring ARR (initial customers' ARR at the start, then what moved it)
    tol = 1e-6 * max(1.0, float(m["revenue"].sum()), float(C["arr0"].sum()))
    np.testing.assert_allclose(m["revenue_recurring"] + m["revenue_one_off"], m["revenue"],
                               atol=tol)
    assert (m["revenue_one_off"] >= -tol).all() and (m["revenue_recurring"] >= -tol).all()
    arr0_initial = float(C["arr0"][C["initial"]].sum())
    bridge = (arr0_initial + m["new_arr"].sum() + m["expansion_arr"].sum()
              - m["contraction_arr"].sum() - m["churned_arr"].sum())
    assert m["arr"][-1] == pytest.approx(bridge, abs=tol)
    if run.pilots is not None:  # only what a pilot costs beyond its fee is S&M
        assert (m["pilot_loss"] <= m["pilot_delivery_cost"] + tol).all()
        # every pilot started has one outcome at the horizon; extensions granted by then are
        # at most those drawn, and only successful pilots due a decision have any
        pm = pilot_metrics(run.pilots, H)
        assert sum(pm[k] for k in PILOT_OUTCOMES) == pm["pilots_started"] == P["lead"].size
        assert pm["pilots_converted"] == converted.size
        due = P["success"] & (P["t_end"] <= H)
        assert 0 <= pm["pilot_extensions"] <= P["extensions"][due].sum()
        assert pm["pilot_extensions"] >= (due & (P["extensions"] > 0)).sum()
    # a bounded market never hands out more accounts than it has (plus those returned)
    if sc.market.size is not None:
        arrived = int(np.isfinite(L["t_arrive"]).sum())
        assert arrived <= sc.market.size + int((out == LOST).sum())
