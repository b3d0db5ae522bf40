"""The back-test page: forecasts against actuals, calibration, fitted parameters.

A self-contained HTML page (jinja2, autoescaped; charts as inline PNG drawn with
the report's palette): per metric the fan of the simulated P05-P95 and P10-P90
per quarter from the latest origin with the actuals and the weighted-pipeline
forecast marked, the one-quarter-ahead forecasts of every origin, the
calibration table (``scores``), and the fitted parameters with their 90%
intervals. Aggregates only.
"""

from __future__ import annotations

import base64
import io
import math
from pathlib import Path
from typing import Any

import jinja2
import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sim.fit.backtest import Backtest
from sim.fit.motion_fit import MotionFit
from sim.fit.writer import level_dist, prob_dist, rate_dist, signed_dist
from sim.report.style import DPI, FIGSIZE, PALETTE, MoneyFormatter, money

__all__ = ["backtest_html", "parameter_rows"]

_RC: dict[str, Any] = {"font.family": "DejaVu Sans", "font.size": 10, "axes.spines.top": False,
       "axes.spines.right": False, "axes.grid": True, "grid.color": "#dddddd",
       "axes.titlelocation": "left", "axes.titleweight": "bold", "legend.frameon": False}

_PAGE = jinja2.Template("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Back-test: {{ title }}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1100px;margin:2em auto;
color:#222;padding:0 1em;line-height:1.45}
h1{font-size:1.6em}h2{margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
th,td{border-bottom:1px solid #e4e4e4;padding:.3em .7em;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f6f6f6}
.note{color:#555;font-size:.92em}img{max-width:100%}
.good{color:#006b3c;font-weight:600}.bad{color:#a33;font-weight:600}
</style></head><body>
<h1>How well would the fitted model have forecast? {{ title }}</h1>
<p>{{ summary }}</p>
<p class="note">Each origin: the motion fitted on what the export held that day, simulated
{{ seeds }} times over the next {{ quarters }} quarter(s) from the deals open then plus new arrivals,
compared with the wins and bookings the export records. Baseline: the weighted pipeline (open deals
times their probability of winning from their stage, in the quarter their remaining stage times
end). Only aggregates are shown.</p>
<h2>Calibration</h2>
<table><tr><th>metric</th><th>forecast</th><th>quarters scored</th><th>actual inside P10-P90</th>
<th>95% interval</th><th>CRPS</th><th>WAPE of P50</th><th>bias</th></tr>
{% for r in scores %}<tr><td>{{ r.metric }}</td><td>{{ r.forecast }}</td><td>{{ r.n }}</td>
<td>{{ r.coverage }}</td><td>{{ r.ci }}</td><td>{{ r.crps }}</td><td>{{ r.wape }}</td>
<td>{{ r.bias }}</td></tr>{% endfor %}</table>
<p class="note">A calibrated forecast has 80% of actuals inside its P10-P90; the interval is
Clopper-Pearson for the share. CRPS (lower is better) scores the whole distribution; for the
weighted pipeline, a point forecast, it is the absolute error. WAPE = Σ|P50 − actual| / Σ actual;
bias = Σ(P50 − actual) / Σ actual.</p>
{% for fig in figures %}<h2>{{ fig.title }}</h2><img alt="{{ fig.title }}" src="data:image/png;base64,{{ fig.png }}">
<p class="note">{{ fig.note }}</p>{% endfor %}
<h2>Forecasts by quarter</h2>
<table><tr><th>origin</th><th>quarter</th><th>ahead</th><th>metric</th><th>actual</th><th>P10</th>
<th>P50</th><th>P90</th><th>weighted pipeline</th></tr>
{% for r in rows %}<tr><td>{{ r.origin }}</td><td>{{ r.quarter }}</td><td>{{ r.ahead }}</td>
<td>{{ r.metric }}</td><td>{{ r.actual }}</td><td>{{ r.p10 }}</td><td>{{ r.p50 }}</td>
<td>{{ r.p90 }}</td><td>{{ r.wp }}</td></tr>{% endfor %}</table>
<h2>Fitted parameters (latest origin, {{ latest }})</h2>
<table><tr><th>parameter</th><th>fitted</th><th>90% interval</th><th>naive</th>
<th>per seed in the scenario</th></tr>
{% for r in params %}<tr><td>{{ r.name }}</td><td>{{ r.value }}</td><td>{{ r.ci }}</td>
<td>{{ r.naive }}</td><td>{{ r.per_seed }}</td></tr>{% endfor %}</table>
<p class="note">Uncertainty: {{ method }}. Naive: won/(won+lost) for the win probability,
a lognormal on completed stays only for durations. Per seed: how the fitted scenario draws
the parameter once per seed (a level: a lognormal factor of mean 1 on the per-deal
distribution, its sd the mean's relative uncertainty); "–" for a figure reported only.</p>
</body></html>""", autoescape=True)


def _fmt(name: str, v: float, cur: str = "$") -> str:
    if not math.isfinite(v):
        return "–"
    if "acv" in name or "bookings" in name:
        return money(v, cur)
    if "advance" in name or name in ("win_rate", "early_churn", "renewal_churn", "cycle.win"):
        return f"{v:.1%}"
    if "growth" in name:
        return f"{v:+.2%}"
    return f"{v:,.1f}"


def per_seed(fit: MotionFit, name: str, value: float) -> str:
    """How the fitted scenario (``sim.fit.writer``) draws the parameter once per seed."""
    reps = fit.uncertainty.replicates.get(name)
    history = fit.stages is not None
    if name.endswith(".duration_mean") or name == "acv_mean" or \
            (name == "cycle.won_days_mean" and not history):
        level = level_dist(value, reps)
        if level is None:
            return "fixed"
        return f"level, sd {level['sd']:.1%}" + (" (every stage)" if name.startswith("cycle")
                                                  else "")
    if (name.endswith(".advance") and history) or name == "early_churn":
        return "beta" if not isinstance(prob_dist(value, reps), float) else "fixed"
    if name == "renewal_churn" and fit.churn is not None:
        monthly = None if reps is None else 1 - (1 - np.clip(reps, 0, 1)) ** (1 / 12)
        drawn = not isinstance(prob_dist(fit.churn.monthly_churn, monthly), float)
        return "beta (monthly churn)" if drawn else "fixed"
    if name == "leads_per_month":
        return "lognormal" if not isinstance(rate_dist(value, reps), float) else "fixed"
    if name == "growth_per_month":
        return "triangular" if not isinstance(signed_dist(value, reps), float) else "fixed"
    return "–"


def parameter_rows(fit: MotionFit) -> list[dict[str, str]]:
    rows = []
    for name, v in fit.point().items():
        lo, hi = fit.uncertainty.interval(name)
        naive = fit.naive.get(name, math.nan)
        rows.append({"name": name, "value": _fmt(name, v),
                     "ci": f"{_fmt(name, lo)} to {_fmt(name, hi)}" if math.isfinite(lo) else "–",
                     "naive": _fmt(name, naive), "per_seed": per_seed(fit, name, v)})
    return rows


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    FigureCanvasAgg(fig)
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _fan(t: pd.DataFrame, metric: str, title: str) -> str:
    with mpl.rc_context(_RC):  # type: ignore[arg-type]
        fig = Figure(figsize=FIGSIZE)
        ax = fig.add_subplot()
        x = np.arange(len(t))
        c = PALETTE[0]
        ax.fill_between(x, t["p05"], t["p95"], color=c, alpha=0.15, label="P05-P95", lw=0)
        ax.fill_between(x, t["p10"], t["p90"], color=c, alpha=0.3, label="P10-P90", lw=0)
        ax.plot(x, t["p50"], color=c, lw=2, label="P50")
        ax.plot(x, t["actual"], "o", color="#222222", ms=7, label="actual", zorder=5)
        ax.plot(x, t["weighted_pipeline"], "s", color=PALETTE[4], ms=6, mfc="none", mew=1.5,
                label="weighted pipeline")
        ax.set_xticks(x, [f"{q}\n(+{a})" for q, a in zip(t["quarter"], t["quarters_ahead"],
                                                         strict=True)])
        ax.set_title(title)
        if metric == "bookings":
            ax.yaxis.set_major_formatter(MoneyFormatter())
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper left", ncols=3)
        return _png(fig)


def backtest_html(bt: Backtest, title: str, quarters: int, out: Path) -> Path:
    """Write ``report.html`` for a back-test; returns its path."""
    t = bt.table
    figures = []
    latest = bt.fits[0].as_of_date if bt.fits else None
    for metric, label in (("wins", "Wins per quarter"), ("bookings", "Bookings per quarter")):
        m = t[t["metric"] == metric]
        first = m[m["quarters_ahead"] == 1].sort_values("quarter")
        if len(first):
            figures.append({"title": f"{label}: one quarter ahead, every origin",
                            "png": _fan(first, metric, f"{label}, forecast a quarter ahead"),
                            "note": "Each quarter forecast from the origin a quarter before it "
                                    "(dots: what happened; squares: the weighted pipeline)."})
        if latest is not None:
            last = m[m["origin"] == str(latest.date())]
            if len(last) > 1:
                figures.append({"title": f"{label} from {latest.date()}",
                                "png": _fan(last, metric, f"{label} from {latest.date()}"),
                                "note": "The fan from the latest origin, quarter by quarter."})
    scores = []
    for r in bt.scores.itertuples():
        own = r.forecast == "revsim"
        big = r.metric == "bookings"
        scores.append({
            "metric": r.metric, "forecast": r.forecast, "n": r.n,
            "coverage": f"{r.coverage_p10_p90:.0%}" if own and r.n else "–",
            "ci": f"{r.coverage_low:.0%} to {r.coverage_high:.0%}" if own and r.n else "–",
            "crps": money(r.crps) if big else f"{r.crps:.2f}",
            "wape": f"{r.wape:.1%}", "bias": f"{r.bias:+.1%}"})
    rows = [{"origin": r.origin, "quarter": r.quarter, "ahead": r.quarters_ahead,
             "metric": r.metric, "actual": _fmt(r.metric, r.actual), "p10": _fmt(r.metric, r.p10),
             "p50": _fmt(r.metric, r.p50), "p90": _fmt(r.metric, r.p90),
             "wp": _fmt(r.metric, r.weighted_pipeline)} for r in t.itertuples()]
    own = bt.scores[bt.scores["forecast"] == "revsim"]
    summary = "; ".join(
        f"{r.metric}: {r.coverage_p10_p90:.0%} of {r.n} actuals inside P10-P90 "
        f"(95% interval {r.coverage_low:.0%}-{r.coverage_high:.0%}), WAPE {r.wape:.1%}"
        for r in own.itertuples() if r.n) or "No quarter is complete in the export yet."
    base = bt.scores[bt.scores["forecast"] == "weighted_pipeline"].set_index("metric")
    if len(own) and len(base):
        summary += "; weighted pipeline WAPE " + ", ".join(
            f"{m} {base.loc[m, 'wape']:.1%}" for m in base.index if m in set(own["metric"]))
    html = _PAGE.render(title=title, summary=summary + ".", seeds=bt.seeds, quarters=quarters,
                        scores=scores, figures=figures, rows=rows,
                        latest=latest.date() if latest is not None else "–",
                        params=parameter_rows(bt.fits[0]) if bt.fits else [],
                        method=bt.fits[0].uncertainty.method if bt.fits else "–")
    path = out / "report.html"
    path.write_text(html, encoding="utf-8")
    return path
