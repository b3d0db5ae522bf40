"""Comparisons across motions and seeds: paired differences, P(target), forecast variance.

Seed *i* of every motion in a scenario saw the same random streams (common
random numbers, MODEL.md "Randomness"), so two motions are compared seed by
seed: the difference ``d_i = a_i - b_i`` removes the noise both share, and its
95% interval ``mean(d) +- t(0.975, n-1) * sd(d) / sqrt(n)`` is much narrower
than the unpaired (Welch) interval on the same numbers. Both are reported, so
a reader can see how much the pairing buys.

``paired_comparison`` is the results folder's ``comparison.csv``.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pandas as pd

from sim.metrics import t_quantile

__all__ = [
    "HIGHER_IS_BETTER",
    "LOWER_IS_BETTER",
    "NEUTRAL",
    "COMPARISON_COLUMNS",
    "informative_rows",
    "direction",
    "paired_comparison",
    "target_probability",
    "wilson_interval",
    "forecast_variance",
]

# Every metric's direction for comparisons (tests check that each one has one).
HIGHER_IS_BETTER = frozenset({
    "bookings_total", "pilot_bookings_total", "new_customers", "arr_end", "retained_revenue",
    "grr", "nrr", "ltv_to_cac", "win_rate", "reached_target", "leads_total",
    "opportunities_created", "lead_to_opportunity", "new_arr_total", "avg_new_acv",
    "expansion_arr_total", "open_pipeline_end", "signups_total", "free_to_paid",
    "self_serve_bookings", "sales_bookings", "pqls", "pql_conversion", "lead_to_win",
    "gross_margin", "gross_margin_first_year", "pilots_started", "pilot_success_rate",
    "pilot_conversion", "pilot_margin_total", "recurring_revenue", "services_margin",
    "pilot_margin", "pilots_converted",
    "recurring_gross_margin", "win_rate_to_production",
    "recovered_spend",  # spend recovered within the horizon, like reaching the target
})

LOWER_IS_BETTER = frozenset({
    "cac",
    "cac_payback_months",
    "cac_payback_before_pilot_fees",
    "cac_sales_assisted",
    "cac_self_serve",
    "cac_payback_sales_assisted",
    "cac_payback_self_serve",
    "forecast_mape",
    "forecast_wape",
    "months_to_arr_target",
    "sm_spend_total",
    "cs_spend_total",
    "monthly_burn",
    "months_to_recover_spend",
    "churned_arr_total",
    "annual_churn_rate",
    "wait_days_mean",
    "cycle_days_median",
    "cycle_days_to_production",
    "platform_fees_total",  # revenue handed to a marketplace or a cloud
    "custom_to_productised",  # custom work left per unit of product: less is more productised
    "pilots_failed", "pilots_declined", "pilots_abandoned",
    "pilot_extensions", "pilot_extension_rate",  # put-off decisions: the pilot failure mode
})

# Metrics where neither direction wins: a forecast bias is better near 0, not low or high;
# a share of the mix (self-serve against sales-assisted) is a choice, not a score; one-off
# revenue (services, pilot fees) is reported beside recurring revenue, not ranked as growth;
# pilots still running or awaiting a decision at the horizon are a state, not a score.
NEUTRAL = frozenset({"forecast_bias", "self_serve_share", "self_serve_revenue_share",
                     "one_off_revenue", "services_revenue", "pilot_fees_total",
                     "pilots_running", "pilots_awaiting_decision"})

# shares of a whole (0 to 1 in every seed): a difference of two lies between -1 and +1,
# so its t interval is cut there (near 0% or 100% a symmetric interval can pass it)
BOUNDED_SHARES = frozenset({
    "reached_target", "grr", "win_rate", "lead_to_opportunity", "lead_to_win", "free_to_paid",
    "pql_conversion", "self_serve_share", "self_serve_revenue_share", "pilot_success_rate",
    "pilot_conversion", "win_rate_to_production", "recovered_spend", "pilot_extension_rate",
})

COMPARISON_COLUMNS = [
    "motion_a", "motion_b", "metric", "direction", "n", "mean_a", "mean_b", "diff_mean",
    "diff_ci_low", "diff_ci_high", "paired_ci_half_width", "unpaired_ci_half_width",
    "ci_ratio", "share_a_better", "better", "n_compared", "never_a", "never_b",
]

_KEYS = ("motion", "seed")


def direction(metric: str) -> int:
    """+1 when higher is better, -1 when lower is better, 0 when neither."""
    if metric in NEUTRAL:
        return 0
    return -1 if metric in LOWER_IS_BETTER else 1


def _metric_columns(runs: pd.DataFrame) -> list[str]:
    return [c for c in runs.columns
            if c not in _KEYS and pd.api.types.is_numeric_dtype(runs[c])
            and not pd.api.types.is_bool_dtype(runs[c])]


def _t_half(sd: float, n: int) -> float:
    """Half-width of a 95% t interval of a mean; 0 when sd is 0, NaN below 2 values."""
    if n < 2 or not math.isfinite(sd):
        return math.nan
    if sd == 0.0:
        return 0.0
    return t_quantile(0.975, n - 1) * sd / math.sqrt(n)


def _welch_half(a: np.ndarray, b: np.ndarray) -> float:
    """Half-width of the 95% Welch interval of mean(a) - mean(b) (independent samples)."""
    na, nb = a.size, b.size
    if na < 2 or nb < 2:
        return math.nan
    va, vb = float(a.var(ddof=1)) / na, float(b.var(ddof=1)) / nb
    se2 = va + vb
    if se2 == 0.0:
        return 0.0
    df = se2**2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
    return t_quantile(0.975, max(1, int(math.floor(df)))) * math.sqrt(se2)


def paired_comparison(runs: pd.DataFrame, motions: list[str],
                      pairs: list[tuple[str, str]] | None = None) -> pd.DataFrame:
    """Paired differences between every ordered pair of motions, for every metric.

    ``pairs`` (the scenario's ``compare``) limits the comparison to those (a, b).
    For each pair (a, b) with a before b in ``motions`` and each numeric metric
    column of ``runs``, rows are matched by seed. A value can be +inf: a CAC
    payback that never happens, because the seed's gross margin is not positive
    ("never"; ``sim/metrics.py``; a payback longer than the horizon is a finite
    number of months). Means and intervals
    need numbers, so they use the seeds where both values are finite (``n``);
    who did better in a seed is known even when one side is "never" (a finite
    payback beats never, two nevers tie), so ``share_a_better`` uses every seed
    where both values exist (``n_compared``). Columns:

    - ``mean_a``, ``mean_b``: means over the ``n`` seeds where both are finite;
    - ``diff_mean``, ``diff_ci_low``, ``diff_ci_high``: mean of ``a - b`` per seed
      with its 95% t interval (``[d, d]`` when every seed differs by the same d);
    - ``paired_ci_half_width``, ``unpaired_ci_half_width``: the half-widths of
      the paired interval and of the Welch interval on the same data, and
      ``ci_ratio`` = paired / unpaired (NaN when both are 0);
    - ``share_a_better``: share of the ``n_compared`` seeds where a beats b,
      direction aware (``direction``), ties counting half; NaN for neutral metrics;
    - ``better``: ``"a"`` or ``"b"`` when the difference is clear (the metric must
      have a direction), else ``""``. When no seed has exactly one side infinite
      (none at all, or only seeds where both are "never", which are ties and move
      no comparison either way): the paired interval excludes 0. When some seed
      has one side "never", the mean over the finite seeds leaves out exactly the
      seeds that differ most, and no finite number stands in for "never", so a
      side is called better when either
      (1) a sign test over every compared seed names it (among the untied seeds,
      the share a wins has a 95% Wilson interval wholly above one half: a; below:
      b) and the finite-seed interval does not clearly name the other side; or
      (2) the finite-seed interval names it and every seed with one side "never"
      is a seed where the *other* side is never: it is clearly better where both
      are finite and better in every other seed, so it is better overall.
      (2) keeps the verdict monotone: seeds where only b never pays back cannot
      turn a's clear lead on the finite seeds into "no clear difference" (a sign
      test alone can, when a wins by much in few seeds and loses by little in
      many). (1) and (2) cannot name different sides: each agrees with the
      finite-seed interval whenever that names one;
    - ``n_compared``: seeds where both values exist (finite or +inf);
    - ``never_a``, ``never_b``: share of those seeds where a's (b's) value is
      infinite ("never").
    """
    metrics = _metric_columns(runs)
    by_motion = {m: g.drop_duplicates("seed").set_index("seed")
                 for m, g in runs.groupby("motion", sort=False)}
    rows: list[dict[str, object]] = []
    if not pairs:
        pairs = [(ma, mb) for i, ma in enumerate(motions) for mb in motions[i + 1:]]
    for ma, mb in pairs:
        ga, gb = by_motion.get(ma), by_motion.get(mb)
        if ga is None or gb is None:
            continue
        seeds = ga.index.intersection(gb.index)
        for metric in metrics:
            a = ga.loc[seeds, metric].to_numpy(dtype=float)
            b = gb.loc[seeds, metric].to_numpy(dtype=float)
            ok = ~np.isnan(a) & ~np.isnan(b)
            rows.append(_pair_row(ma, mb, metric, a[ok], b[ok]))
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def informative_rows(cmp: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``paired_comparison`` that say something: a metric neither motion of
    the pair can have (no seed with both values) or that is exactly zero in every seed
    of both (pilot bookings of two motions without pilots) is left out."""
    if cmp.empty:
        return cmp
    none = cmp["n_compared"].fillna(0) == 0
    zero = ((cmp["mean_a"] == 0) & (cmp["mean_b"] == 0) & (cmp["diff_ci_low"] == 0)
            & (cmp["diff_ci_high"] == 0) & (cmp["never_a"].fillna(0) == 0)
            & (cmp["never_b"].fillna(0) == 0))
    return cmp[~(none | zero)].reset_index(drop=True)


def _pair_row(ma: str, mb: str, metric: str, a_all: np.ndarray,
              b_all: np.ndarray) -> dict[str, object]:
    """One row of ``paired_comparison``: ``a_all``, ``b_all`` are the two motions'
    values in the seeds where both exist (finite or +inf)."""
    sign = direction(metric)
    finite = np.isfinite(a_all) & np.isfinite(b_all)
    a, b = a_all[finite], b_all[finite]
    n = int(a.size)
    n_all = int(a_all.size)
    row: dict[str, object] = {
        "motion_a": ma, "motion_b": mb, "metric": metric,
        "direction": {1: "higher", -1: "lower", 0: ""}[sign], "n": n,
        "mean_a": math.nan, "mean_b": math.nan, "diff_mean": math.nan,
        "diff_ci_low": math.nan, "diff_ci_high": math.nan,
        "paired_ci_half_width": math.nan, "unpaired_ci_half_width": math.nan,
        "ci_ratio": math.nan, "share_a_better": math.nan, "better": "",
        "n_compared": n_all,
        "never_a": float(np.isinf(a_all).mean()) if n_all else math.nan,
        "never_b": float(np.isinf(b_all).mean()) if n_all else math.nan,
    }
    if sign != 0 and n_all:
        # who wins each seed, by comparison (inf - inf has no sign; inf == inf is a tie)
        wins = (a_all > b_all) if sign > 0 else (a_all < b_all)
        ties = a_all == b_all
        row["share_a_better"] = float((wins + 0.5 * ties).mean())
    if n == 0:
        if sign != 0 and n_all:
            row["better"] = _never_verdict(a_all, b_all, wins, ties, "", sign)
        return row
    d = a - b
    mean_d = float(d.mean())
    sd_d = float(d.std(ddof=1)) if n > 1 else math.nan
    half = _t_half(sd_d, n)
    unpaired = _welch_half(a, b)
    low, high = mean_d - half, mean_d + half
    if metric in BOUNDED_SHARES:
        low, high = max(low, -1.0), min(high, 1.0)
    row.update({
        "mean_a": float(a.mean()), "mean_b": float(b.mean()), "diff_mean": mean_d,
        "diff_ci_low": low, "diff_ci_high": high,
        "paired_ci_half_width": half, "unpaired_ci_half_width": unpaired,
    })
    if math.isfinite(half) and math.isfinite(unpaired) and unpaired > 0:
        row["ci_ratio"] = half / unpaired
    if sign != 0:
        by_ci = ""
        if math.isfinite(half) and (low > 0 or high < 0):
            by_ci = "a" if sign * mean_d > 0 else "b"
        row["better"] = _never_verdict(a_all, b_all, wins, ties, by_ci, sign)
    return row


def _never_verdict(a_all: np.ndarray, b_all: np.ndarray, wins: np.ndarray,
                   ties: np.ndarray, by_ci: str, sign: int) -> str:
    """``better`` from the finite-seed verdict ``by_ci`` and every compared seed
    (the rule in ``paired_comparison``'s docstring)."""
    inf_a, inf_b = np.isinf(a_all), np.isinf(b_all)
    one_sided = inf_a != inf_b
    if not one_sided.any():
        return by_ci  # no seed where exactly one side is "never": the interval decides
    # (1) a sign test over the untied seeds, not contradicted by the finite seeds
    untied = int(np.count_nonzero(~ties))
    by_sign = ""
    if untied:
        low, high = wilson_interval(float(np.count_nonzero(wins)), untied)
        by_sign = "a" if low > 0.5 else "b" if high < 0.5 else ""
        if by_ci and by_sign != by_ci:
            by_sign = ""
    # (2) clear on the finite seeds, and every one-sided seed won by the same side
    # (+inf is the worst value when lower is better, the best when higher is better)
    a_wins_one_sided = (inf_b if sign < 0 else inf_a)[one_sided]
    by_dominance = ""
    if by_ci == "a" and a_wins_one_sided.all():
        by_dominance = "a"
    elif by_ci == "b" and not a_wins_one_sided.any():
        by_dominance = "b"
    return by_sign or by_dominance  # never opposite: each agrees with by_ci when it is set


def wilson_interval(successes: float, n: float, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (NaN, NaN when n is 0)."""
    if n <= 0:
        return math.nan, math.nan
    z = NormalDist().inv_cdf(0.5 + level / 2)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if successes <= 0 else max(0.0, centre - half)
    high = 1.0 if successes >= n else min(1.0, centre + half)
    return low, high


TARGET_COLUMNS = [
    "motion", "n", "reached", "p_target", "p_ci_low", "p_ci_high",
    "months_p10", "months_p50", "months_p90", "share_never",
]


def target_probability(runs: pd.DataFrame, target_arr: float | None) -> pd.DataFrame:
    """Per motion: P(arr_end >= target) with a 95% Wilson interval, and when it is reached.

    ``months_p10/p50/p90`` are percentiles of ``months_to_arr_target`` among the
    seeds that reached the target at some month; ``share_never`` is the share
    of seeds that never did within the horizon. Empty when there is no target.
    """
    if target_arr is None or runs.empty or "arr_end" not in runs:
        return pd.DataFrame(columns=TARGET_COLUMNS)
    rows = []
    for motion, g in runs.groupby("motion", sort=False):
        arr = g["arr_end"].to_numpy(dtype=float)
        arr = arr[np.isfinite(arr)]
        n = int(arr.size)
        k = int((arr >= target_arr).sum())
        low, high = wilson_interval(k, n)
        months = (g["months_to_arr_target"].to_numpy(dtype=float)
                  if "months_to_arr_target" in g else np.full(len(g), np.nan))
        hit = months[np.isfinite(months)]
        p10, p50, p90 = (np.percentile(hit, [10, 50, 90]) if hit.size
                         else (math.nan, math.nan, math.nan))
        rows.append({
            "motion": motion, "n": n, "reached": k, "p_target": k / n if n else math.nan,
            "p_ci_low": low, "p_ci_high": high, "months_p10": float(p10),
            "months_p50": float(p50), "months_p90": float(p90),
            "share_never": 1.0 - hit.size / len(g) if len(g) else math.nan,
        })
    return pd.DataFrame(rows, columns=TARGET_COLUMNS)


VARIANCE_COLUMNS = [
    "motion", "quarters", "quarterly_bookings_mean", "bookings_cv", "forecast_wape",
    "forecast_bias", "forecast_mape",
]


def forecast_variance(runs: pd.DataFrame, forecast: pd.DataFrame) -> pd.DataFrame:
    """Per motion: how variable quarterly bookings are across seeds, next to forecast error.

    ``bookings_cv`` is, for each quarter, the sd / mean of ``actual`` bookings
    across seeds, averaged over the quarters whose mean is above 0 (``quarters``
    of them); ``quarterly_bookings_mean`` is the mean over those quarters.
    ``forecast_wape``, ``forecast_bias`` and ``forecast_mape`` are the means over seeds
    from ``runs``.
    """
    motions = list(dict.fromkeys(list(runs["motion"]) + list(forecast.get("motion", []))))
    rows = []
    for motion in motions:
        row: dict[str, object] = {"motion": motion, "quarters": 0,
                                  "quarterly_bookings_mean": math.nan,
                                  "bookings_cv": math.nan}
        f = forecast[forecast["motion"] == motion] if not forecast.empty else forecast
        if not f.empty:
            q = f.groupby("quarter")["actual"].agg(["mean", "std", "count"])
            q = q[(q["mean"] > 0) & (q["count"] > 1)]
            if not q.empty:
                row["quarters"] = int(len(q))
                row["quarterly_bookings_mean"] = float(q["mean"].mean())
                row["bookings_cv"] = float((q["std"] / q["mean"]).mean())
        r = runs[runs["motion"] == motion]
        for col in ("forecast_wape", "forecast_bias", "forecast_mape"):
            x = r[col].to_numpy(dtype=float) if col in r else np.array([])
            x = x[np.isfinite(x)]
            row[col] = float(x.mean()) if x.size else math.nan
        rows.append(row)
    return pd.DataFrame(rows, columns=VARIANCE_COLUMNS)
