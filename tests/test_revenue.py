"""Recurring against one-off revenue, and the unit economics built on recurring ARR.

Hand-worked scenarios (docs/model.md "Metrics"): a services engagement with a
follow-on subscription, an outcome-priced deal billed below its projection, a
paid pilot that loses money, a value-share baseline fee, and pilots decided on
the way to production. Each figure is worked out on paper from the inputs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import make_scenario, run_one

from sim.engine.forecast import quarterly_forecast
from sim.engine.ledger import monthly_series
from sim.engine.rng import Streams
from sim.engine.team import MONTH_DAYS
from sim.metrics import seed_metrics

M = MONTH_DAYS
AE_COST = {"ae": {"cost_per_year": 120_000}}  # S&M of exactly 120,000 over a 12-month horizon


def _metrics(motion: dict, months: int = 12, **top: object) -> tuple[dict, dict, object]:
    run = run_one(make_scenario(motion, horizon_months=months, **top))
    mo = monthly_series(run)
    return seed_metrics(run, mo, quarterly_forecast(run, Streams(1, 0)), None), mo, run


def _one_deal(acv: float | None = None) -> dict:
    deal = {"stage": "work", "count": 1, "days_in_stage": 0}
    if acv is not None:
        deal["acv"] = acv
    return {"initial": {"pipeline": [deal]}}


def test_services_fees_are_one_off_and_payback_runs_on_the_follow_on_arr() -> None:
    # a 120,000 engagement won at day 10, three months long, delivered at a 40% margin;
    # then a 24,000 subscription at the 80% product margin
    sv = {"duration_months": 3, "max_concurrent": 1, "productized_share": 0.0,
          "services_margin": 0.4, "follow_on_probability": 1.0, "follow_on_acv": 24_000}
    # 24 months: the follow-on customer is in the retention cohort (live 12 months before
    # the end), whose churn LTV reads
    m, mo, _ = _metrics({"deal": {"pricing": "services", "acv": None, "services": sv},
                         "team": AE_COST}, months=24, **_one_deal(120_000))
    end = 10 + 3 * M
    recurring = 24_000 * (24 * M - end) / 365
    assert m["services_revenue"] == pytest.approx(120_000)
    assert m["one_off_revenue"] == pytest.approx(120_000)
    assert m["services_margin"] == pytest.approx(0.4)
    assert m["recurring_revenue"] == pytest.approx(recurring)
    assert m["retained_revenue"] == pytest.approx(recurring)  # recurring only
    assert mo["revenue"].sum() == pytest.approx(120_000 + recurring)
    assert m["recurring_gross_margin"] == pytest.approx(0.8)
    # new ARR is the follow-on subscription (not the fee), when it starts
    assert m["new_arr_total"] == pytest.approx(24_000)
    assert m["expansion_arr_total"] == 0
    assert m["bookings_total"] == pytest.approx(120_000)  # the engagement is booked
    # payback = S&M / (new recurring ARR x its margin / 12) = 240,000 / 1,600 (two years
    # of one AE at 120,000 a year)
    assert m["sm_spend_total"] == pytest.approx(240_000)
    assert m["cac_payback_months"] == pytest.approx(150.0)
    # LTV = 24,000 x 0.8 / 5% (no churn: the floor) = 384,000; CAC = 240,000
    assert m["ltv_to_cac"] == pytest.approx(1.6)


def test_outcome_new_arr_is_the_run_rate_billed_at_signing() -> None:
    p, c, r0, r1, months_up = 0.5, 0.05, 0.2, 0.8, 12.0
    out = {"workload_per_month": 1, "resolution_start": r0, "resolution_target": r1,
           "resolution_months": months_up, "price_per_outcome": p,
           "compute_cost_per_outcome": c}
    m, mo, run = _metrics({"deal": {"pricing": "outcome", "acv": None, "outcome": out},
                           "team": AE_COST}, **_one_deal(12_000))
    # the seller projects 12,000 at the matured share; at day 10 it bills r(10) / r1 of it
    billed = 12_000 * (r0 + (r1 - r0) * 10 / (months_up * M)) / r1
    assert run.customers["arr0"][0] == pytest.approx(12_000)
    assert m["bookings_total"] == pytest.approx(12_000)  # the projection stays bookings
    assert m["new_arr_total"] == pytest.approx(billed)
    gm = 1 - mo["cogs"].sum() / mo["revenue"].sum()
    assert m["recurring_gross_margin"] == pytest.approx(gm)
    assert m["cac_payback_months"] == pytest.approx(120_000 / (billed * gm / 12))


PILOT = {
    "stages": [{"name": "work", "owner": "ae", "duration": 5, "advance": 1.0}],
    "pilot": {"fee": 40_000, "duration_days": 60, "success_rate": 1.0, "delivery_cost": 50_000,
              "production_multiplier": 5, "conversion_clause": True,
              "decision_conversion": 1.0, "decision_window_days": 0},
}


def test_pilot_fees_are_revenue_and_only_the_net_loss_is_acquisition_cost() -> None:
    m, mo, run = _metrics(PILOT, **_one_deal())
    # pilot from day 5 to day 65: fee and delivery spread evenly over its 60 days
    share = np.array([M - 5, M, 65 - 2 * M]) / 60
    np.testing.assert_allclose(mo["revenue_pilot"][:3], 40_000 * share)
    np.testing.assert_allclose(mo["pilot_delivery_cost"][:3], 50_000 * share)
    assert m["pilot_fees_total"] == pytest.approx(40_000)
    assert m["one_off_revenue"] == pytest.approx(40_000)
    assert m["pilot_margin"] == pytest.approx(-0.25)  # (40,000 - 50,000) / 40,000
    assert m["pilot_margin_total"] == pytest.approx(-10_000)
    assert m["sm_spend_total"] == pytest.approx(10_000)  # the loss, not the delivery cost
    # the production contract: 5 x 40,000 from day 65, at the 80% subscription margin
    assert m["new_arr_total"] == pytest.approx(200_000)
    assert m["recurring_revenue"] == pytest.approx(200_000 * (12 * M - 65) / 365)
    assert m["cac_payback_months"] == pytest.approx(10_000 / (200_000 * 0.8 / 12))
    # a pilot that earns more than it costs is no acquisition cost at all
    rich = {**PILOT, "pilot": {**PILOT["pilot"], "fee": 60_000}}
    m2, _, _ = _metrics(rich, **_one_deal())
    assert m2["sm_spend_total"] == 0
    assert m2["pilot_margin"] == pytest.approx(1 / 6)


def test_payback_before_pilot_fees_counts_every_pilot_cost_as_acquisition_cost() -> None:
    """The payback were the pilots free proofs of concept: the part of a pilot's delivery
    cost its fee paid for goes back into S&M (docs/model.md "CAC payback before pilot
    fees"). One AE at 120,000 a year, one pilot costing 50,000 against a 40,000 fee, a
    200,000 production contract at the 80% margin (13,333.33 gross profit a month)."""
    m, _, _ = _metrics({**PILOT, "team": AE_COST}, **_one_deal())
    assert m["sm_spend_total"] == pytest.approx(130_000)  # salary + the 10,000 net loss
    assert m["cac_payback_months"] == pytest.approx(130_000 / 13_333.333333)  # 9.75
    assert m["cac_payback_before_pilot_fees"] == pytest.approx(170_000 / 13_333.333333)  # 12.75
    # a 60,000 fee covers the 50,000 pilot: no acquisition cost after the fee, the whole
    # 50,000 before it; the contract is 5 x 60,000 = 300,000 (20,000 gross profit a month)
    rich = {**PILOT, "team": AE_COST, "pilot": {**PILOT["pilot"], "fee": 60_000}}
    m2, _, _ = _metrics(rich, **_one_deal())
    assert m2["cac_payback_months"] == pytest.approx(120_000 / 20_000)  # 6.0
    assert m2["cac_payback_before_pilot_fees"] == pytest.approx(170_000 / 20_000)  # 8.5
    # a motion without pilots has no such figure
    m3, _, _ = _metrics({"team": AE_COST}, **_one_deal())
    assert math.isnan(m3["cac_payback_before_pilot_fees"])


def test_one_value_for_the_production_contract() -> None:
    # fees and multipliers vary by deal: what the pipeline (and the forecast) carries for a
    # deal is the production contract its pilot signs
    pilot = {**PILOT["pilot"], "fee": {"dist": "uniform", "low": 25_000, "high": 100_000},
             "production_multiplier": {"dist": "uniform", "low": 3, "high": 10}}
    _, _, run = _metrics({**PILOT, "pilot": pilot},
                         initial={"pipeline": [{"stage": "work", "count": 200}]})
    L, P, C = run.leads, run.pilots, run.customers
    assert P["lead"].size == 200
    np.testing.assert_allclose(P["production_acv"], L["acv"][P["lead"]])
    ratio = P["production_acv"] / P["fee"]
    assert ratio.min() >= 3 and ratio.max() <= 10 and ratio.std() > 1
    signed = np.sort(C["arr0"][~C["initial"]])
    np.testing.assert_allclose(signed, np.sort(P["production_acv"][P["converted"]]))


def test_win_rate_and_cycle_run_to_the_production_contract() -> None:
    n = 800
    stages = [{"name": "qualify", "duration": 0, "advance": 1.0},
              {"name": "work", "owner": "ae", "duration": 5, "advance": 0.5}]
    pilot = {**PILOT["pilot"], "success_rate": 0.6, "decision_conversion": 0.8}
    m, _, run = _metrics({"stages": stages, "pilot": pilot}, months=24,
                         initial={"pipeline": [{"stage": "work", "count": n}]})
    assert m["win_rate"] == pytest.approx(run.pilots["lead"].size / n)  # to the pilot sale
    p = 0.5 * 0.6 * 0.8  # evaluation won, pilot succeeds, buyer converts
    assert abs(m["win_rate_to_production"] - p) < 4 * math.sqrt(p * (1 - p) / n)
    # opportunity at day 0, evaluation 5 days, pilot 60, decided at its end
    assert m["cycle_days_median"] == pytest.approx(5)
    assert m["cycle_days_to_production"] == pytest.approx(65)


def test_without_pilots_production_figures_are_the_win_figures() -> None:
    m, _, _ = _metrics({"sources": {"inbound": {"leads_per_month": 30}},
                        "stages": [{"name": "work", "owner": "ae", "duration": 10,
                                    "advance": 0.4}]})
    assert m["win_rate_to_production"] == m["win_rate"]
    assert m["cycle_days_to_production"] == m["cycle_days_median"]


def test_value_share_baseline_fee_is_one_off_revenue() -> None:
    vs = {"gain_per_year": 10_000_000, "share": 0.1, "floor": 0, "ceiling": 5e6,
          "baseline_days": 60, "baseline_fee": 50_000}
    m, _, _ = _metrics({"deal": {"pricing": "value_share", "acv": None, "value_share": vs}},
                       months=6, **_one_deal(12_000))
    # won at day 10, billed 12,000 a year from day 70
    recurring = 12_000 * (6 * M - 70) / 365
    assert m["one_off_revenue"] == pytest.approx(50_000)
    assert m["recurring_revenue"] == pytest.approx(recurring)
    assert m["retained_revenue"] == pytest.approx(recurring)
    assert m["new_arr_total"] == pytest.approx(12_000)


def test_founder_selling_share_of_cost_is_sm() -> None:
    founder = {"team": {"founder": {"start": 1, "cost_per_year": 200_000, "selling_share": 0.4,
                                    "max_open_deals": 5}},
               "stages": [{"name": "work", "owner": "founder", "duration": 10, "advance": 1.0}]}
    m, _, _ = _metrics(founder)
    assert m["sm_spend_total"] == pytest.approx(0.4 * 200_000)


def test_spend_with_no_new_recurring_arr_never_pays_back() -> None:
    # an engagement with no follow-on brings fees but no recurring ARR: the S&M spent on
    # winning it is never paid back by recurring gross profit (not left out as 0/0)
    sv = {"duration_months": 3, "max_concurrent": 1, "follow_on_probability": 0.0}
    m, _, _ = _metrics({"deal": {"pricing": "services", "acv": None, "services": sv},
                        "team": AE_COST}, **_one_deal(120_000))
    assert m["new_arr_total"] == 0 and m["services_revenue"] == pytest.approx(120_000)
    assert m["cac_payback_months"] == math.inf
    assert m["ltv_to_cac"] == 0
    # no spend and nothing new: no payback to speak of
    m0, _, _ = _metrics({}, **_one_deal(None))
    assert m0["sm_spend_total"] == 0
