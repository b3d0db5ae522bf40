"""Charts of the plan report: the cost vs P(target) frontier, the hiring timelines,
and the spread of ARR at the horizon under the chosen plan and today's.

User text (role and motion names) reaches matplotlib only as plain text with
mathtext switched off, so a '$' in a name is printed, not interpreted.
"""

from __future__ import annotations

import io
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sim.plan.evaluate import Evaluator
from sim.plan.search import SearchOutcome
from sim.plan.space import Decision, Space
from sim.plan.validate import Choice
from sim.report.style import DPI, MoneyFormatter

__all__ = ["CAPTIONS", "plan_figures"]

STYLE: dict[str, Any] = {
    "font.family": "DejaVu Sans", "font.size": 10, "axes.titlesize": 12,
    "axes.titleweight": "bold", "axes.titlelocation": "left", "axes.spines.top": False,
    "axes.spines.right": False, "axes.grid": True, "axes.axisbelow": True,
    "grid.color": "#dddddd", "legend.frameon": False, "legend.fontsize": 9,
    "text.parse_math": False, "figure.facecolor": "white",
}
TODAY, CHOSEN, OTHER = "#D55E00", "#0072B2", "#999999"

CAPTIONS = {
    "frontier.png": (
        "What each point of probability costs",
        "Every plan run on the full search seeds (grey: its estimate on the search seeds with "
        "the 95% Wilson interval); finalists re-run on fresh seeds in blue, with their "
        "fresh-seed interval; the line joins the efficient plans (none cheaper and likelier). "
        "Dashed: the probability the plan must reach, and any cap on the cost."),
    "timeline.png": (
        "Hiring timeline: chosen plan against today's",
        "People on board by month as planned (tenured starters plus hires; attrition and "
        "backfills, which the simulation draws, not shown)."),
    "spread.png": (
        "ARR at the horizon: chosen plan against today's",
        "How ARR at the horizon spreads over the fresh seeds; dashed: the target."),
}


def _figure(w: float, h: float) -> Figure:
    fig = Figure(figsize=(w, h), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    return buf.getvalue()


def _frontier(space: Space, outcome: SearchOutcome, choice: Choice, cur: str,
              front: list[Decision]) -> Figure:
    spec = space.spec
    c = spec.cost
    fig = _figure(8.0, 5.0)
    ax = fig.add_subplot()
    full = [r for r in outcome.records if r.stage == len(outcome.stages) - 1]
    if full:
        x = np.array([r.est.cost[c] for r in full])
        p = np.array([r.est.p for r in full])
        lo = np.array([r.est.p_low for r in full])
        hi = np.array([r.est.p_high for r in full])
        ax.errorbar(x, p, yerr=[p - lo, hi - p], fmt="o", ms=4, color=OTHER, alpha=0.6,
                    elinewidth=0.8, label=f"searched plans ({outcome.full} seeds)")
    fresh = {f.decision: f for f in choice.finalists}
    if fresh:
        fx = np.array([f.fresh.cost[c] for f in fresh.values()])
        fp = np.array([f.fresh.p for f in fresh.values()])
        flo = np.array([f.fresh.p_low for f in fresh.values()])
        fhi = np.array([f.fresh.p_high for f in fresh.values()])
        ax.errorbar(fx, fp, yerr=[fp - flo, fhi - fp], fmt="o", ms=5, color="#56B4E9",
                    elinewidth=1.0, label=f"finalists, fresh seeds ({choice.fresh_seeds:,})")
    records = {r.decision: r for r in outcome.records}
    pts = sorted((records[d].est.cost[c], records[d].est.p) for d in front if d in records)
    if pts:
        ax.plot([q[0] for q in pts], [q[1] for q in pts], "-", color="#555555", lw=1.0,
                label="efficient plans (search seeds)")
    t, ch = choice.today.fresh, choice.chosen.fresh
    ax.plot([t.cost[c]], [t.p], marker="D", ms=10, color=TODAY, ls="none",
            label="today's plan (fresh seeds)")
    ax.plot([ch.cost[c]], [ch.p], marker="*", ms=16, color=CHOSEN, ls="none",
            label="chosen plan (fresh seeds)")
    ax.axhline(spec.probability, color="#333333", ls="--", lw=0.9)
    if c in spec.budget:
        ax.axvline(spec.budget[c], color="#333333", ls=":", lw=0.9)
    ax.xaxis.set_major_formatter(MoneyFormatter(cur))
    ax.yaxis.set_major_formatter(mpl.ticker.PercentFormatter(1.0, decimals=0))
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(f"{c} (mean over seeds)")
    ax.set_ylabel("P(ARR at the horizon >= target)")
    ax.legend(loc="lower right")
    return fig


def _timeline(space: Space, choice: Choice) -> Figure:
    roles = list(space.spec.hires)
    h = space.scenario.horizon_months
    fig = _figure(8.0, 2.4 * len(roles) + 0.6)
    team = space.motion.team.roles()
    months = np.arange(h + 1)
    for i, role in enumerate(roles):
        ax = fig.add_subplot(len(roles), 1, i + 1)
        start = float(np.round(np.mean(_start(team[role].start))))
        for d, color, label in ((choice.today.decision, TODAY, "today's plan"),
                                (choice.chosen.decision, CHOSEN, "chosen plan")):
            plan = space.hires(d)[role]
            on = start + np.array([sum(c for m, c in plan.items() if m <= t) for t in months])
            chosen = color == CHOSEN
            ax.step(months, on, where="post", color=color, lw=2.0 if chosen else 1.4,
                    ls="-" if chosen else "--", label=label)
        ax.set_title(role, fontsize=10)
        ax.set_ylabel("on board")
        ax.yaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
        if i == 0:
            ax.legend(loc="upper left")
    ax.set_xlabel("month")
    return fig


def _start(v: object) -> float:
    from sim.scenario.schema_types import mean_of

    return mean_of(v)


def _spread(ev: Evaluator, choice: Choice, target: float, cur: str) -> Figure:
    fig = _figure(8.0, 4.0)
    ax = fig.add_subplot()
    n = choice.fresh_seeds
    data = [(ev.rows(choice.today.decision, n, fresh=True)["arr_end"].to_numpy(), TODAY,
             "today's plan"),
            (ev.rows(choice.chosen.decision, n, fresh=True)["arr_end"].to_numpy(), CHOSEN,
             "chosen plan")]
    lo = min(float(np.min(x)) for x, _, _ in data)
    hi = max(float(np.max(x)) for x, _, _ in data + [(np.array([target]), "", "")])
    bins: Any = np.linspace(lo, hi, 40) if hi > lo else 10
    for x, color, label in data:
        ax.hist(x, bins=bins, color=color, alpha=0.45, label=label)
    ax.axvline(target, color="#333333", ls="--", lw=1.0)
    ax.xaxis.set_major_formatter(MoneyFormatter(cur))
    ax.set_xlabel("ARR at the horizon")
    ax.set_ylabel("seeds")
    ax.legend(loc="upper right")
    return fig


def plan_figures(space: Space, ev: Evaluator, outcome: SearchOutcome, choice: Choice, cur: str,
                 front: list[Decision]) -> dict[str, bytes]:
    with mpl.rc_context(STYLE):  # type: ignore[arg-type]
        figs = {"frontier.png": _frontier(space, outcome, choice, cur, front),
                "timeline.png": _timeline(space, choice),
                "spread.png": _spread(ev, choice, float(space.scenario.target_arr or 0), cur)}
        return {name: _png(f) for name, f in figs.items()}

