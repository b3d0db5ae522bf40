"""The report's charts, as PNG bytes (matplotlib, Agg backend, no pyplot).

``make_figures(res)`` returns ``{file name: PNG bytes}`` in reading order. Each
chart is built on its own ``matplotlib.figure.Figure`` (never the pyplot
state machine) inside a temporary ``rc_context``, so nothing leaks between
charts or into the caller's matplotlib settings. A chart whose data is absent
(no target, all-NaN metric, empty funnel) is skipped, not drawn empty.

Every chart gives each motion the same colour, in the scenario's motion order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from sim.compare import target_probability
from sim.report.funnel import funnel_figure, funnel_table
from sim.report.glyphs import chart_names
from sim.report.style import (
    CAPTIONS,
    DPI,
    FIGSIZE,
    MPL_VERSION,
    PALETTE,
    STYLE,
    ChartContext,
    finite_values,
    money,
    money_axis,
    motion_colors,
    new_figure,
    quantiles_by,
    to_png,
)
from sim.report.terminal import LABELS, currency_symbol
from sim.report.timeline import mark_phases, segment_motions, segment_revenue
from sim.scenario.schema import ROLES

if TYPE_CHECKING:

    from sim.runner.results import Results

__all__ = [
    "CAPTIONS",
    "DPI",
    "FIGSIZE",
    "PALETTE",
    "currency_symbol",
    "funnel_table",
    "make_figures",
    "money",
    "motion_colors",
]

# --- charts ------------------------------------------------------------------------


def _arr_fan(c: ChartContext) -> Figure | None:
    qa = c.res.monthly_quantiles("arr")  # one column read, not the whole monthly table
    if qa.empty or not np.isfinite(qa[["p10", "p50", "p90"]].to_numpy(dtype=float)).any():
        return None
    fig = new_figure()
    ax = fig.add_subplot()
    for motion in c.motions:
        q = qa[qa["motion"] == motion].set_index("month").sort_index()
        if q.empty:
            continue
        col = c.colors[motion]
        ax.fill_between(q.index, q["p10"], q["p90"], color=col, alpha=0.15, lw=0)
        for edge in ("p10", "p90"):
            ax.plot(q.index, q[edge], color=col, lw=0.8, alpha=0.7, ls=(0, (4, 2)))
        ax.plot(q.index, q["p50"], color=col, lw=2.2, label=f"{motion}")
    mark_phases(ax, c.phases, c.colors)
    target = c.res.scenario.target_arr
    if target is not None:
        ax.axhline(target, color="#333333", ls="--", lw=1.1)
        ax.annotate(f"target {money(target, c.cur)}", xy=(0.01, target),
                    xycoords=("axes fraction", "data"), xytext=(0, 4),
                    textcoords="offset points", fontsize=9, color="#333333")
    ax.set_xlim(0, c.horizon)
    ax.set_ylim(bottom=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    money_axis(ax.yaxis, c.cur)
    ax.set_xlabel("Month")
    ax.set_ylabel(f"ARR ({c.cur.strip()} per year)")
    ax.set_title(f"ARR by month: median and P10-P90 band over {c.seeds}")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), title="median (solid),\nP10 / P90 (dashed)",
              title_fontsize=9)
    return fig


def _distribution(c: ChartContext, metric: str, title: str, xlabel: str,
                  fmt: Callable[[float], str], money_scale: bool) -> Figure | None:
    runs = c.res.runs
    if runs.empty or metric not in runs:
        return None
    data = {mo: finite_values(runs.loc[runs["motion"] == mo, metric]) for mo in c.motions}
    data = {k: v for k, v in data.items() if v.size}
    if not data:
        return None
    fig = new_figure()
    ax = fig.add_subplot()
    allx = np.concatenate(list(data.values()))
    if len(data) <= 3:
        lo, hi = np.percentile(allx, [0.5, 99.5])
        if hi <= lo:
            lo, hi = lo - 0.5 * max(abs(lo), 1.0), hi + 0.5 * max(abs(hi), 1.0)
        nbins = int(np.clip(np.sqrt(allx.size / len(data)) * 1.2, 10, 25))
        bins = np.linspace(lo, hi, nbins + 1).tolist()
        for mo, x in data.items():
            col = c.colors[mo]
            xc = np.clip(x, lo, hi)
            ax.hist(xc, bins=bins, color=col, alpha=0.28, histtype="stepfilled")
            ax.hist(xc, bins=bins, color=col, lw=1.4, histtype="step")
            med = float(np.median(x))
            ax.axvline(med, color=col, ls="--", lw=1.6,
                       label=f"{mo}: median {fmt(med)}")
        ax.set_ylabel("Seeds (count)")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        # headroom above the tallest bar so the legend never sits on the bars
        ax.set_ylim(0, ax.get_ylim()[1] * (1.2 + 0.08 * len(data)))
        ax.legend(loc="upper left", bbox_to_anchor=(0.0, 1.0))
        ax.grid(axis="x", visible=False)
        if money_scale:
            money_axis(ax.xaxis, c.cur)
    else:
        names = list(data)[::-1]
        horizontal = ({"orientation": "horizontal"} if MPL_VERSION >= (3, 10) else {"vert": False})
        bp = ax.boxplot([data[n] for n in names], whis=(10, 90), showfliers=False,
                        patch_artist=True, widths=0.55, medianprops={"color": "black", "lw": 1.6},
                        **horizontal)
        for patch, n in zip(bp["boxes"], names, strict=True):
            patch.set_facecolor(c.colors[n])
            patch.set_alpha(0.55)
        ax.set_yticks(range(1, len(names) + 1), names)
        ax.grid(axis="y", visible=False)
        if money_scale:
            money_axis(ax.xaxis, c.cur)
        ax.text(1.0, -0.16, "box: P25-P75, whiskers: P10-P90, line: median",
                transform=ax.transAxes, ha="right", fontsize=8, color="#555555")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    return fig


def _retention(c: ChartContext) -> Figure | None:
    """GRR and NRR side by side, one row per motion: no two labels share a row."""
    runs = c.res.runs
    cols = [k for k in ("grr", "nrr") if k in runs and np.isfinite(
        runs[k].to_numpy(dtype=float)).any()]
    if not cols:
        return None
    k = len(c.motions)
    fig = new_figure((FIGSIZE[0], max(2.4, 1.3 + 0.42 * k)))
    axes = fig.subplots(1, len(cols), sharey=True, squeeze=False)[0]
    y = np.arange(k)[::-1]
    for ax, metric in zip(axes, cols, strict=True):
        lo, hi = 1.0, 1.0
        for j, mo in enumerate(c.motions):
            x = finite_values(runs.loc[runs["motion"] == mo, metric])
            if not x.size:
                continue
            p10, p50, p90 = np.percentile(x, [10, 50, 90])
            lo, hi = min(lo, p10), max(hi, p90)
            col = c.colors[mo]
            ax.plot([p10, p90], [y[j], y[j]], color=col, lw=4, alpha=0.5,
                    solid_capstyle="round")
            ax.plot(p50, y[j], "o", color=col, ms=8)
            ax.annotate(f"{p50 * 100:.0f}%", (p90, y[j]), xytext=(6, 0),
                        textcoords="offset points", va="center", fontsize=9, color="#222222")
        ax.axvline(1.0, color="#333333", lw=1, ls=":")
        pad = 0.12 * (hi - lo or 0.1)
        ax.set_xlim(lo - pad, hi + 2 * pad)
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_title(LABELS.get(metric, metric.upper()), fontsize=11)
        ax.grid(axis="y", visible=False)
    axes[0].set_yticks(y, c.motions)
    for t in axes[0].get_yticklabels():
        t.set_parse_math(False)  # a motion name is text, '$' and all
    fig.suptitle("Revenue retention over the last 12 months: median and P10-P90",
                 fontweight="bold", x=0.02, ha="left")
    return fig


def _forecast_error(c: ChartContext) -> Figure | None:
    """One small panel per motion (bands of many motions stacked on one axis hid each
    other), on a shared scale."""
    f = c.res.forecast
    if f.empty or not {"forecast", "actual", "quarter"} <= set(f.columns):
        return None
    f = f[f["actual"] > 0].copy()
    if f.empty:
        return None
    f["err"] = (f["forecast"] - f["actual"]) / f["actual"]
    f = f[np.isfinite(f["err"])]
    if f.empty:
        return None
    shown = [mo for mo in c.motions if (f["motion"] == mo).any()]
    n = len(shown)
    ncols = min(n, 3)
    nrows = -(-n // ncols)
    fig = new_figure((FIGSIZE[0], 1.0 + 2.3 * nrows))
    axes = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False).ravel()
    quarters = sorted(int(q) for q in f["quarter"].unique())
    for ax, mo in zip(axes, shown, strict=False):
        g = f[f["motion"] == mo]
        q = quantiles_by(g, "quarter", "err")
        col = c.colors[mo]
        ax.fill_between(q.index, q["p10"], q["p90"], color=col, alpha=0.25, lw=0)
        ax.plot(q.index, q["p50"], color=col, lw=2, marker="o", ms=3)
        ax.axhline(0, color="#333333", lw=1)
        ax.set_title(mo, fontsize=10, color=col, parse_math=False)  # a name is text
        blind = g.groupby("quarter")["forecast"].median()
        if (blind <= 0).any():
            k = int(blind.index[blind <= 0][0])
            ax.annotate("no open pipeline", (k, -1.0), xytext=(6, 4),
                        textcoords="offset points", fontsize=7, color="#555555")
    for ax in axes[n:]:
        ax.set_visible(False)
    axes[0].set_xlim(quarters[0] - 0.3, quarters[-1] + 0.3)
    axes[0].xaxis.set_major_locator(MaxNLocator(integer=True, nbins=min(len(quarters), 6)))
    axes[0].yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    fig.supxlabel("Quarter", fontsize=10)
    fig.supylabel("Forecast error (% of actual)", fontsize=10)
    fig.suptitle("Quarterly bookings forecast error: median and P10-P90 (above 0: too high)",
                 fontweight="bold", x=0.02, ha="left")
    return fig


def _headcount_spend(c: ChartContext) -> Figure | None:
    # one column at a time, not the whole monthly table; a median of whole people
    hc = c.res.monthly_quantiles("headcount", (0.5,), "lower")
    if hc.empty:  # results saved before the total column: sum the roles' columns
        cols = [f"headcount_{r}" for r in ROLES]
        m = c.res.monthly_columns(["motion", "month", *cols])
        if not m.empty:
            m = m.assign(headcount=m[[x for x in cols if x in m]].sum(axis=1))
            hc = (m.groupby(["motion", "month"])["headcount"]
                  .quantile(0.5, interpolation="lower").rename("p50").reset_index())
    sm = c.res.monthly_quantiles("sm_spend")
    has_hc = not hc.empty and np.isfinite(hc["p50"].to_numpy(dtype=float)).any()
    has_sm = not sm.empty and np.isfinite(sm["p50"].to_numpy(dtype=float)).any()
    if not (has_hc or has_sm):
        return None
    fig = new_figure((FIGSIZE[0], 6.6))
    axes = fig.subplots(2, 1, sharex=True, height_ratios=(1, 1.25))
    for mo in c.motions:
        col = c.colors[mo]
        if has_hc:
            med = hc[hc["motion"] == mo].set_index("month")["p50"].sort_index()
            if not med.empty:
                axes[0].step(med.index, med.to_numpy(), where="post", color=col, lw=2.0, label=mo)
        if has_sm:
            q = sm[sm["motion"] == mo].set_index("month").sort_index()
            if not q.empty:
                axes[1].fill_between(q.index, q["p10"], q["p90"], color=col, alpha=0.18, lw=0)
                axes[1].plot(q.index, q["p50"], color=col, lw=2.0, label=mo)
    ax0, ax1 = axes
    mark_phases(ax0, c.phases, c.colors)
    mark_phases(ax1, c.phases, c.colors, label=False)
    ax0.set_title("Headcount, all roles (median across seeds)")
    ax0.set_ylabel("People")
    ax0.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax0.set_ylim(bottom=0)
    ax1.set_title("Sales & marketing spend per month (median, P10-P90 band)")
    ax1.set_xlabel("Month")
    ax1.set_ylabel(f"Spend ({c.cur.strip()} per month)")
    money_axis(ax1.yaxis, c.cur)
    ax1.set_ylim(bottom=0)
    ax1.set_xlim(0, c.horizon)
    ax1.xaxis.set_major_locator(MaxNLocator(integer=True))
    if not has_hc:
        ax0.set_axis_off()
    if not has_sm:
        ax1.set_axis_off()
    ax0.legend(loc="lower right")
    return fig


def _p_target(c: ChartContext) -> Figure | None:
    target = c.res.scenario.target_arr
    if target is None:
        return None
    tp = target_probability(c.res.runs, target)
    tp = tp[tp["n"] > 0]
    if tp.empty:
        return None
    tp = tp.set_index("motion")
    names = [m for m in c.motions if m in tp.index]
    height = float(np.clip(1.4 + 0.55 * len(names), 2.6, 6.0))
    fig = new_figure((FIGSIZE[0], height))
    ax = fig.add_subplot()
    ys = np.arange(len(names))
    for y, mo in zip(ys, names, strict=True):
        r = tp.loc[mo]
        col = c.colors[mo]
        ax.barh(y, r["p_target"], height=0.55, color=col, alpha=0.85)
        ax.errorbar(r["p_target"], y, xerr=[[r["p_target"] - r["p_ci_low"]],
                                            [r["p_ci_high"] - r["p_target"]]],
                    fmt="none", ecolor="#222222", elinewidth=1.3, capsize=4)
        ax.annotate(f"{r['p_target'] * 100:.0f}%  [{r['p_ci_low'] * 100:.0f}-"
                    f"{r['p_ci_high'] * 100:.0f}%]", (r["p_ci_high"], y), xytext=(6, 0),
                    textcoords="offset points", va="center", fontsize=9)
    ax.set_yticks(ys, names)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.22)
    ax.set_xticks(np.linspace(0, 1, 6))
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(f"Probability (share of seeds), 95% interval; {c.seeds}")
    ax.set_title(f"Chance that ARR is at least {money(target, c.cur)} at month {c.horizon}")
    return fig


def _metric_label(metric: str) -> str:
    return LABELS.get(metric, metric.replace("_", " "))


def _segments(c: ChartContext) -> Figure | None:
    n = len(segment_motions(c.res))
    if not n:
        return None
    fig = segment_revenue(c.res, c.colors, new_figure((FIGSIZE[0], 2.6 + 1.6 * min(n, 4))))
    if fig is None:
        return None
    for ax in fig.axes:
        money_axis(ax.yaxis, c.cur)
        ax.set_xlim(0, c.horizon)
        mark_phases(ax, [mk for mk in c.phases if ax.get_title().startswith(mk.motion + ":")],
                    c.colors, label=False)
    return fig


def make_figures(res: Results, variant: str | None = None) -> dict[str, bytes]:
    """Every chart that has data, as ``{file name: PNG bytes}`` in reading order.

    ``variant`` (e.g. "shocked plan"): a changed plan the charts show, tagged on each.
    """
    c = ChartContext(res)
    horizon = res.scenario.horizon_months
    builders: list[tuple[str, Callable[[], Figure | None]]] = [
        ("arr_fan.png", lambda: _arr_fan(c)),
        ("p_target.png", lambda: _p_target(c)),
        ("bookings_distribution.png", lambda: _distribution(
            c, "bookings_total", f"{_metric_label('bookings_total')} over {horizon} months: "
            f"distribution across {c.seeds}",
            f"Total bookings over {horizon} months ({c.cur.strip()})",
            lambda v: money(v, c.cur, digits=2), money_scale=True)),
        ("cac_payback_distribution.png", lambda: _distribution(
            c, "cac_payback_months", f"{_metric_label('cac_payback_months')}: distribution "
            f"across {c.seeds}", "CAC payback (months; shorter is better)",
            lambda v: f"{v:.1f} months", money_scale=False)),
        ("retention.png", lambda: _retention(c)),
        ("forecast_error.png", lambda: _forecast_error(c)),
        ("funnel.png", lambda: funnel_figure(c)),
        ("headcount_spend.png", lambda: _headcount_spend(c)),
        ("segments.png", lambda: _segments(c)),
    ]
    out: dict[str, bytes] = {}
    names = chart_names(res.scenario)  # fonts for the names' glyphs, or neutral labels
    rc: dict[str, Any] = {**STYLE, **names.rc}
    with mpl.rc_context(rc):  # type: ignore[arg-type]
        for name, build in builders:
            fig = build()
            if fig is not None:
                if variant:
                    fig.text(0.995, 0.995, variant.upper(), ha="right", va="top", fontsize=9,
                             fontweight="bold", color="#b3261e", usetex=False,
                             parse_math=False)
                names.apply(fig)
                out[name] = to_png(fig)
    return out
