"""Motions over time in the report: phase changes on the time charts, revenue by segment.

A phased motion's phase starts at a month (``start_month``) or when a trigger
is met, so its start differs between seeds. The charts mark each phase at the
median start month over the seeds in which it started, and say in how many
seeds that was. The segment chart splits a blend's revenue (MODEL.md "Motions
over time and blends") into self-serve (product-path customers) and
sales-assisted customers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from sim.runner.results import Results

__all__ = ["PhaseMark", "mark_phases", "phase_marks", "segment_motions", "segment_revenue"]


@dataclass(frozen=True)
class PhaseMark:
    motion: str
    name: str
    month: float  # median start month over the seeds where it started
    share: float  # share of seeds in which it started


def phase_marks(res: Results) -> list[PhaseMark]:
    """Every phase of every motion that started in at least one seed."""
    if not any(motion.phases for motion in res.scenario.motions):
        return []
    m = res.monthly_columns(["motion", "seed", "month", "phase"])
    if m.empty or "phase" not in m:
        return []
    out: list[PhaseMark] = []
    for motion in res.scenario.motions:
        if not motion.phases:
            continue
        g = m[m["motion"] == motion.name]
        if g.empty:
            continue
        seeds = g["seed"].nunique()
        for j, ph in enumerate(motion.phases, start=1):
            # first month in which phase j (or a later one) is in effect, per seed
            started = g[g["phase"] >= j].groupby("seed")["month"].min()
            if started.empty:
                continue
            out.append(PhaseMark(motion.name, ph.name or f"phase {j + 1}",
                                 float(np.median(started.to_numpy(dtype=float))),
                                 started.size / seeds))
    return out


def mark_phases(ax: Axes, marks: list[PhaseMark], colors: dict[str, str],
                label: bool = True) -> None:
    """Dotted vertical lines at the phase starts, labelled at the top of ``ax``."""
    for i, mk in enumerate(marks):
        col = colors.get(mk.motion, "#333333")
        ax.axvline(mk.month, color=col, ls=":", lw=1.4, alpha=0.9)
        if not label:
            continue
        when = "" if mk.share >= 0.995 else f", {mk.share:.0%} of seeds"
        ax.annotate(f"{mk.name} (m{mk.month:g}{when})", xy=(mk.month, 1.0),
                    xycoords=("data", "axes fraction"), xytext=(3, -12 - 10 * (i % 6)),
                    textcoords="offset points", fontsize=7.5, color=col)


def segment_motions(res: Results) -> list[str]:
    """Motions with both segments: self-serve and sales-assisted customers in some seed.

    A segment is there when it booked a customer in some seed (self-serve upgrades;
    sales wins, PQLs and pilot conversions), or, for the sales-assisted segment, when the
    company starts with customers. Revenue alone does not make a segment: a motion that
    never books a sales deal has no sales-assisted customers to draw.
    """
    m = res.monthly
    need = {"motion", "seed", "bookings_new", "bookings_self_serve"}
    if m.empty or not need <= set(m.columns):
        return []
    carried = res.scenario.initial.customers
    has_initial = carried.count > 0 or bool(carried.accounts)
    g = m.groupby(["motion", "seed"])[["bookings_new", "bookings_self_serve"]].sum()
    ss = g["bookings_self_serve"] > 0
    sa = (g["bookings_new"] - g["bookings_self_serve"]) > 1e-6 * g["bookings_new"].abs()
    ss_any = ss.groupby(level="motion").any()
    sa_any = sa.groupby(level="motion").any()
    return [mo for mo in res.motions()
            if bool(ss_any.get(mo, False)) and (bool(sa_any.get(mo, False)) or has_initial)]


def segment_revenue(res: Results, colors: dict[str, str], figure: Figure) -> Figure | None:
    """Median monthly revenue by segment (self-serve, sales) of each motion that has both."""
    ss = res.monthly_quantiles("revenue_self_serve", (0.5, 1.0))
    sa = res.monthly_quantiles("revenue_sales", (0.5, 1.0))
    if ss.empty or sa.empty:
        return None
    both = segment_motions(res)
    if not both:
        return None
    axes = figure.subplots(len(both), 1, sharex=True, squeeze=False)[:, 0]
    for ax, mo in zip(axes, both, strict=True):
        a = ss[ss["motion"] == mo].set_index("month")["p50"].sort_index()
        b = sa[sa["motion"] == mo].set_index("month")["p50"].sort_index()
        x = a.index.to_numpy(dtype=float)
        ax.stackplot(x, a.to_numpy(), b.reindex(a.index).to_numpy(),
                     labels=("self-serve", "sales-assisted"),
                     colors=(colors.get(mo, "#0072B2"), "#BBBBBB"), alpha=0.85)
        ax.set_title(f"{mo}: revenue per month by segment (medians)")
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper left", fontsize=8)
    axes[-1].set_xlabel("Month")
    return figure
