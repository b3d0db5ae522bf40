"""How the report words numbers: values, differences and intervals by metric kind,
metric labels, and a paired comparison row read in either direction."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from sim.report.terminal import LABELS, fmt_value

__all__ = ["cmp_row", "fmt", "fmt_ci", "fmt_diff", "is_percent", "kind", "label", "num", "pct"]


def is_percent(metric: str) -> bool:
    # fmt_value knows which metrics are shares; ask it rather than keep a second list
    return fmt_value(metric, 0.5).endswith("%")


def fmt(metric: str, v: float, cur: str) -> str:
    return fmt_value(metric, v, cur)


def kind(metric: str) -> str:
    """The unit fmt_value gives a metric: pct, months, days, ratio, count or money."""
    text = fmt_value(metric, 1.5, "$")
    if text.endswith("%"):
        return "pct"
    if text.endswith(" mo"):
        return "months"
    if text.endswith(" d"):
        return "days"
    if text.endswith("x"):
        return "ratio"
    return "money" if text.startswith("$") else "count"


def fmt_diff(metric: str, v: float, cur: str, signed: bool = True,
              precise: bool = False) -> str:
    """A difference: percentage points for shares, else the metric's own unit."""
    if v is None or not math.isfinite(v):
        return "n/a"
    a, p = abs(v), int(precise)
    unit = kind(metric)
    if unit == "pct":
        body = f"{a * 100:.{1 + p}f} pp"
    elif unit == "months":
        body = f"{a:.{1 + p}f} mo"
    elif unit == "days":
        body = f"{a:.{p}f} d"
    elif unit == "ratio":
        body = f"{a:.{1 + p}f}x"
    elif unit == "count":
        body = f"{a:,.{1 + p}f}"
    else:
        body = f"{cur}{a:,.0f}" if precise else fmt_value(metric, a, cur)
    if not any(ch in "123456789" for ch in body.removeprefix(cur)):
        return body  # rounds to zero: no sign
    return ("-" if v < 0 else "+" if signed else "") + body


def _rounds_to_zero(text: str, cur: str) -> bool:
    return not any(ch in "123456789" for ch in text.removeprefix("-").removeprefix("+")
                   .removeprefix(cur))


def fmt_ci(metric: str, low: float, high: float, cur: str, signed: bool = True) -> str:
    """'low to high', with more digits when both ends would print the same."""
    lo, hi = fmt_diff(metric, low, cur, signed), fmt_diff(metric, high, cur, signed)
    if lo == hi or any(_rounds_to_zero(t, cur) and x != 0
                       for t, x in ((lo, low), (hi, high))):
        lo = fmt_diff(metric, low, cur, signed, precise=True)
        hi = fmt_diff(metric, high, cur, signed, precise=True)
    return f"{lo} to {hi}"


# Names for metrics the terminal table does not label.
_MORE_LABELS = {
    "cs_spend_total": "CS spend",
    "forecast_bias": "Forecast bias",
    "pilot_bookings_total": "Pilot bookings",
    "new_arr_total": "New ARR",
}


def label(metric: str) -> str:
    return LABELS.get(metric) or _MORE_LABELS.get(metric) or metric.replace("_", " ").capitalize()


# --- sections ------------------------------------------------------------------------


def cmp_row(cmp: pd.DataFrame, metric: str, a: str, b: str) -> dict[str, Any] | None:
    """The comparison of a vs b on a metric, oriented so that a is motion_a."""
    r = cmp[(cmp["metric"] == metric) & (cmp["motion_a"] == a) & (cmp["motion_b"] == b)]
    if not r.empty:
        return r.iloc[0].to_dict()
    r = cmp[(cmp["metric"] == metric) & (cmp["motion_a"] == b) & (cmp["motion_b"] == a)]
    if r.empty:
        return None
    x = r.iloc[0].to_dict()
    flip = {"a": "b", "b": "a", "": ""}
    return {**x, "motion_a": a, "motion_b": b, "mean_a": x["mean_b"], "mean_b": x["mean_a"],
            "diff_mean": -x["diff_mean"], "diff_ci_low": -x["diff_ci_high"],
            "diff_ci_high": -x["diff_ci_low"],
            "share_a_better": (1 - x["share_a_better"]) if math.isfinite(
                x["share_a_better"]) else math.nan,
            "better": flip[x["better"]], "never_a": x.get("never_b", 0.0),
            "never_b": x.get("never_a", 0.0)}


def pct(v: float, digits: int = 0) -> str:
    """A share as a percentage (``n/a`` when it is not a finite number)."""
    return "n/a" if v is None or not math.isfinite(v) else f"{v * 100:.{digits}f}%"


def share_of_seeds(share: float, total: int) -> str:
    """'12% of seeds'; a share that would round to 0% or 100% without being it is said as a
    count ('2 of 500 seeds'), so a figure drawn from a few seeds never reads 'in 0% of seeds'."""
    if 0 < share < 0.005 or 0.995 <= share < 1:
        return f"{round(share * total):,} of {total:,} seeds"
    return f"{pct(share)} of seeds"


def num(v: Any) -> str:
    """An input value in words: yes/no, whole numbers with thousands separators."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if math.isfinite(v) and v == int(v) and abs(v) < 1e15:
            return f"{int(v):,}"
        return f"{v:,.6g}"
    return str(v)
