"""What every chart of the report shares: style, palette, captions, money axes, and the
context a chart is drawn from (results, motion order and colours, phase marks)."""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING, Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter

from sim.report.terminal import currency_symbol
from sim.report.timeline import phase_marks

if TYPE_CHECKING:
    from matplotlib.axis import Axis

    from sim.runner.results import Results

__all__ = [
    "CAPTIONS",
    "DPI",
    "FIGSIZE",
    "MPL_VERSION",
    "PALETTE",
    "PHASE_MARKED",
    "PHASE_NOTE",
    "STYLE",
    "ChartContext",
    "MoneyFormatter",
    "finite_values",
    "money",
    "money_axis",
    "motion_colors",
    "new_figure",
    "quantiles_by",
    "to_png",
]


DPI = 110
MPL_VERSION = tuple(int(p) for p in mpl.__version__.split(".")[:2] if p.isdigit())
FIGSIZE = (8.0, 4.5)

# Okabe-Ito colour-blind-safe palette (yellow left out: unreadable on white).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#7F6A3B",
           "#555555")

STYLE = {
    # user text (motion and scenario names) is never read as math: "$10k and $20k" stays text
    "text.parse_math": False,
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.titlepad": 10,
    "axes.labelsize": 10,
    "axes.labelcolor": "#333333",
    "axes.edgecolor": "#888888",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.8,
    "xtick.color": "#444444",
    "ytick.color": "#444444",
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.frameon": False,
    "legend.fontsize": 9,
    "figure.facecolor": "white",
}

# Title shown above each chart in the report, and a one-line reading guide.
CAPTIONS: dict[str, tuple[str, str]] = {
    "arr_fan.png": (
        "ARR over time",
        "Line: median ARR across seeds; band: P10 to P90 (8 seeds in 10 land inside).",
    ),
    "p_target.png": (
        "Chance of reaching the ARR target",
        "Share of seeds whose ARR at the horizon's end is at or above the target, "
        "with its 95% Wilson interval.",
    ),
    "bookings_distribution.png": (
        "Bookings over the horizon",
        "How total bookings spread across seeds, each motion's median marked (a dashed line "
        "on a histogram; the line across a box).",
    ),
    "cac_payback_distribution.png": (
        "CAC payback",
        "Months of gross profit from new ARR needed to repay sales and marketing spend; "
        "shorter is better. How it spreads across seeds, each motion's median marked.",
    ),
    "retention.png": (
        "Revenue retention",
        "GRR and NRR over the last 12 months, one row per motion: dot at the median, line "
        "from P10 to P90, the median's value beside it.",
    ),
    "forecast_error.png": (
        "Forecast error by quarter",
        "(forecast - actual) / actual bookings per quarter, one panel per motion on a shared "
        "scale: line at the median over seeds, band P10 to P90; above 0 the forecast was too "
        "high.",
    ),
    "funnel.png": (
        "Funnel by stage",
        "Mean number entering each stage per seed; share advancing to the next stage (or "
        "won in it), pooled over seeds: all seeds' advanced over all seeds' entered; and the "
        "mean days spent in it by the deals that left it.",
    ),
    "headcount_spend.png": (
        "Headcount and sales & marketing spend",
        "Median total headcount per month, and median monthly S&M spend with its P10-P90 band.",
    ),
    "segments.png": (
        "Revenue by segment",
        "Median monthly revenue of self-serve customers (product path) and sales-assisted "
        "customers, for motions that have both (a blend).",
    ),
}
# added to the captions of the charts that mark phase starts, when a motion has phases
PHASE_NOTE = "A dotted line marks where a phased motion's phase starts."
PHASE_MARKED = ("arr_fan.png", "headcount_spend.png", "segments.png")


def money(v: float, cur: str = "$", digits: int = 1) -> str:
    """Compact currency for axes: $1.2M, $350K, $2.5B, $900 (``digits`` after the point)."""
    if v is None or not math.isfinite(v):
        return ""
    a = abs(v)
    sign = "-" if v < 0 else ""
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if a >= div * 0.9995:
            s = f"{a / div:.{digits}f}"
            if digits == 1:
                s = s.removesuffix(".0")
            return f"{sign}{cur}{s}{suffix}"
    return f"{sign}{cur}{a:.0f}"


def motion_colors(motions: list[str]) -> dict[str, str]:
    return {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(motions)}


# --- helpers -----------------------------------------------------------------------


def new_figure(size: tuple[float, float] = FIGSIZE) -> Figure:
    fig = Figure(figsize=size, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def to_png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white",
                metadata={"Software": None})
    return buf.getvalue()


class MoneyFormatter(Formatter):
    """Currency ticks ($350K, $1.2M) with as many decimals as each tick needs.

    Ticks at 3.75M, 4M, 4.25M read "$3.75M", "$4M", "$4.25M", never a rounded
    "$4.2M" standing for 4.25M.
    """

    def __init__(self, cur: str = "$"):
        self.cur = cur

    def __call__(self, x: float, pos: int | None = None) -> str:
        return self._exact(x)

    def format_ticks(self, values: Any) -> list[str]:
        return [self._exact(float(v)) for v in values]

    def _exact(self, v: float) -> str:
        if not math.isfinite(v):
            return ""
        a = abs(v)
        div = next((d for d in (1e9, 1e6, 1e3) if a >= d * 0.9995), 1.0)
        for digits in range(4):
            if abs(round(a / div, digits) - a / div) <= 1e-9 * max(1.0, a / div):
                break
        if div > 1:
            return money(v, self.cur, digits=digits)
        return f"{'-' if v < 0 else ''}{self.cur}{a:,.{digits}f}"


def money_axis(axis: Axis, cur: str) -> None:
    axis.set_major_formatter(MoneyFormatter(cur))


def finite_values(s: pd.Series) -> np.ndarray:
    x = s.to_numpy(dtype=float)
    return x[np.isfinite(x)]


def quantiles_by(df: pd.DataFrame, by: str, col: str) -> pd.DataFrame:
    """P10, P50, P90 of ``col`` per value of ``by`` (columns p10, p50, p90)."""
    g = df.groupby(by)[col]
    return pd.DataFrame({"p10": g.quantile(0.1), "p50": g.quantile(0.5),
                         "p90": g.quantile(0.9)}).sort_index()


def _seeds_note(res: Results) -> str:
    n = res.runs["seed"].nunique() if not res.runs.empty else 0
    return f"{n:,} seeds"


class ChartContext:
    """What every chart needs: the results, motion order, colours, currency."""

    def __init__(self, res: Results):
        self.res = res
        present = set(res.runs["motion"]) if not res.runs.empty else set()
        self.motions = [m for m in res.motions() if m in present] or res.motions()
        self.colors = motion_colors(res.motions())
        self.cur = currency_symbol(res.scenario.currency)
        self.horizon = res.scenario.horizon_months
        self.seeds = _seeds_note(res)
        self.phases = phase_marks(res)
