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
from markupsafe import escape

from sim.compare import (
    direction,
    forecast_variance,
    paired_comparison,
    target_probability,
)
from sim.metrics import HEADLINE
from sim.report.assumptions import (
    DEFINITIONS,
    definitions,
    flow,
    pct,
    scenario_settings,
    template_overrides,
    versions,
)
from sim.report.figures import CAPTIONS, currency_symbol, funnel_table, make_figures, money
from sim.report.figures import motion_colors as _motion_colors
from sim.report.terminal import LABELS, fmt_value

if TYPE_CHECKING:
    from sim.runner.results import Results

__all__ = ["write_report", "render_report", "template_overrides", "DEFINITIONS"]

_HERE = Path(__file__).parent

# Extra rows of the headline table, after sim.metrics.HEADLINE.
EXTRA_HEADLINE = ("new_customers", "win_rate", "ltv_to_cac")


# --- formatting ----------------------------------------------------------------------


def _is_percent(metric: str) -> bool:
    # fmt_value knows which metrics are shares; ask it rather than keep a second list
    return fmt_value(metric, 0.5).endswith("%")


def _fmt(metric: str, v: float, cur: str) -> str:
    return fmt_value(metric, v, cur)


def _kind(metric: str) -> str:
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


def _fmt_diff(metric: str, v: float, cur: str, signed: bool = True,
              precise: bool = False) -> str:
    """A difference: percentage points for shares, else the metric's own unit."""
    if v is None or not math.isfinite(v):
        return "n/a"
    a, p = abs(v), int(precise)
    kind = _kind(metric)
    if kind == "pct":
        body = f"{a * 100:.{1 + p}f} pp"
    elif kind == "months":
        body = f"{a:.{1 + p}f} mo"
    elif kind == "days":
        body = f"{a:.{p}f} d"
    elif kind == "ratio":
        body = f"{a:.{1 + p}f}x"
    elif kind == "count":
        body = f"{a:,.{1 + p}f}"
    else:
        body = f"{cur}{a:,.0f}" if precise else fmt_value(metric, a, cur)
    if not any(ch in "123456789" for ch in body.removeprefix(cur)):
        return body  # rounds to zero: no sign
    return ("-" if v < 0 else "+" if signed else "") + body


def _rounds_to_zero(text: str, cur: str) -> bool:
    return not any(ch in "123456789" for ch in text.removeprefix("-").removeprefix("+")
                   .removeprefix(cur))


def _fmt_ci(metric: str, low: float, high: float, cur: str, signed: bool = True) -> str:
    """'low to high', with more digits when both ends would print the same."""
    lo, hi = _fmt_diff(metric, low, cur, signed), _fmt_diff(metric, high, cur, signed)
    if lo == hi or any(_rounds_to_zero(t, cur) and x != 0
                       for t, x in ((lo, low), (hi, high))):
        lo = _fmt_diff(metric, low, cur, signed, precise=True)
        hi = _fmt_diff(metric, high, cur, signed, precise=True)
    return f"{lo} to {hi}"


# Names for metrics the terminal table does not label.
_MORE_LABELS = {
    "sm_spend_total": "S&M spend",
    "cs_spend_total": "CS spend",
    "forecast_bias": "Forecast bias",
    "pilot_bookings_total": "Pilot bookings",
    "new_arr_total": "New ARR",
}


def _label(metric: str) -> str:
    return LABELS.get(metric) or _MORE_LABELS.get(metric) or metric.replace("_", " ").capitalize()


# --- sections ------------------------------------------------------------------------


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
    for _, r in rows.iterrows():
        side = "a" if r["motion_a"] == best else "b"
        if r["better"] != side:
            return False
    return True


def _headline(res: Results, summary: pd.DataFrame, cmp: pd.DataFrame, tp: pd.DataFrame,
              cur: str) -> dict[str, Any]:
    motions = res.motions()
    s = summary.set_index(["motion", "metric"])
    metrics = list(HEADLINE) + [m for m in EXTRA_HEADLINE if m not in HEADLINE]
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
            cells.append({"text": _fmt(metric, r["p50"], cur),
                          "range": f"{_fmt(metric, r['p10'], cur)} - {_fmt(metric, r['p90'], cur)}",
                          "best": ""})
        _mark(cells, motions, means, metric, cmp, res.scenario.compare)
        rows.append({"metric": metric, "label": _label(metric),
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
                     "hint": "higher is better", "cells": cells})
        metric = "months_to_arr_target"
        cells, means = [], {}
        for m in motions:
            if m not in t.index or not math.isfinite(t.loc[m, "months_p50"]):
                cells.append({"text": "never", "range": "", "best": ""})
                continue
            r = t.loc[m]
            cells.append({"text": _fmt(metric, r["months_p50"], cur),
                          "range": f"{_fmt(metric, r['months_p10'], cur)} - "
                                   f"{_fmt(metric, r['months_p90'], cur)}", "best": ""})
        rows.append({"metric": metric, "label": "Month target is first reached",
                     "hint": "seeds that reach it", "cells": cells})
    return {"rows": rows}


def _mark(cells: list[dict[str, str]], motions: list[str], values: dict[str, float],
          metric: str, cmp: pd.DataFrame, pairs: list[tuple[str, str]] | None = None) -> None:
    if pairs:  # only the pairs the scenario compares: the clear winner of each
        for a, b in pairs:
            c = _cmp_row(cmp, metric, a, b)
            if c is not None and c["better"]:
                cells[motions.index(a if c["better"] == "a" else b)]["best"] = "sig"
        return
    best = _best(values, metric)
    if best is None:
        return
    sig = _significant_vs_all(cmp, metric, best)
    cells[motions.index(best)]["best"] = "sig" if sig else "lead"


def _cmp_row(cmp: pd.DataFrame, metric: str, a: str, b: str) -> dict[str, Any] | None:
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
            "better": flip[x["better"]]}


# metric -> (heading, what the leader does, noun for the per-seed difference, better word)
_STORY = {
    "bookings_total": ("Bookings", "books the most", "bookings are", "higher"),
    "arr_end": ("ARR", "ends with the most ARR", "ending ARR is", "higher"),
    "cac_payback_months": ("Efficiency", "pays back its CAC soonest", "CAC payback is",
                           "shorter"),
}


def _leader_sentence(res: Results, summary: pd.DataFrame, cmp: pd.DataFrame, metric: str,
                     cur: str) -> tuple[str, str | None]:
    """A paragraph on who leads on ``metric``, and whether the lead is clear (paired).

    Returns the HTML text and the leader when its lead is clear (else None).
    """
    head, does, noun, better = _STORY[metric]
    s = summary[summary["metric"] == metric].set_index("motion")
    s = s[s["n"] > 0]
    motions = [m for m in res.motions() if m in s.index]
    if not motions:
        return "", None
    if len(motions) == 1:
        m = motions[0]
        r = s.loc[m]
        named = "" if _label(metric) == head else f"{_label(metric)}: "
        return (f'<span class="tag">{head}</span> {named}a median of '
                f"{_fmt(metric, r['p50'], cur)} (P10-P90: {_fmt(metric, r['p10'], cur)} to "
                f"{_fmt(metric, r['p90'], cur)}).", m)
    sign = direction(metric)
    ranked = sorted(motions, key=lambda m: -sign * float(s.loc[m, "mean"]))
    lead, second = ranked[0], ranked[1]
    a = _fmt(metric, s.loc[lead, "p50"], cur)
    b = _fmt(metric, s.loc[second, "p50"], cur)
    medians = (f"a median of {a} for both" if a == b
               else f"median {a} against {b} for {escape(second)}")
    text = f'<span class="tag">{head}</span> <strong>{escape(lead)}</strong> {does} ({medians}).'
    c = _cmp_row(cmp, metric, lead, second)
    if c is None or not math.isfinite(c["diff_ci_low"]):
        return text, None
    adv = sign * c["diff_mean"]
    lo, hi = sorted((sign * c["diff_ci_low"], sign * c["diff_ci_high"]))
    ci = _fmt_ci(metric, lo, hi, cur, signed=False)
    amount = _fmt_diff(metric, adv, cur, signed=False)
    share = pct(c["share_a_better"])
    vs = f" than {escape(second)}'s" if len(motions) > 2 else ""
    if c["better"] == "a":
        text += (f" Seed for seed its {noun} {amount} {better}{vs} on average (95% CI {ci}), "
                 f"and {better} in {share} of seeds: a clear difference.")
        return text, lead
    text += (f" Seed for seed its {noun} only {amount} {better}{vs} on average (95% CI {ci}, "
             f"which includes zero), and {better} in {share} of seeds: no clear difference.")
    return text, None


def _what_this_says(res: Results, summary: pd.DataFrame, cmp: pd.DataFrame,
                    tp: pd.DataFrame, cur: str) -> list[str]:
    """Plain-language paragraphs (HTML; user-given names escaped) read off the numbers."""
    sc = res.scenario
    motions = res.motions()
    names = ", ".join(str(escape(m)) for m in motions)
    n = int(res.runs["seed"].nunique()) if not res.runs.empty else 0
    cur = str(escape(cur))
    paras = []
    if len(motions) > 1:
        paras.append(
            f"We simulated {len(motions)} ways of running the revenue engine ({names}) over "
            f"{sc.horizon_months} months, {n:,} times each. In every run (seed) all motions "
            "faced the same luck: the same leads arriving, the same buyers deciding, so the "
            "differences below come from the motions themselves. A difference is called clear "
            "when its paired 95% confidence interval excludes zero.")
    else:
        paras.append(f"We simulated {names} over {sc.horizon_months} months, {n:,} times, to "
                     "see the range of outcomes the plan can produce.")
    if sc.compare:
        from sim.report.pairs import pair_paragraphs

        return pair_paragraphs(res, cmp, cur, n)
    leaders: dict[str, str | None] = {}
    known = set(summary["metric"])
    for metric in _STORY:
        if metric not in known:
            continue
        text, lead = _leader_sentence(res, summary, cmp, metric, cur)
        if text:
            paras.append(text)
            leaders[metric] = lead
    grow = leaders.get("bookings_total") or leaders.get("arr_end")
    eff = leaders.get("cac_payback_months")
    if len(motions) > 1 and grow and eff and grow != eff:
        paras.append(f'<span class="tag">Trade-off</span> {escape(grow)} grows more, but '
                     f"{escape(eff)} pays back its sales and marketing spend sooner. Which is "
                     "better depends on how much cash the plan can spend before the revenue "
                     "arrives.")
    if sc.target_arr is not None and not tp.empty:
        bits = []
        for _, r in tp.iterrows():
            when = ("" if not math.isfinite(r["months_p50"]) else
                    f"; first reached around month {r['months_p50']:.0f}")
            bits.append(f"{escape(r['motion'])} {pct(r['p_target'])} (95% CI "
                        f"{pct(r['p_ci_low'])} to {pct(r['p_ci_high'])}{when})")
        text = (f'<span class="tag">Target</span> Chance of ending month {sc.horizon_months} '
                f"with ARR of at least {money(sc.target_arr, cur)}: " + ", ".join(bits) + ".")
        if len(tp) == 2:
            a, b = str(tp.iloc[0]["motion"]), str(tp.iloc[1]["motion"])
            c = _cmp_row(cmp, "reached_target", a, b)
            if c is not None and math.isfinite(c["diff_ci_low"]):
                ci = _fmt_ci("reached_target", c["diff_ci_low"], c["diff_ci_high"], cur)
                if c["better"]:
                    win = a if c["better"] == "a" else b
                    text += (f" The gap in favour of {escape(win)} is clear (paired 95% CI of "
                             f"{escape(a)} minus {escape(b)}: {ci}).")
                else:
                    text += (f" The gap is within the noise (paired 95% CI of {escape(a)} minus "
                             f"{escape(b)}: {ci}).")
        paras.append(text)
    return paras


def _comparison_section(res: Results, cmp: pd.DataFrame, cur: str) -> dict[str, Any]:
    motions = res.motions()
    if len(motions) < 2 or cmp.empty:
        return {"groups": [], "sentence": ""}
    metrics = list(HEADLINE) + [m for m in EXTRA_HEADLINE if m not in HEADLINE]
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
                "metric": _label(metric) if metric != "reached_target" else "P(target)",
                "a": r["motion_a"], "b": r["motion_b"],
                "mean_a": _fmt(metric, r["mean_a"], cur), "mean_b": _fmt(metric, r["mean_b"], cur),
                "diff": _fmt_diff(metric, r["diff_mean"], cur),
                "ci": _fmt_ci(metric, r["diff_ci_low"], r["diff_ci_high"], cur),
                "share": pct(r["share_a_better"]), "verdict": verdict,
                "is_clear": bool(r["better"]),
                "ratio": "n/a" if not math.isfinite(r["ci_ratio"]) else f"{r['ci_ratio']:.2f}",
                "n": int(r["n"]),
            })
    ratios = sub["ci_ratio"].to_numpy(dtype=float)
    ratios = ratios[np.isfinite(ratios)]
    sentence = ""
    if ratios.size:
        med = float(np.median(ratios))
        if med > 0:
            sentence = (f"Pairing seeds makes these intervals about {1 / med:.1f} times narrower "
                        f"than comparing the motions as independent samples would (median ratio "
                        f"of paired to unpaired 95% CI width: {med:.2f} over the metrics above), "
                        "so smaller differences can be told apart from noise.")
        else:
            sentence = ("The paired differences are exactly zero on these metrics: the motions "
                        "behave identically seed for seed.")
    return {"groups": groups, "sentence": sentence}


def _variance_rows(res: Results, cur: str) -> list[dict[str, str]]:
    fv = forecast_variance(res.runs, res.forecast)
    return [{
        "motion": r["motion"],
        "quarters": f"{int(r['quarters'])}",
        "mean": _fmt("bookings_total", r["quarterly_bookings_mean"], cur),
        "cv": "n/a" if not math.isfinite(r["bookings_cv"]) else f"{r['bookings_cv']:.2f}",
        "mape": _fmt("forecast_mape", r["forecast_mape"], cur),
        "bias": ("n/a" if not math.isfinite(r["forecast_bias"])
                 else f"{r['forecast_bias'] * 100:+.0f}%"),
    } for _, r in fv.iterrows()]


def _funnel_rows(res: Results) -> list[dict[str, str]]:
    t = funnel_table(res)
    return [{
        "motion": r["motion"], "stage": r["stage"], "owner": r["owner"] or "(none)",
        "entered": f"{r['entered']:,.1f}" if r["entered"] < 100 else f"{r['entered']:,.0f}",
        "advanced": f"{r['advanced']:,.1f}" if r["advanced"] < 100 else f"{r['advanced']:,.0f}",
        "lost": f"{r['lost']:,.1f}" if r["lost"] < 100 else f"{r['lost']:,.0f}",
        "conversion": pct(r["conversion"]),
        "days": "n/a" if not math.isfinite(r["mean_days"]) else f"{r['mean_days']:.0f} d",
    } for _, r in t.iterrows()]


def _definitions(res: Results) -> list[tuple[str, str, str]]:
    shown = list(HEADLINE) + list(EXTRA_HEADLINE) + ["cycle_days_median", "forecast_bias",
                                                     "sm_spend_total"]
    if res.scenario.target_arr is not None:
        shown += ["reached_target", "months_to_arr_target"]
    return [(_label(m), m, d) for m, d in definitions(shown)]


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
    motions = []
    for m in sc.motions:
        motions.append({
            "name": m.name, "template": m.template, "color": colors[m.name],
            "description": m.description, "flow": flow(m, cur),
            "overrides": template_overrides(m),
        })
    figs = [{
        "file": name, "title": CAPTIONS.get(name, (name, ""))[0],
        "caption": CAPTIONS.get(name, ("", ""))[1],
        "uri": "data:image/png;base64," + base64.b64encode(data).decode("ascii"),
    } for name, data in figures.items()]
    n_seeds = int(res.runs["seed"].nunique()) if not res.runs.empty else 0
    ctx = {
        "sc": sc, "cur": cur, "n_seeds": n_seeds,
        "motion_names": res.motions(), "colors": colors, "motions": motions,
        "pairs": res.scenario.compare,
        "headline": _headline(res, summary, cmp, tp, cur),
        "what": _what_this_says(res, summary, cmp, tp, cur),
        "figures": figs,
        "comparison": _comparison_section(res, cmp, cur),
        "variance": _variance_rows(res, cur),
        "funnel": _funnel_rows(res),
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
    figures = make_figures(res)
    for stale in CAPTIONS:  # a chart that no longer has data must not linger from a rebuild
        if stale not in figures and (fig_dir / stale).exists():
            (fig_dir / stale).unlink()
    for name, data in figures.items():
        (fig_dir / name).write_bytes(data)
    cmp = paired_comparison(res.runs, res.motions(), res.scenario.compare)
    cmp.to_csv(folder / "comparison.csv", index=False)
    html = render_report(res, figures, cmp, extras)
    out = folder / "report.html"
    out.write_text(html, encoding="utf-8")
    return out
