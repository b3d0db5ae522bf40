"""Pricing models and borrowed-audience channels, checked by hand (MODEL.md "How customers pay")."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.engine.channels import channel_grids, community_audience, risk_time
from sim.engine.forecast import quarterly_forecast
from sim.engine.ledger import monthly_series
from sim.engine.rng import Streams
from sim.engine.sources import STEP_DAYS, STEPS_PER_MONTH
from sim.engine.team import MONTH_DAYS
from sim.metrics import seed_metrics
from tests.conftest import make_scenario, run_one

ONE_DEAL = {"initial": {"pipeline": [{"stage": "work", "count": 1, "days_in_stage": 0,
                                      "acv": 12000}]}}


def _one_deal(deal: dict, months: int = 6, **motion: object):
    sc = make_scenario({"deal": deal, **motion}, horizon_months=months, **ONE_DEAL)
    run = run_one(sc)
    return run, monthly_series(run)


def test_usage_revenue_is_volume_times_price_and_grows_by_volume() -> None:
    price, g = 2.0, 0.1
    run, mo = _one_deal({"pricing": "usage", "acv": None,
                         "usage": {"units_start": 1, "growth_monthly": g, "unit_price": price}})
    units0 = 12000 / (12 * price)  # the deal's value is its first-year run rate
    # month 0: the customer starts at day 10 at its signature run rate
    assert mo["revenue"][0] == pytest.approx(12000 * (MONTH_DAYS - 10) / 365)
    for m in range(1, 6):  # whole months: volume x price, volume up by g each month end
        assert mo["revenue"][m] == pytest.approx(units0 * (1 + g) ** m * price)
        assert mo["arr"][m] == pytest.approx(12 * units0 * (1 + g) ** (m + 1) * price)
    assert mo["bookings_new"].sum() == pytest.approx(12000)
    assert mo["expansion_arr"][1] == pytest.approx(12 * price * units0 * ((1 + g) ** 2 - (1 + g)))


def test_outcome_revenue_margin_and_commission_by_hand() -> None:
    p, c, r0, r1, months_up = 0.5, 0.3, 0.2, 0.8, 12.0
    ae = {"commission_rate": 0.1}
    run, mo = _one_deal(
        {"pricing": "outcome", "acv": None,
         "outcome": {"workload_per_month": 1, "resolution_start": r0, "resolution_target": r1,
                     "resolution_months": months_up, "price_per_outcome": p,
                     "compute_cost_per_outcome": c, "commission_plan": "hybrid",
                     "signing_share": 0.3}},
        months=18, team={"ae": ae})
    w = 12000 / (12 * p * r1)  # workload behind the projected first-year value

    def r(month_end: int) -> float:
        return r0 + (r1 - r0) * min(month_end / months_up, 1.0)

    for m in range(1, 18):
        # resolved share fixed at the month's start: revenue = workload x resolved x price
        assert mo["revenue"][m] == pytest.approx(w * r(m) * p)
        # every outcome attempted costs compute
        assert mo["cogs"][m] == pytest.approx(w * c)
    gm = 1 - mo["cogs"] / mo["revenue"]
    # cost 0.3 against 0.5 x 0.2 resolved: margin -200% at first, positive once r x p > c
    assert gm[1] == pytest.approx(1 - c / (r(1) * p))
    assert gm[1] < 0 and gm[17] > 0
    # commission: 30% at signing on the projection, 70% on realised first-year revenue
    start = run.customers["start"][0]
    young = [m for m in range(18) if m * MONTH_DAYS - start < 365]
    trailing = 0.1 * 0.7 * sum(mo["revenue"][m] for m in young)
    assert mo["commission"].sum() == pytest.approx(0.1 * 0.3 * 12000 + trailing)
    metrics = seed_metrics(run, mo, quarterly_forecast(run, Streams(1, 0)), None)
    assert metrics["gross_margin_first_year"] < 0


def test_value_share_respects_floor_and_ceiling_and_disputes() -> None:
    # fee = 0.15 x gain, gain uniform on (0, 20M): fee uniform on (0, 3M); floor 1M, ceiling 2M
    vs = {"gain_per_year": {"dist": "uniform", "low": 0, "high": 20_000_000}, "share": 0.15,
          "floor": 1_000_000, "ceiling": 2_000_000, "baseline_days": 0,
          "dispute_probability": 0.25, "dispute_collection": 0.5}
    sc = make_scenario({"deal": {"pricing": "value_share", "acv": None, "value_share": vs},
                        "sources": {"inbound": {"leads_per_month": 200}}}, horizon_months=12)
    C = run_one(sc).customers
    fee = C["arr0"]
    n = fee.size
    assert n > 1500
    assert fee.min() >= 1_000_000 and fee.max() <= 2_000_000
    se = math.sqrt((1 / 3) * (2 / 3) / n)
    assert abs((fee == 1_000_000).mean() - 1 / 3) < 4 * se
    assert abs((fee == 2_000_000).mean() - 1 / 3) < 4 * se
    disputed = C["arr"] < C["arr0"]
    assert np.allclose(C["arr"][disputed], 0.5 * fee[disputed])
    assert abs(disputed.mean() - 0.25) < 4 * math.sqrt(0.25 * 0.75 / n)


def test_value_share_baseline_is_paid_and_delays_billing() -> None:
    vs = {"gain_per_year": 10_000_000, "share": 0.1, "floor": 0, "ceiling": 5e6,
          "baseline_days": 60, "baseline_fee": 50_000}
    run, mo = _one_deal({"pricing": "value_share", "acv": None, "value_share": vs})
    # the lead carries 12,000 as its value (initial pipeline); billing starts 60 days after the win
    assert run.customers["start"][0] == pytest.approx(10 + 60)
    assert mo["fees"][0] == 50_000 and mo["fees"].sum() == 50_000
    assert mo["revenue"][0] == 50_000  # the baseline fee; nothing billed yet


def test_services_never_exceed_capacity_and_productise() -> None:
    sv = {"fee": 1_000_000, "duration_months": 6, "max_concurrent": 2, "productized_share": 0.5,
          "reuse_saving": 0.6, "follow_on_probability": 0.0}
    sc = make_scenario({"deal": {"pricing": "services", "acv": None, "services": sv},
                        "sources": {"inbound": {"leads_per_month": 1}}}, horizon_months=48)
    run = run_one(sc)
    iv = run.extras["engagements"]
    assert len(iv) >= 6
    times = sorted([(s, 1) for s, _ in iv] + [(e, -1) for _, e in iv], key=lambda x: (x[0], x[1]))
    running = np.cumsum([d for _, d in times])
    assert running.max() == 2  # busy, and never more than the two slots
    ends = np.array([e for _, e in iv])
    for s, e in iv:  # k engagements finished at the start: 6 x (1 - 0.6 x (1 - 0.5^k)) months
        k = int((ends <= s).sum())
        assert (e - s) / MONTH_DAYS == pytest.approx(6 * (1 - 0.6 * (1 - 0.5**k)))
    mo = monthly_series(run)
    # services revenue costs (1 - margin) x (1 - saving x R): never more than 65% of it
    assert (mo["cogs"] <= 0.65 * mo["revenue"] + 1e-6).all()
    assert run.extras["custom_to_productised"] < 1.0
    # engagement fees are services revenue, not ARR; with no follow-on nothing recurs
    assert mo["revenue"].sum() > 0 and (mo["arr"] == 0).all()
    assert mo["churned_arr"].sum() == 0 and mo["customers"].max() <= 2


def test_services_follow_on_becomes_recurring_arr() -> None:
    sv = {"fee": 1_000_000, "duration_months": 3, "max_concurrent": 1, "productized_share": 0.0,
          "follow_on_probability": 1.0, "follow_on_acv": 200_000}
    sc = make_scenario({"deal": {"pricing": "services", "acv": None, "services": sv}},
                       horizon_months=12, **ONE_DEAL)
    run = run_one(sc)
    mo = monthly_series(run)
    end = 10 + 3 * MONTH_DAYS  # won at day 10, three months of engagement
    m_end = int(end // MONTH_DAYS)
    assert (mo["arr"][:m_end] == 0).all() and (mo["arr"][m_end:] == 200_000).all()
    # the customer's first recurring ARR is new ARR, not expansion
    assert mo["new_arr"][m_end] == 200_000 and mo["new_arr"].sum() == 200_000
    assert mo["expansion_arr"].sum() == 0
    # the fee (the deal's value, 12,000) billed evenly over the engagement, then the subscription
    assert mo["revenue"][1] == pytest.approx(12000 / 3)
    assert mo["revenue"][m_end + 1] == pytest.approx(200_000 / 12)


def test_risk_event_changes_the_flow_from_its_day_on() -> None:
    sc = make_scenario({"sources": {
        "marketplace": {"installs_per_month": 30, "platform_risk": {"annual_probability": 0.5,
                                                                     "flow_factor": 0.25}},
        "hyperscaler": {"listing_leads_per_month": 0, "intros_per_month": 10,
                        "certification_months": 6, "intro_ramp_months": 0,
                        "deprioritisation": {"annual_probability": 0.0}}}}, horizon_months=60)
    m = sc.motions[0]
    n_steps = 60 * STEPS_PER_MONTH
    t_mid = (np.arange(n_steps) + 0.5) * STEP_DAYS
    for seed in range(5):
        streams = Streams(sc.seed, seed)
        grids = {g[0]: g for g in channel_grids(m.sources, t_mid, streams)}
        _, lam, _, _, at = grids["marketplace"]
        before = lam[t_mid < at]
        after = lam[t_mid >= at]
        assert np.allclose(before, 30 / MONTH_DAYS)
        assert np.allclose(after, 0.25 * 30 / MONTH_DAYS)
        _, lam_h, _, _, _ = grids["hyperscaler"]
        assert (lam_h[t_mid < 6 * MONTH_DAYS] == 0).all()
        assert np.allclose(lam_h[t_mid >= 6 * MONTH_DAYS], 10 / MONTH_DAYS)


def test_risk_time_has_the_annual_odds() -> None:
    rng = np.random.default_rng(3)
    n = 20000
    t = np.array([risk_time(_risk(0.2), rng) for _ in range(n)])
    p1 = (t <= 365).mean()
    assert abs(p1 - 0.2) < 4 * math.sqrt(0.2 * 0.8 / n)


def _risk(p: float):
    from sim.scenario.channels import Risk

    return Risk(annual_probability=p, flow_factor=0.5)


def test_marketplace_revenue_share_is_charged_on_its_customers() -> None:
    sc = make_scenario({"sources": {"marketplace": {
        "installs_per_month": 20, "revenue_share": 0.2,
        "platform_risk": {"annual_probability": 0}}}}, horizon_months=12)
    run = run_one(sc)
    mo = monthly_series(run)
    assert mo["platform_fees"].sum() == pytest.approx(0.2 * mo["revenue"].sum())
    assert mo["gross_profit"].sum() == pytest.approx((0.8 - 0.2) * mo["revenue"].sum())


def test_community_audience_and_dilution() -> None:
    months = np.array([0.0, 12.0, 24.0])
    assert np.allclose(community_audience(100, 50, 0.0, months), [100, 700, 1300])
    g = 0.05
    assert community_audience(100, 50, g, np.array([2.0]))[0] == pytest.approx(
        (100 * 1.05 + 50) * 1.05 + 50)
    sc = make_scenario({"sources": {"community": {
        "audience_start": 0, "audience_per_month": 1000, "build_months": 12,
        "intent_rate_monthly": 0.01, "audience_lift": 10, "founder_reach": 6000}}},
        horizon_months=24)
    n_steps = 24 * STEPS_PER_MONTH
    t_mid = (np.arange(n_steps) + 0.5) * STEP_DAYS
    (_, lam, _, lift, _), = channel_grids(sc.motions[0].sources, t_mid, Streams(1, 0))
    months_mid = t_mid / MONTH_DAYS
    assert (lam[months_mid < 12] == 0).all()  # content first, no product
    later = months_mid >= 12
    assert np.allclose(lam[later], 1000 * months_mid[later] * 0.01 / MONTH_DAYS)
    # lift 10x within the founder's reach, diluting beyond it
    assert np.allclose(lift[months_mid <= 6], 10)
    assert np.allclose(lift[later], 1 + 9 * 6000 / (1000 * months_mid[later]))
