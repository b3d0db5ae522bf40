"""The headline table printed after a run: P50 [P10-P90] of key metrics per motion."""

from __future__ import annotations

import math
from typing import Any

from rich.markup import escape
from rich.table import Table

from sim.metrics import HEADLINE
from sim.runner.results import Results

__all__ = ["currency_symbol", "fmt_value", "headline_table", "section_table"]

_PERCENT = {"nrr", "grr", "win_rate", "forecast_mape", "forecast_bias", "lead_to_opportunity",
            "forecast_wape", "reached_target", "annual_churn_rate", "free_to_paid", "pql_conversion",
            "lead_to_win", "self_serve_share", "pilot_success_rate", "pilot_conversion",
            "gross_margin", "gross_margin_first_year", "self_serve_revenue_share",
            "recurring_gross_margin", "services_margin", "pilot_margin", "win_rate_to_production",
            "recovered_spend", "pilot_extension_rate"}
_MONTHS = {"cac_payback_months", "cac_payback_sales_assisted", "cac_payback_self_serve",
           "cac_payback_before_pilot_fees",
           "months_to_arr_target", "months_to_recover_spend"}
_DAYS = {"cycle_days_median", "wait_days_mean", "cycle_days_to_production"}
_COUNTS = {"new_customers", "leads_total", "opportunities_created", "open_pipeline_end",
           "signups_total", "pqls", "pilots_started", "pilots_converted", "pilots_failed",
           "pilots_declined", "pilots_abandoned", "pilots_running", "pilots_awaiting_decision",
           "pilot_extensions"}
_RATIO = {"ltv_to_cac", "custom_to_productised"}
LABELS = {
    "bookings_total": "Bookings",
    "arr_end": "ARR at end",
    "retained_revenue": "Recurring revenue",
    "one_off_revenue": "One-off revenue",
    "win_rate_to_production": "Win rate to production",
    "cycle_days_to_production": "Cycle to production",
    "nrr": "NRR",
    "grr": "GRR",
    "cac": "CAC",
    "cac_payback_months": "CAC payback",
    "cac_sales_assisted": "CAC, sales-assisted",
    "cac_self_serve": "CAC, self-serve",
    "cac_payback_sales_assisted": "CAC payback, sales-assisted",
    "cac_payback_self_serve": "CAC payback, self-serve",
    "cac_payback_before_pilot_fees": "CAC payback before pilot fees",
    "forecast_wape": "Forecast error (WAPE)",
    "forecast_mape": "Forecast error (MAPE)",
    "new_customers": "New customers",
    "win_rate": "Win rate",
    "ltv_to_cac": "LTV:CAC",
    "cycle_days_median": "Sales cycle",
    "months_to_arr_target": "Months to target",
    "reached_target": "P(target)",
    "sm_spend_total": "S&M spend",
    "monthly_burn": "Peak monthly burn",
    "months_to_recover_spend": "Spend recovered by",
    "recovered_spend": "P(spend recovered)",
}


def currency_symbol(currency: str) -> str:
    """How amounts are prefixed: "$" for USD, else the currency code and a space."""
    return "$" if currency.upper() == "USD" else currency + " "


def fmt_value(metric: str, v: float, currency: str = "$") -> str:
    if v is not None and metric in _MONTHS and v == math.inf:
        return "never"  # a payback with no positive margin, a target never reached
    if v is None or not math.isfinite(v):
        return "n/a"
    text = _fmt_finite(metric, v, currency)
    # a small negative value that rounds to zero reads 0, not -0% or -$0
    zero = not any(ch in "123456789" for ch in text)
    return text.removeprefix("-") if zero else text


def _fmt_finite(metric: str, v: float, currency: str) -> str:
    if metric in _PERCENT:
        return f"{v * 100:.0f}%"
    if metric in _MONTHS:
        return f"{v:.1f} mo"
    if metric in _DAYS:
        return f"{v:.0f} d"
    if metric in _COUNTS:
        return f"{v:,.0f}"
    if metric in _RATIO:
        return f"{v:.1f}x"
    a = abs(v)
    sign = "-" if v < 0 else ""
    # each unit from where the one below would round up into it ($999.6K reads $1.0M)
    if a >= 999_500:
        return f"{sign}{currency}{a / 1e6:.1f}M"
    if a >= 9_950:
        return f"{sign}{currency}{a / 1e3:.0f}K"
    if a >= 999.5:
        return f"{sign}{currency}{a / 1e3:.1f}K"
    return f"{sign}{currency}{a:.0f}"


def headline_table(res: Results) -> Table:
    s = res.summary().set_index(["motion", "metric"])
    cur = currency_symbol(res.scenario.currency)
    metrics = list(HEADLINE)
    if res.scenario.target_arr is not None:
        metrics += ["reached_target", "months_to_arr_target"]
    metrics += ["sm_spend_total", "monthly_burn"]
    t = Table(title=f"{escape(res.scenario.name)}: median, and P10 to P90 below it, over "
              f"{res.scenario.seeds} seeds (P(target): share of seeds)", title_justify="left")
    t.add_column("metric")
    for m in res.motions():
        t.add_column(escape(m), justify="right")
    for metric in metrics:
        cells = []
        for m in res.motions():
            if (m, metric) not in s.index or not s.loc[(m, metric), "n"]:
                cells.append("n/a")
                continue
            r = s.loc[(m, metric)]
            if metric == "reached_target":
                cells.append(fmt_value(metric, r["mean"]))
                continue
            lo, hi = fmt_value(metric, r["p10"], cur), fmt_value(metric, r["p90"], cur)
            unit = " mo" if metric in _MONTHS else " d" if metric in _DAYS else ""
            if unit:
                lo, hi = lo.removesuffix(unit), hi.removesuffix(unit)
            cells.append(f"{escape(fmt_value(metric, r['p50'], cur))}\n"
                         f"[dim]{escape(lo)} to {escape(hi)}[/]")
        t.add_row(escape(LABELS.get(metric, metric)), *cells)
    return t


def section_table(section: dict[str, Any]) -> Table:
    """A report section (title, headers, rows of formatted cells) as a terminal table.

    Stress, sensitivity and calibration build their rows once; the report page and
    the terminal show the same cells.
    """
    t = Table(*(escape(str(h)) for h in section["headers"]), title=escape(section["title"]),
              title_justify="left")
    for row in section["rows"]:
        t.add_row(*(escape(str(c)) for c in row))
    return t
