"""The self-contained HTML report of a results folder.

``write_report(res, folder)`` writes ``folder/figures/*.png``,
``folder/comparison.csv`` and ``folder/report.html``: one page a reader opens
in a browser without a terminal or a network connection (images are embedded
as base64 data URIs, CSS is inline, nothing is fetched).

The page has the headline table, a plain-language reading of the numbers, the
charts, the paired comparison, forecast variance, the funnel, and a "what was
assumed" section that follows the STRESS-DES checklist for reporting
discrete-event simulation studies (Monks et al., Journal of Simulation, 2018).
"""

from __future__ import annotations

import base64
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from sim.compare import (
    direction,
    forecast_variance,
    informative_rows,
    paired_comparison,
    target_probability,
)
from sim.metrics import HEADLINE
from sim.report.assumptions import DEFINITIONS, definitions, scenario_settings, versions
from sim.report.drivers import uncertainty_sections
from sim.report.figures import CAPTIONS, currency_symbol, funnel_table, make_figures, money
from sim.report.figures import motion_colors as _motion_colors
from sim.report.flow import flow
from sim.report.glyphs import chart_names
from sim.report.narrative import what_this_says
from sim.report.overrides import motion_differences, template_overrides
from sim.report.pilots import pilot_section
from sim.report.style import PHASE_MARKED, PHASE_NOTE
from sim.report.wording import cmp_row, fmt, fmt_ci, fmt_diff, label, pct, share_of_seeds

if TYPE_CHECKING:
    from sim.runner.results import Results

__all__ = ["write_report", "render_report", "template_overrides", "DEFINITIONS"]

_HERE = Path(__file__).parent

# Extra rows of the headline table, after sim.metrics.HEADLINE.
EXTRA_HEADLINE = ("new_customers", "win_rate", "ltv_to_cac")
# Rows shown when some motion has them: one-off revenue apart from the recurring
# (services, baseline and pilot fees), and the path from opportunity to production.
ONE_OFF_HEADLINE = ("one_off_revenue",)
PILOT_HEADLINE = ("win_rate_to_production", "cycle_days_to_production")
# CAC and payback per channel, after the blend, when some motion has both channels.
CHANNEL_HEADLINE = ("cac_self_serve", "cac_sales_assisted", "cac_payback_self_serve",
                    "cac_payback_sales_assisted")


def _blends_channels(runs: pd.DataFrame) -> bool:
    """Some motion has both a self-serve and a sales-assisted CAC in some seed."""
    if "cac_self_serve" not in runs or "cac_sales_assisted" not in runs:
        return False
    both = runs["cac_self_serve"].notna() & runs["cac_sales_assisted"].notna()
    return bool(both.any())


def _shown_metrics(runs: pd.DataFrame) -> list[str]:
    metrics = list(HEADLINE) + [m for m in EXTRA_HEADLINE if m not in HEADLINE]
    if _blends_channels(runs):
        at = metrics.index("cac_payback_months") + 1
        metrics[at:at] = CHANNEL_HEADLINE
    if "one_off_revenue" in runs and bool((runs["one_off_revenue"].fillna(0) != 0).any()):
        metrics += ONE_OFF_HEADLINE
    if "pilots_started" in runs and bool((runs["pilots_started"].fillna(0) > 0).any()):
        metrics += PILOT_HEADLINE
    return metrics


# --- formatting ----------------------------------------------------------------------


def _best(values: dict[str, float], metric: str) -> str | None:
    """The motion with the best value (direction aware), None on a tie or no direction."""
    sign = direction(metric)
    vals = {m: v for m, v in values.items() if v is not None and math.isfinite(v)}
    if sign == 0 or len(vals) < 2:
        return None
    best = max(vals, key=lambda m: sign * vals[m])
    top = sign * vals[best]
    if sum(1 for v in vals.values() if math.isclose(sign * v, top, rel_tol=1e-12)) > 1:
        return None
    return best


def _significant_vs_all(cmp: pd.DataFrame, metric: str, best: str) -> bool:
    rows = cmp[(cmp["metric"] == metric)
               & ((cmp["motion_a"] == best) | (cmp["motion_b"] == best))]
    if rows.empty:
        return False
    compared = 0
    for _, r in rows.iterrows():
        side = "a" if r["motion_a"] == best else "b"
        other = r["mean_b"] if side == "a" else r["mean_a"]
        if not r["n_compared" if "n_compared" in r else "n"] or not np.isfinite(other):
            continue  # a motion without the metric (plg has no win rate) takes no part
        compared += 1
        if r["better"] != side:
            return False
    return compared > 0


def _headline(res: Results, summary: pd.DataFrame, cmp: pd.DataFrame, tp: pd.DataFrame,
              cur: str) -> dict[str, Any]:
    motions = res.motions()
    s = summary.set_index(["motion", "metric"])
    metrics = _shown_metrics(res.runs)
    target = res.scenario.target_arr
    rows = []
    for metric in metrics:
        cells, means = [], {}
        for m in motions:
            if (m, metric) not in s.index or not s.loc[(m, metric), "n"]:
                cells.append({"text": "n/a", "range": "", "best": ""})
                continue
            r = s.loc[(m, metric)]
            means[m] = float(r["mean"])
            cells.append({"text": fmt(metric, r["p50"], cur),
                          "range": f"{fmt(metric, r['p10'], cur)} - {fmt(metric, r['p90'], cur)}",
                          "best": ""})
        _mark(cells, motions, means, metric, cmp, res.scenario.compare)
        rows.append({"metric": metric, "label": label(metric),
                     "hint": {1: "higher is better", -1: "lower is better"}.get(
                         direction(metric), ""),
                     "cells": cells})
    if target is not None and not tp.empty:
        t = tp.set_index("motion")
        cells, probs = [], {}
        for m in motions:
            if m not in t.index or not t.loc[m, "n"]:
                cells.append({"text": "n/a", "range": "", "best": ""})
                continue
            r = t.loc[m]
            probs[m] = float(r["p_target"])
            cells.append({"text": pct(r["p_target"]),
                          "range": f"95% CI {pct(r['p_ci_low'])} - {pct(r['p_ci_high'])}",
                          "best": ""})
        _mark(cells, motions, probs, "reached_target", cmp, res.scenario.compare)
        rows.append({"metric": "reached_target",
                     "label": f"P(ARR at least {money(target, cur)})",
                     "hint": "share of seeds; higher is better", "cells": cells})
        metric = "months_to_arr_target"
        cells, means = [], {}
        for m in motions:
            if m not in t.index or not math.isfinite(t.loc[m, "months_p50"]):
                cells.append({"text": "never", "range": "", "best": ""})
                continue
            r = t.loc[m]
            cells.append({"text": fmt(metric, r["months_p50"], cur),
                          "range": f"{fmt(metric, r['months_p10'], cur)} - "
                                   f"{fmt(metric, r['months_p90'], cur)}", "best": ""})
        rows.append({"metric": metric, "label": "Month target is first reached",
                     "hint": "median of the seeds that reach it", "cells": cells})
    rows += _cost_rows(res, s, cur)
    return {"rows": rows}


# What each motion costs, in the headline beside what it earns: no star (spending less
# is not better in itself; "What this says" weighs it against growth).
COST_ROWS = (("sm_spend_total", "S&M spend, {h} months", "what it costs"),
             ("monthly_burn", "Peak monthly burn", "S&M + CS spend less gross profit"),
             ("months_to_recover_spend", "Spend recovered by", "gross profit covers S&M + CS"))


def _cost_rows(res: Results, s: pd.DataFrame, cur: str) -> list[dict[str, Any]]:
    h = res.scenario.horizon_months
    rows = []
    for metric, text, hint in COST_ROWS:
        cells = []
        for m in res.motions():
            if (m, metric) not in s.index or not s.loc[(m, metric), "n"]:
                never = metric == "months_to_recover_spend" and (m, "recovered_spend") in s.index
                cells.append({"text": f"not within {h} mo" if never else "n/a", "range": "",
                              "best": ""})
                continue
            r = s.loc[(m, metric)]
            rng = f"{fmt(metric, r['p10'], cur)} - {fmt(metric, r['p90'], cur)}"
            if metric == "months_to_recover_spend":
                share = float(s.loc[(m, "recovered_spend"), "mean"])
                if share < 1:
                    total = int(s.loc[(m, "recovered_spend"), "n"])
                    rng += f", in {share_of_seeds(share, total)}"
            cells.append({"text": fmt(metric, r["p50"], cur), "range": rng, "best": ""})
        rows.append({"metric": metric, "label": text.format(h=h), "hint": hint, "cells": cells})
    return rows


def _mark(cells: list[dict[str, str]], motions: list[str], values: dict[str, float],
          metric: str, cmp: pd.DataFrame, pairs: list[tuple[str, str]] | None = None) -> None:
    if pairs:  # only the pairs the scenario compares: the clear winner of each
        for a, b in pairs:
            c = cmp_row(cmp, metric, a, b)
            if c is not None and c["better"]:
                cells[motions.index(a if c["better"] == "a" else b)]["best"] = "sig"
        return
    best = _best(values, metric)
    if best is None:
        return
    sig = _significant_vs_all(cmp, metric, best)
    cells[motions.index(best)]["best"] = "sig" if sig else "lead"


def _comparison_section(res: Results, cmp: pd.DataFrame, cur: str) -> dict[str, Any]:
    motions = res.motions()
    if len(motions) < 2 or cmp.empty:
        return {"groups": [], "sentence": "", "has_never": False}
    metrics = _shown_metrics(res.runs)
    if res.scenario.target_arr is not None:
        metrics.append("reached_target")
    sub = cmp[cmp["metric"].isin(metrics)].copy()
    sub["_o"] = sub["metric"].map({m: i for i, m in enumerate(metrics)})
    groups = []
    for (ga, gb), g in sub.groupby(["motion_a", "motion_b"], sort=False):
        rows: list[dict[str, Any]] = []
        groups.append({"a": ga, "b": gb, "rows": rows})
        for _, r in g.sort_values("_o").iterrows():
            metric = r["metric"]
            verdict = {"a": f"{r['motion_a']} better", "b": f"{r['motion_b']} better"}.get(
                r["better"], "no clear difference")
            rows.append({
                "metric": label(metric) if metric != "reached_target" else "P(target)",
                "a": r["motion_a"], "b": r["motion_b"],
                "mean_a": fmt(metric, r["mean_a"], cur), "mean_b": fmt(metric, r["mean_b"], cur),
                "diff": fmt_diff(metric, r["diff_mean"], cur),
                "ci": fmt_ci(metric, r["diff_ci_low"], r["diff_ci_high"], cur),
                "share": pct(r["share_a_better"]), "verdict": verdict,
                "is_clear": bool(r["better"]), "side": r["better"],
                "ratio": "n/a" if not math.isfinite(r["ci_ratio"]) else f"{r['ci_ratio']:.2f}",
                "n": int(r["n"]),
                "never_a": _never_text(r.get("never_a")), "never_b": _never_text(r.get("never_b")),
            })
    ratios = sub["ci_ratio"].to_numpy(dtype=float)
    ratios = ratios[np.isfinite(ratios)]
    sentence = ""
    if ratios.size:
        med = float(np.median(ratios))
        by_pair = sub[np.isfinite(sub["ci_ratio"])].groupby(["motion_a", "motion_b"],
                                                               sort=False)["ci_ratio"].median()
        if 0 < med < 0.9:
            sentence = (f"Pairing seeds makes these intervals about {1 / med:.1f} times narrower "
                        f"than comparing the motions as independent samples would (median ratio "
                        f"of paired to unpaired 95% CI width: {med:.2f} over the metrics above), "
                        "so smaller differences can be told apart from noise.")
        elif med > 0:
            sentence = (f"Pairing seeds barely narrows these intervals (median ratio of paired "
                        f"to unpaired 95% CI width: {med:.2f} over the metrics above): motions "
                        "with different sources, stages or deal sizes share few random draws.")
            (ba, bb), best = by_pair.idxmin(), float(by_pair.min())
            if best == 0:  # identical seed for seed on most metrics: no "times narrower"
                sentence += (f" {ba} and {bb} behave identically seed for seed on most of "
                             "these metrics (paired intervals of zero width).")
            elif best < 0.9:
                sentence += (f" It pays where two motions differ in a lever or two: {ba} against "
                             f"{bb} has intervals {1 / best:.1f} times narrower (ratio {best:.2f}).")
        elif (ratios > 0).any():
            sentence = ("Most of these paired differences are exactly zero: on those metrics "
                        "the motions behave identically seed for seed.")
        else:
            sentence = ("The paired differences are exactly zero on these metrics: the motions "
                        "behave identically seed for seed.")
    for g in groups:
        a_wins = sum(1 for r in g["rows"] if r["side"] == "a")
        b_wins = sum(1 for r in g["rows"] if r["side"] == "b")
        g["summary"] = (f"{g['a']} clearly better on {a_wins}, {g['b']} on {b_wins}, no clear "
                        f"difference on {len(g['rows']) - a_wins - b_wins} of {len(g['rows'])} "
                        "metrics")
    has_never = bool(any(r["never_a"] or r["never_b"] for g in groups for r in g["rows"]))
    return {"groups": groups, "sentence": sentence, "has_never": has_never}


def _differences(res: Results) -> list[dict[str, Any]]:
    """For each compared pair, every input in which the two motions differ."""
    by_name = {m.name: m for m in res.scenario.motions}
    names = [m.name for m in res.scenario.motions]
    pairs = res.scenario.compare or [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
    out = []
    for a, b in pairs:
        rows = motion_differences(by_name[a], by_name[b])
        ma, mb = by_name[a], by_name[b]
        ta, tb = escape(ma.template), escape(mb.template)
        start = (Markup("both start from the <code>{}</code> template").format(ta)
                 if ma.template == mb.template else
                 Markup("{} starts from the <code>{}</code> template, {} from <code>{}</code>: "
                        "every input of the funnel may differ").format(a, ta, b, tb))
        out.append({"a": a, "b": b, "rows": rows,
                    "based_on": ma.based_on == b or mb.based_on == a,
                    "same_template": ma.template == mb.template, "start": start})
    return out


def _never_text(share: Any) -> str:
    """'never in 12% of seeds' for a side whose value is infinite in some seeds."""
    if share is None or not math.isfinite(float(share)) or float(share) <= 0:
        return ""
    return f"never in {pct(float(share))} of seeds"


def _variance_rows(res: Results, cur: str) -> list[dict[str, str]]:
    fv = forecast_variance(res.runs, res.forecast)
    return [{
        "motion": r["motion"],
        "quarters": f"{int(r['quarters'])}",
        "mean": fmt("bookings_total", r["quarterly_bookings_mean"], cur),
        "cv": "n/a" if not math.isfinite(r["bookings_cv"]) else f"{r['bookings_cv']:.2f}",
        "wape": fmt("forecast_wape", r["forecast_wape"], cur),
        "bias": ("n/a" if not math.isfinite(r["forecast_bias"])
                 else f"{r['forecast_bias'] * 100:+.0f}%"),
        "mape": fmt("forecast_mape", r["forecast_mape"], cur),
    } for _, r in fv.iterrows()]


def _funnel_rows(res: Results) -> list[dict[str, str]]:
    t = funnel_table(res)
    return [{
        "motion": r["motion"], "stage": r["stage"], "owner": r["owner"] or "(none)",
        "entered": f"{r['entered']:,.1f}" if r["entered"] < 100 else f"{r['entered']:,.0f}",
        "advanced": f"{r['advanced']:,.1f}" if r["advanced"] < 100 else f"{r['advanced']:,.0f}",
        "lost": f"{r['lost']:,.1f}" if r["lost"] < 100 else f"{r['lost']:,.0f}",
        "open": f"{r['open']:,.1f}" if r["open"] < 100 else f"{r['open']:,.0f}",
        "conversion": pct(r["conversion"]),
        "days": "n/a" if not math.isfinite(r["mean_days"]) else f"{r['mean_days']:.0f} d",
    } for _, r in t.iterrows()]


def _definitions(res: Results) -> list[tuple[str, str, str]]:
    shown = _shown_metrics(res.runs) + ["cycle_days_median", "forecast_bias", "forecast_mape",
                                        "sm_spend_total"]
    if res.scenario.target_arr is not None:
        shown += ["reached_target", "months_to_arr_target"]
    return [(label(m), m, d) for m, d in definitions(shown)]


# --- entry points --------------------------------------------------------------------


def _env() -> Environment:
    return Environment(loader=FileSystemLoader(str(_HERE)),
                       autoescape=select_autoescape(["html", "j2"]),
                       trim_blocks=True, lstrip_blocks=True)


def render_report(res: Results, figures: dict[str, bytes],
                  comparison: pd.DataFrame | None = None,
                  extras: list[dict[str, Any]] | None = None) -> str:
    """The report page as a string, with ``figures`` embedded as data URIs."""
    sc = res.scenario
    cur = currency_symbol(sc.currency)
    summary = res.summary()
    cmp = comparison if comparison is not None else paired_comparison(
        res.runs, res.motions(), res.scenario.compare)
    tp = target_probability(res.runs, sc.target_arr)
    colors = _motion_colors(res.motions())
    # a section that says the page shows a changed plan (the stress test's shocked plan)
    variant = next((x for x in extras or [] if x.get("variant")), None)
    motions = []
    for m in sc.motions:
        motions.append({
            "name": m.name, "template": m.template, "color": colors[m.name],
            "description": m.description, "flow": flow(m, cur, open_deals=bool(sc.initial.pipeline),
                         staffed=frozenset(r.role for r in sc.initial.reps)),
            "overrides": template_overrides(m),
        })
    phased = any(m.phases for m in sc.motions)
    figs = [{
        "file": name, "title": (f"{variant['variant_short'].capitalize()}: "
                                if variant else "") + CAPTIONS.get(name, (name, ""))[0],
        "caption": CAPTIONS.get(name, ("", ""))[1] + (
            " " + PHASE_NOTE if phased and name in PHASE_MARKED else ""),
        "uri": "data:image/png;base64," + base64.b64encode(data).decode("ascii"),
    } for name, data in figures.items()]
    n_seeds = int(res.runs["seed"].nunique()) if not res.runs.empty else 0
    ctx = {
        "sc": sc, "cur": cur, "n_seeds": n_seeds,
        "variant": variant["variant"] if variant else "",
        "variant_short": variant["variant_short"] if variant else "",
        "motion_names": res.motions(), "colors": colors, "motions": motions,
        "pairs": res.scenario.compare,
        "headline": _headline(res, summary, cmp, tp, cur),
        "what": ([f"<strong>{escape(variant['variant'])}</strong> Every figure below is for "
                  "that plan; the section above gives each change against the baseline, "
                  "seed for seed."] if variant else []) + what_this_says(res, summary, cmp, tp,
                                                                         cur),
        "figures": figs, "chart_key": chart_names(sc).key,
        "comparison": _comparison_section(res, cmp, cur),
        "differences": _differences(res) if len(sc.motions) > 1 else [],
        "variance": _variance_rows(res, cur),
        "funnel": _funnel_rows(res),
        "pilots": pilot_section(res, cur),
        "definitions": _definitions(res),
        "settings": scenario_settings(res, cur),
        "versions": versions(res),
        "root_seed": sc.seed,
        "target_text": money(sc.target_arr, cur) if sc.target_arr is not None else "",
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "css": (_HERE / "report.css").read_text(encoding="utf-8"),
        "extras": [{**x, "uri": ("data:image/png;base64," + base64.b64encode(x["png"]).decode(
            "ascii")) if x.get("png") else ""} for x in extras or []],
    }
    return _env().get_template("report.html.j2").render(**ctx)


def write_report(res: Results, folder: Path, extras: list[dict[str, Any]] | None = None) -> Path:
    """Write ``figures/*.png``, ``comparison.csv`` and ``report.html`` into ``folder``.

    ``extras``: further sections (stress deltas, the sensitivity tornado), each a
    mapping with ``id``, ``title``, ``intro``, ``headers``, ``rows`` and optionally
    ``png`` (bytes, embedded). Returns the path of ``report.html``.
    """
    folder = Path(folder)
    fig_dir = folder / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    variant = next((x["variant_short"] for x in extras or [] if x.get("variant")), None)
    figures = make_figures(res, variant)
    for stale in CAPTIONS:  # a chart that no longer has data must not linger from a rebuild
        if stale not in figures and (fig_dir / stale).exists():
            (fig_dir / stale).unlink()
    for name, data in figures.items():
        (fig_dir / name).write_bytes(data)
    uncertainty = uncertainty_sections(res)  # what drives the spread, learn first, breaks
    if uncertainty[0].get("png"):
        (fig_dir / "drivers.png").write_bytes(uncertainty[0]["png"])
    extras = [*uncertainty, *(extras or [])]
    cmp = paired_comparison(res.runs, res.motions(), res.scenario.compare)
    informative_rows(cmp).to_csv(folder / "comparison.csv", index=False)
    html = render_report(res, figures, cmp, extras)
    out = folder / "report.html"
    out.write_text(html, encoding="utf-8")
    return out
