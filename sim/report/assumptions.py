"""The report's "What was assumed" section (STRESS-DES, Monks et al. 2018).

Output definitions, the scenario's settings and the software versions; the
inputs each motion changes from its template are listed by ``overrides.py``,
the model logic of each motion as a flow (sources, stages, customers) is drawn
by ``flow.py``. The results-facing sections (headline, narrative, comparison)
are in ``sim.report.html``.
"""

from __future__ import annotations

import importlib.metadata
import sys
from typing import TYPE_CHECKING

from sim.report.style import money

if TYPE_CHECKING:
    from sim.runner.results import Results

__all__ = ["DEFINITIONS", "definitions", "scenario_settings", "versions"]


# Output definitions (MODEL.md "Outputs"), shown in the report's assumptions.
DEFINITIONS: dict[str, str] = {
    "bookings_total": "First-year contract value of all deals won in the horizon "
                      "(production and subscription): sum of won ACV.",
    "pilot_bookings_total": "Pilot fees booked (bookings, not ARR).",
    "new_customers": "Customers won in the horizon.",
    "arr_end": "ARR at the horizon's end: sum of the ARR of live contracts.",
    "retained_revenue": "Recurring revenue recognised over the horizon: sum of monthly MRR, "
                        "i.e. bookings after churn and expansion (one-off fees are not in it; "
                        "the same figure as recurring_revenue).",
    "recurring_revenue": "Revenue billed on renewing contracts (subscriptions, usage, outcomes, "
                         "value shares, follow-on subscriptions) over the horizon.",
    "one_off_revenue": "Revenue billed once for work done: services engagement fees, "
                       "value-share baseline fees and pilot fees, recognised over the horizon.",
    "services_revenue": "Services engagement fees recognised in the horizon (not ARR).",
    "services_margin": "(services fees - delivery cost) / services fees.",
    "pilot_fees_total": "Pilot fees recognised in the horizon, evenly over each pilot (not ARR).",
    "pilot_margin": "(pilot fees - pilot delivery cost) / pilot fees; only a pilot's net loss "
                    "(cost above its fee) counts as S&M.",
    "recurring_gross_margin": "(recurring revenue - its cost of revenue - platform fees) / "
                              "recurring revenue: the margin CAC payback and LTV use.",
    "new_arr_total": "Recurring ARR of new customers when it starts: the run rate billed then "
                     "(an outcome deal's at signing, a services customer's follow-on).",
    "win_rate_to_production": "With pilots: production contracts / (production contracts + "
                              "opportunities lost in the stages or after their pilot).",
    "cycle_days_to_production": "With pilots: median days from opportunity creation to the "
                                "production contract.",
    "grr": "Gross revenue retention over the last 12 months: (ARR then - churned ARR - "
           "contraction) / ARR then, at most 100%, over customers active 12 months before the "
           "end (contraction counts even where the same customer also expanded).",
    "nrr": "Net revenue retention over the last 12 months: sum of ARR now / sum of ARR then, "
           "same customers (= ARR then + expansion - contraction - churned ARR, over ARR then).",
    "sm_spend_total": "Sales and marketing spend: selling roles' fully loaded cost from hire "
                      "date times their selling_share, commissions, marketing, partner fees, "
                      "pilots' net loss (delivery cost above the fee).",
    "cs_spend_total": "Customer success cost, tracked apart from S&M.",
    "cac": "CAC = sm_spend_total / new_customers.",
    "cac_payback_months": "CAC payback = sm_spend_total / (new_arr_total x recurring gross "
                          "margin / 12), where new_arr_total is the recurring ARR new customers "
                          "start on (one-off fees excluded).",
    "cac_sales_assisted": "Sales-assisted CAC = S&M spend other than the sign-up source's "
                          "(selling roles, commission, other sources, partners, pilots' net "
                          "loss, other S&M) / new customers other than self-serve upgrades "
                          "(PQLs closed by sales among them).",
    "cac_self_serve": "Self-serve CAC = the sign-up source's marketing and cost per sign-up / "
                      "customers who upgraded on the product path without sales.",
    "cac_payback_sales_assisted": "Sales-assisted CAC payback = sales-assisted spend / (their "
                                  "new recurring ARR x recurring gross margin / 12).",
    "cac_payback_self_serve": "Self-serve CAC payback = self-serve spend / (self-serve new "
                              "recurring ARR x recurring gross margin / 12).",
    "ltv_to_cac": "LTV:CAC = (new recurring ARR per new customer x recurring gross margin / "
                  "annual churn) / CAC; annual churn is the logo churn of the customers active "
                  "12 months before the end (the share who left since), floored at 5% "
                  "(lifetime at most 20 years).",
    "win_rate": "Won / (won + lost), over opportunities closed in the horizon.",
    "cycle_days_median": "Median days from opportunity creation to win.",
    "forecast_wape": "Forecast error (WAPE) = sum over quarters of |forecast - actual| / sum of "
                     "actual bookings, over the quarters after the first.",
    "forecast_bias": "Forecast bias = (sum of forecasts - sum of actual bookings) / sum of actual "
                     "bookings, over the quarters after the first; above 0 the forecast runs "
                     "high.",
    "forecast_mape": "Mean over the quarters after the first with bookings of |forecast - actual| "
                     "/ actual (a quarter forecast with nothing booked drops out).",
    "months_to_arr_target": "First month whose ARR reaches target_arr (seeds that reach it).",
    "reached_target": "P(target): share of seeds whose ARR at the end is at least target_arr.",
}


def scenario_settings(res: Results, cur: str) -> list[tuple[str, str]]:
    sc = res.scenario
    init = sc.initial
    rows = [
        ("Horizon", f"{sc.horizon_months} months"),
        ("Replications (seeds)", f"{res.runs['seed'].nunique() if not res.runs.empty else 0:,}"),
        ("Root seed", str(sc.seed)),
        ("Currency", sc.currency),
        ("ARR target", money(sc.target_arr, cur) if sc.target_arr is not None else "none"),
        ("Market size (accounts)", f"{sc.market.size:,}" if sc.market.size else "unbounded"),
        ("Cooling-off before re-approaching a lost account",
         f"{sc.market.cooling_off_days:.0f} days" if sc.market.size else "n/a (unbounded)"),
    ]
    cust = init.customers
    n_acc = len(cust.accounts)
    if cust.count or n_acc:
        arr = cust.arr + sum(a.arr for a in cust.accounts)
        rows.append(("Customers at start", f"{cust.count + n_acc:,} with {money(arr, cur)} ARR"))
    else:
        rows.append(("Customers at start", "none (the company starts empty)"))
    if init.reps:
        rows.append(("Reps with tenure at start", ", ".join(
            f"{r.count} {r.role} ({r.tenure_months:g} mo)" for r in init.reps)))
    if init.pipeline:
        rows.append(("Open pipeline at start", ", ".join(
            f"{p.count} in {p.stage}" for p in init.pipeline)))
    return rows


def versions(res: Results) -> list[tuple[str, str]]:
    man = res.manifest or {}

    def ver(pkg: str) -> str:
        try:
            return importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    from sim.version import __version__

    wall = man.get("wall_seconds")
    rows = [
        ("revsim", str(man.get("package_version", __version__))),
        ("Python", str(man.get("python", sys.version.split()[0]))),
    ]
    for pkg in ("numpy", "pandas", "simpy", "matplotlib", "pydantic"):
        rows.append((pkg, str(man.get(f"{pkg}_version", ver(pkg)))))
    rows += [
        ("Scenario hash (SHA-256 of the resolved scenario)", str(man.get("scenario_hash", "n/a"))),
        ("Executor / workers", f"{man.get('executor', 'n/a')} / {man.get('workers', 'n/a')}"),
        ("Wall time", f"{float(wall):.1f} s" if isinstance(wall, int | float) else "n/a"),
        ("Command line", str(man.get("command_line") or "n/a")),
    ]
    return rows


def definitions(shown: list[str]) -> list[tuple[str, str]]:
    """(metric, definition) for each shown metric that has one."""
    return [(m, DEFINITIONS[m]) for m in dict.fromkeys(shown) if m in DEFINITIONS]
