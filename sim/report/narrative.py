"""The report's "What this says": plain-language paragraphs read off the numbers.

Either a contest between every motion (who leads on bookings, ARR and CAC
payback, and whether the lead is clear on paired seeds), or, when the scenario
names the pairs it compares (``compare:``), one paragraph per pair.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from markupsafe import escape

from sim.compare import direction
from sim.report.assumptions import money, pct
from sim.report.wording import cmp_row, fmt, fmt_ci, fmt_diff, label

if TYPE_CHECKING:
    import pandas as pd

    from sim.runner.results import Results

__all__ = ["what_this_says"]


# metric -> (heading, what the leader does, noun for the per-seed difference, better word)
# what an infinite value of a metric means in words ("never")
_NEVER = {"cac_payback_months": ("never pays back its CAC within the horizon", "pay back")}


def _never_note(metric: str, c: dict, a: str, b: str) -> str:
    """A sentence on seeds where a or b never reaches the metric (empty when none)."""
    na, nb = float(c.get("never_a", 0.0) or 0.0), float(c.get("never_b", 0.0) or 0.0)
    if not (na > 0 or nb > 0):
        return ""
    does, verb = _NEVER.get(metric, ("is never reached", "get there"))
    parts = [f"{escape(m)} in {pct(x)}" if x > 0 else f"{escape(m)} in none"
             for m, x in ((a, na), (b, nb))]
    return (f" {escape(a) if na > 0 else escape(b)} {does} in some seeds ("
            + ", ".join(parts) + f"): averages are over the {int(c['n']):,} seeds where "
            f"both {verb}, shares of seeds over all {int(c['n_compared']):,}.")


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
        named = "" if label(metric) == head else f"{label(metric)}: "
        return (f'<span class="tag">{head}</span> {named}a median of '
                f"{fmt(metric, r['p50'], cur)} (P10-P90: {fmt(metric, r['p10'], cur)} to "
                f"{fmt(metric, r['p90'], cur)}).", m)
    sign = direction(metric)
    ranked = sorted(motions, key=lambda m: -sign * float(s.loc[m, "mean"]))
    lead, second = ranked[0], ranked[1]
    a = fmt(metric, s.loc[lead, "p50"], cur)
    b = fmt(metric, s.loc[second, "p50"], cur)
    medians = (f"a median of {a} for both" if a == b
               else f"median {a} against {b} for {escape(second)}")
    text = f'<span class="tag">{head}</span> <strong>{escape(lead)}</strong> {does} ({medians}).'
    c = cmp_row(cmp, metric, lead, second)
    if c is None or not math.isfinite(c["diff_ci_low"]):
        return text, None
    adv = sign * c["diff_mean"]
    lo, hi = sorted((sign * c["diff_ci_low"], sign * c["diff_ci_high"]))
    ci = fmt_ci(metric, lo, hi, cur, signed=False)
    amount = fmt_diff(metric, adv, cur, signed=False)
    share = pct(c["share_a_better"])
    vs = f" than {escape(second)}'s" if len(motions) > 2 else ""
    never = _never_note(metric, c, lead, second)
    if never:
        verdict = ("a clear difference" if c["better"] == "a" else "no clear difference")
        text += (f"{never} Seed for seed its {noun} {better} in {share} of seeds: {verdict}; "
                 f"where both are finite, {amount} {better} on average (95% CI {ci}).")
        return text, (lead if c["better"] == "a" else None)
    if c["better"] == "a":
        text += (f" Seed for seed its {noun} {amount} {better}{vs} on average (95% CI {ci}), "
                 f"and {better} in {share} of seeds: a clear difference.")
        return text, lead
    text += (f" Seed for seed its {noun} only {amount} {better}{vs} on average (95% CI {ci}, "
             f"which includes zero), and {better} in {share} of seeds: no clear difference.")
    return text, None


def what_this_says(res: Results, summary: pd.DataFrame, cmp: pd.DataFrame,
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
            c = cmp_row(cmp, "reached_target", a, b)
            if c is not None and math.isfinite(c["diff_ci_low"]):
                ci = fmt_ci("reached_target", c["diff_ci_low"], c["diff_ci_high"], cur)
                if c["better"]:
                    win = a if c["better"] == "a" else b
                    text += (f" The gap in favour of {escape(win)} is clear (paired 95% CI of "
                             f"{escape(a)} minus {escape(b)}: {ci}).")
                else:
                    text += (f" The gap is within the noise (paired 95% CI of {escape(a)} minus "
                             f"{escape(b)}: {ci}).")
        paras.append(text)
    return paras


_METRICS = (("arr_end", "ending ARR", "higher"), ("bookings_total", "bookings", "higher"),
            ("cac_payback_months", "CAC payback", "shorter"))


def pair_paragraphs(res: Results, cmp: pd.DataFrame, cur: str, n: int) -> list[str]:
    sc = res.scenario
    paras = [
        f"The scenario asks {len(sc.compare)} question(s), each a pair of motions run "
        f"{n:,} times over {sc.horizon_months} months. Within a pair, every run (seed) faced "
        "the same luck, so each difference below comes from the motions themselves; a "
        "difference is called clear when its paired 95% confidence interval excludes zero."]
    for a, b in sc.compare:
        bits = []
        for metric, noun, better in _METRICS:
            c = cmp_row(cmp, metric, a, b)
            if c is None or not math.isfinite(c["diff_ci_low"]):
                continue
            sign = direction(metric)
            adv = sign * c["diff_mean"]
            word = better if adv >= 0 else {"higher": "lower", "shorter": "longer"}[better]
            verdict = "clear" if c["better"] else "not clear (the interval includes zero)"
            never = _never_note(metric, c, a, b)
            if never:
                verdict = ("clear" if c["better"] else "not clear") + "." + never.rstrip(".")
            bits.append(
                f"{noun} {fmt(metric, c['mean_a'], cur)} against "
                f"{fmt(metric, c['mean_b'], cur)} on average, "
                f"{fmt_diff(metric, abs(c['diff_mean']), cur, signed=False)} {word} "
                f"(95% CI of the difference {fmt_ci(metric, c['diff_ci_low'], c['diff_ci_high'], cur)}; "
                f"{word} in {pct(c['share_a_better'] if adv >= 0 else 1 - c['share_a_better'])} "
                f"of seeds): {verdict}")
        if bits:
            paras.append(f'<span class="tag">Pair</span> <strong>{escape(a)}</strong> against '
                         f"<strong>{escape(b)}</strong>: " + "; ".join(bits) + ".")
    return paras
