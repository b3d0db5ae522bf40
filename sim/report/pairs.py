"""The report's plain-language reading when a scenario names the pairs it compares.

A scenario with ``compare: [[a, b], ...]`` (say, a phased motion and the motion
it starts as) is several questions in one file, not a contest between every
motion. "What this says" then reads each pair on its own: ARR at the end,
bookings and CAC payback, each as a paired difference with its 95% interval.
"""

from __future__ import annotations

import math
from html import escape
from typing import TYPE_CHECKING

from sim.compare import direction
from sim.report.assumptions import pct

if TYPE_CHECKING:
    import pandas as pd

    from sim.runner.results import Results

__all__ = ["pair_paragraphs"]

_METRICS = (("arr_end", "ending ARR", "higher"), ("bookings_total", "bookings", "higher"),
            ("cac_payback_months", "CAC payback", "shorter"))


def pair_paragraphs(res: Results, cmp: pd.DataFrame, cur: str, n: int) -> list[str]:
    from sim.report.html import _cmp_row, _fmt, _fmt_ci, _fmt_diff

    sc = res.scenario
    paras = [
        f"The scenario asks {len(sc.compare)} question(s), each a pair of motions run "
        f"{n:,} times over {sc.horizon_months} months. Within a pair, every run (seed) faced "
        "the same luck, so each difference below comes from the motions themselves; a "
        "difference is called clear when its paired 95% confidence interval excludes zero."]
    for a, b in sc.compare:
        bits = []
        for metric, noun, better in _METRICS:
            c = _cmp_row(cmp, metric, a, b)
            if c is None or not math.isfinite(c["diff_ci_low"]):
                continue
            sign = direction(metric)
            adv = sign * c["diff_mean"]
            word = better if adv >= 0 else {"higher": "lower", "shorter": "longer"}[better]
            verdict = "clear" if c["better"] else "not clear (the interval includes zero)"
            bits.append(
                f"{noun} {_fmt(metric, c['mean_a'], cur)} against "
                f"{_fmt(metric, c['mean_b'], cur)} on average, "
                f"{_fmt_diff(metric, abs(c['diff_mean']), cur, signed=False)} {word} "
                f"(95% CI of the difference {_fmt_ci(metric, c['diff_ci_low'], c['diff_ci_high'], cur)}; "
                f"{word} in {pct(c['share_a_better'] if adv >= 0 else 1 - c['share_a_better'])} "
                f"of seeds): {verdict}")
        if bits:
            paras.append(f'<span class="tag">Pair</span> <strong>{escape(a)}</strong> against '
                         f"<strong>{escape(b)}</strong>: " + "; ".join(bits) + ".")
    return paras
