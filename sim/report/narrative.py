"""The report's "What this says": plain-language paragraphs read off the numbers.

Either a contest between every motion (who leads on bookings, ARR and CAC
payback, and whether the lead is clear on paired seeds), or, when the scenario
names the pairs it compares (``compare:``), one paragraph per pair.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from markupsafe import escape

from sim.compare import direction
from sim.report.style import money
from sim.report.wording import cmp_row, fmt, fmt_ci, fmt_diff, label, pct

if TYPE_CHECKING:
    import pandas as pd

    from sim.runner.results import Results

__all__ = ["channel_sentence", "what_this_says"]


# what an infinite value of a metric means in words ("never"): the sentence, the verb
# for both sides (plural, third person singular), why it happens, and how a seed with
# one side "never" counts
_NEVER = {"cac_payback_months": ("never pays back its CAC", "pay back", "pays back",
                                 "a recurring gross margin that is not positive, or no new "
                                 "recurring ARR",
                                 "a payback beats never")}
_NEVER_OTHER = ("is never reached", "reach it", "reaches it", "", "reaching it beats never")


def _never_note(metric: str, c: dict, a: str, b: str) -> str:
    """'b never pays back its CAC in 30% of seeds, a in none (why)', the side with
    "never" first; empty when neither side is ever infinite."""
    na, nb = float(c.get("never_a", 0.0) or 0.0), float(c.get("never_b", 0.0) or 0.0)
    if not (na > 0 or nb > 0):
        return ""
    does, _, _, why, _ = _NEVER.get(metric, _NEVER_OTHER)
    (x, px), (y, py) = ((a, na), (b, nb)) if na > 0 else ((b, nb), (a, na))
    first = "any seed" if px >= 1 else f"{pct(px)} of seeds"
    second = "none" if py <= 0 else "all" if py >= 1 else pct(py)
    return (f"{escape(x)} {does} in {first}, {escape(y)} in {second}"
            + (f" ({why})" if why else ""))


def _never_sentences(metric: str, c: dict, a: str, b: str, noun: str, better: str,
                     cur: str) -> str:
    """What a pair says on a metric that is "never" in some seeds, a to b: who never
    gets there, who does better counting every seed and the verdict, then the averages
    over the seeds where both get there, said to be over those seeds (HTML)."""
    _, verb, verb_s, _, counts = _NEVER.get(metric, _NEVER_OTHER)
    is_ = "are" if noun.endswith("s") else "is"  # bookings are, CAC payback is
    text = _never_note(metric, c, a, b) + "."
    share_a = float(c["share_a_better"])
    if share_a == 0.5:
        text += (f" Counting every seed ({counts}), each side's {noun} "
                 f"{is_} {better} in half of them")
    else:
        x, share = (a, share_a) if share_a > 0.5 else (b, 1 - share_a)
        text += (f" Counting every seed ({counts}), {escape(x)}'s {noun} "
                 f"{is_} {better} in {pct(share)} of them")
    side = c["better"]
    if not side:
        text += ": no clear difference."
    elif (side == "a") == (share_a > 0.5):
        text += ": a clear difference."
    else:  # clear where both get there, and the other side alone is ever "never"
        w, loser = (a, b) if side == "a" else (b, a)
        text += (f"; still {escape(w)} is clearly better: its {noun} {is_} {better} (mean over the seeds) "
                 f"where both {verb}, and it {verb_s} in every seed where {escape(loser)} "
                 "does.")
    n, m = int(c["n"]), int(c["n_compared"])
    if n == 0:
        return text + f" In no seed do both {verb}, so there is no mean to compare."
    where = f"Where both {verb} ({n:,} of {m:,} seeds)"
    means = (f"{noun} {is_} {fmt(metric, c['mean_a'], cur)} for {escape(a)} against "
             f"{fmt(metric, c['mean_b'], cur)} for {escape(b)}, as means over those seeds")
    if not math.isfinite(c["diff_ci_low"]):
        return text + f" {where}, {means}."
    return text + (f" {where}, {means} (95% CI of the difference "
                   f"{fmt_ci(metric, c['diff_ci_low'], c['diff_ci_high'], cur)}).")


def _never_others(res: Results, metric: str, named: set[str]) -> str:
    """A sentence on the motions not in ``named`` whose metric is "never" in some seeds."""
    if res.runs.empty or metric not in res.runs:
        return ""
    bits = []
    for m in res.motions():
        x = res.runs.loc[res.runs["motion"] == m, metric].to_numpy(dtype=float)
        x = x[~np.isnan(x)]
        share = float(np.isinf(x).mean()) if x.size else 0.0
        if m not in named and share > 0:
            bits.append((m, share))
    if not bits:
        return ""
    does, _, _, why, _ = _NEVER.get(metric, _NEVER_OTHER)
    said = [f"in {'any seed' if p >= 1 else pct(p) + ' of seeds'}" for _, p in bits]
    text = f" {escape(bits[0][0])} {does} {said[0]}"
    text += "".join(f", {escape(m)} {w}" for (m, _), w in zip(bits[1:], said[1:], strict=True))
    return text + (f" ({why})" if why else "") + "."


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

    def rank(m: str) -> tuple[bool, float]:
        # a mean of +inf (a payback "never" in some seeds) comes after every finite
        # one when lower is better; among those, the median decides
        mean = float(s.loc[m, "mean"])
        if math.isinf(mean) and sign < 0:
            return True, float(s.loc[m, "p50"])
        return False, -sign * mean

    ranked = sorted(motions, key=rank)
    lead, second = ranked[0], ranked[1]
    a = fmt(metric, s.loc[lead, "p50"], cur)
    b = fmt(metric, s.loc[second, "p50"], cur)
    means = [float(s.loc[m, "mean"]) for m in (lead, second)]
    if all(math.isfinite(v) for v in means):  # ranked by the mean: say so, medians beside
        ma, mb = (fmt(metric, v, cur) for v in means)
        medians = f"a median of {a} for both" if a == b else f"median {a} against {b}"
        does += f" on average (mean {ma} against {mb} for {escape(second)}; {medians})"
    else:  # a "never" in some seeds: the median decides
        does += (f" (a median of {a} for both)" if a == b
                 else f" (median {a} against {b} for {escape(second)})")
    text = f'<span class="tag">{head}</span> <strong>{escape(lead)}</strong> {does}.'
    others = _never_others(res, metric, {lead, second})
    c = cmp_row(cmp, metric, lead, second)
    if c is not None and _never_note(metric, c, lead, second):
        bare = next(x for m, x, _ in _METRICS if m == metric)
        text += " " + _never_sentences(metric, c, lead, second, bare, better, cur)
        return text + others, (lead if c["better"] == "a" else None)
    if c is None or not math.isfinite(c["diff_ci_low"]):
        return text + others, None
    adv = sign * c["diff_mean"]
    lo, hi = sorted((sign * c["diff_ci_low"], sign * c["diff_ci_high"]))
    ci = fmt_ci(metric, lo, hi, cur, signed=False)
    amount = fmt_diff(metric, adv, cur, signed=False)
    share = pct(c["share_a_better"])
    vs = f" than {escape(second)}'s" if len(motions) > 2 else ""
    if c["better"] == "a":
        text += (f" Seed for seed its {noun} {amount} {better}{vs} (mean of the paired "
                 f"differences; 95% CI {ci}), "
                 f"and {better} in {share} of seeds: a clear difference.")
        return text + others, lead
    text += (f" Seed for seed its {noun} only {amount} {better}{vs} (mean of the paired "
                 f"differences; 95% CI {ci}, "
             f"which includes zero), and {better} in {share} of seeds: no clear difference.")
    return text + others, None


def _cost_sentence(res: Results, summary: pd.DataFrame, cmp: pd.DataFrame, grow: str,
                   eff: str | None, cur: str) -> str:
    """Growth weighed against what it costs: the S&M spend and peak burn of the motion
    that grows most, against the one that pays back soonest (or the cheapest)."""
    s = summary.set_index(["motion", "metric"])
    h = res.scenario.horizon_months

    def med(m: str, metric: str) -> float:
        return float(s.loc[(m, metric), "p50"]) if (m, metric) in s.index else math.nan

    spend = {m: med(m, "sm_spend_total") for m in res.motions()}
    if not math.isfinite(spend.get(grow, math.nan)):
        return ""
    other = eff if eff and eff != grow else min(
        (m for m in spend if m != grow and math.isfinite(spend[m])), key=spend.__getitem__,
        default=None)
    head = (f'<span class="tag">Trade-off</span> {escape(grow)} grows most and spends '
            f"{fmt('sm_spend_total', spend[grow], cur)} on sales and marketing over {h} months "
            f"(median), with a median peak monthly burn of "
            f"{fmt('monthly_burn', med(grow, 'monthly_burn'), cur)}")
    if other is None:
        return head + "."
    c = cmp_row(cmp, "sm_spend_total", grow, other)
    if c is None or not math.isfinite(c["diff_mean"]):
        return head + "."
    more = "more" if c["diff_mean"] >= 0 else "less"
    why = "pays back its spend sooner" if other == eff else "spends least"
    text = (head + f": {fmt_diff('sm_spend_total', abs(c['diff_mean']), cur, signed=False)} "
            f"{more} than {escape(other)}, which {why} (mean of the seed-for-seed "
            f"differences). ")
    if other == eff:
        text += ("Which is better depends on how much cash the plan can spend before the "
                 "revenue arrives.")
    return text


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
    channels = channel_sentence(summary, motions, cur)
    if sc.compare:
        return pair_paragraphs(res, cmp, cur, n) + ([channels] if channels else [])
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
    if len(motions) > 1 and grow:
        text = _cost_sentence(res, summary, cmp, grow, eff, cur)
        if text:
            paras.append(text)
    if sc.target_arr is not None and not tp.empty:
        bits = []
        for _, r in tp.iterrows():
            when = ("" if not math.isfinite(r["months_p50"]) else
                    f"; first reached in month {r['months_p50']:.0f}, the median over the "
                    "seeds that reach it")
            bits.append(f"{escape(r['motion'])} {pct(r['p_target'])} (95% CI "
                        f"{pct(r['p_ci_low'])} to {pct(r['p_ci_high'])}{when})")
        text = (f'<span class="tag">Target</span> Chance (share of seeds) of ending month {sc.horizon_months} '
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
    if channels:
        paras.append(channels)
    return paras


def channel_sentence(summary: pd.DataFrame, motions: list[str], cur: str) -> str:
    """For each motion that wins customers both on the product path and through sales:
    its blended CAC and each channel's CAC and payback (medians over seeds), so a blend
    of cheap sign-ups and costly sales deals does not pass for cheaper selling (HTML)."""
    s = summary.set_index(["motion", "metric"])

    def med(m: str, metric: str) -> float | None:
        if (m, metric) not in s.index or not s.loc[(m, metric), "n"]:
            return None
        return float(s.loc[(m, metric), "p50"])

    bits = []
    for m in motions:
        ss, sa, blend = (med(m, "cac_self_serve"), med(m, "cac_sales_assisted"),
                         med(m, "cac"))
        if ss is None or sa is None or blend is None:
            continue
        pb = [med(m, f"cac_payback_{k}") for k in ("self_serve", "sales_assisted")]
        paid = ""
        if pb[0] is not None and pb[1] is not None:
            paid = (f"; they pay back in {fmt('cac_payback_self_serve', pb[0], cur)} and "
                    f"{fmt('cac_payback_sales_assisted', pb[1], cur)}")
        bits.append(f"{escape(m)}'s blended CAC of {fmt('cac', blend, cur)} mixes self-serve "
                    f"customers at {fmt('cac_self_serve', ss, cur)} with sales-assisted ones at "
                    f"{fmt('cac_sales_assisted', sa, cur)}{paid}")
    if not bits:
        return ""
    return ('<span class="tag">CAC by channel</span> ' + "; ".join(bits) + " (medians over "
            "seeds). Adding sign-ups lowers the blend without making a sales deal any cheaper: "
            "judge each channel by its own CAC and payback.")


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
        bits, nevers = [], []
        for metric, noun, better in _METRICS:
            c = cmp_row(cmp, metric, a, b)
            if c is None:
                continue
            if _never_note(metric, c, a, b):  # its own sentences, every seed counted
                nevers.append(_never_sentences(metric, c, a, b, noun, better, cur))
                continue
            if not math.isfinite(c["diff_ci_low"]):
                continue
            sign = direction(metric)
            adv = sign * c["diff_mean"]
            word = better if adv >= 0 else {"higher": "lower", "shorter": "longer"}[better]
            verdict = "clear" if c["better"] else "not clear (the interval includes zero)"
            bits.append(
                f"{noun} {fmt(metric, c['mean_a'], cur)} against "
                f"{fmt(metric, c['mean_b'], cur)} (means over the seeds), "
                f"{fmt_diff(metric, abs(c['diff_mean']), cur, signed=False)} {word} "
                f"(95% CI of the difference {fmt_ci(metric, c['diff_ci_low'], c['diff_ci_high'], cur)}; "
                f"{word} in {pct(c['share_a_better'] if adv >= 0 else 1 - c['share_a_better'])} "
                f"of seeds): {verdict}")
        if bits or nevers:
            head = (f'<span class="tag">Pair</span> <strong>{escape(a)}</strong> against '
                    f"<strong>{escape(b)}</strong>")
            text = head + (": " + "; ".join(bits) + "." if bits else ".")
            paras.append(" ".join([text, *nevers]))
    return paras
