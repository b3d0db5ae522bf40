"""Revenue by segment: self-serve accounts and sales-assisted customers.

Each segment is its own customers' revenue: a self-serve account's billing, with the
revenue of its seat growth from its renewal to the month's end, is self-serve revenue;
a sales-assisted customer's billing, one-off fees and pilot fees are sales revenue. The
month's revenue is their sum, so a motion whose customers all came through self-serve
has no sales revenue at all, month by month, exactly.
"""

from __future__ import annotations

import numpy as np
from conftest import PLG, make_scenario, run_one

from sim.engine.ledger import monthly_series
from sim.engine.records import SOURCE_ID
from sim.runner.api import simulate
from sim.scenario.loader import deep_merge, load_scenario

# the product path of conftest's PLG with 1,000 sign-ups a month, $5K of marketing,
# churn, and seats that grow at each monthly renewal (revenue from the renewal to the
# month's end)
SELF_SERVE = deep_merge(PLG, {
    "sources": {"signups": {"signups_per_month": 1000, "marketing_spend_per_month": 5_000}},
    "self_serve": {"monthly_churn": 0.02, "expansion_rate_annual": 0.6},
})


def test_plg_template_has_no_sales_revenue():
    """The plg template's freemium motion: every customer an upgrade, sales revenue 0."""
    sc = load_scenario("scenarios/plg.yaml")
    res = simulate(sc.model_copy(update={"motions": sc.motions[:1]}), seeds=2, workers=1)
    m = res.monthly
    assert len(m) == 2 * sc.horizon_months and (m["new_customers"] > 0).any()
    assert (m["new_customers_self_serve"] == m["new_customers"]).all()
    assert (m["revenue_sales"] == 0.0).all()
    assert (m["revenue_self_serve"] == m["revenue"]).all()
    assert (m["revenue_self_serve"] + m["revenue_sales"] == m["revenue"]).all()
    assert (res.runs["self_serve_revenue_share"] == 1.0).all()


def test_self_serve_expansion_is_self_serve_revenue():
    """Seat growth at renewals (the revenue that leaked to sales) stays self-serve."""
    run = run_one(make_scenario(SELF_SERVE, horizon_months=12), 1)
    C = run.customers
    assert len(C["source"]) > 0 and (C["source"] == SOURCE_ID["signups"]).all()
    m = monthly_series(run)
    assert m["expansion_arr"].sum() > 0  # moves within the month happened
    np.testing.assert_array_equal(m["revenue_sales"], np.zeros(12))
    np.testing.assert_array_equal(m["revenue_self_serve"], m["revenue"])


def test_blend_segments_add_up_exactly():
    """Self-serve accounts and inbound deals: the two segments add up to the revenue
    exactly, and before the first sales customer starts there is no sales revenue."""
    motion = {**SELF_SERVE,
              "sources": {**SELF_SERVE["sources"],
                          "inbound": {"leads_per_month": 3, "growth_per_month": 0.0}},
              # a 75-day sale: the first sales customer starts in the third month
              "stages": [{"name": "work", "owner": "ae", "duration": 75, "advance": 1.0}]}
    run = run_one(make_scenario(motion, horizon_months=12), 3)
    m = monthly_series(run)
    np.testing.assert_array_equal(m["revenue_self_serve"] + m["revenue_sales"], m["revenue"])
    C = run.customers
    sales = C["source"] != SOURCE_ID["signups"]
    assert sales.any() and (~sales).any()
    first = int(np.floor(C["start"][sales].min() / 30.0))
    assert first >= 2 and m["revenue_self_serve"][first - 1] > 0
    np.testing.assert_array_equal(m["revenue_sales"][:first], np.zeros(first))
    assert (m["revenue_sales"][first + 1:] > 0).all()
