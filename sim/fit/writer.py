"""The fitted scenario as commented YAML (ruamel), and ``retention.csv``.

Every fitted number carries a comment with the counts behind it and its 90%
interval; what the export cannot identify is said to be a template default.
Parameter uncertainty becomes per-seed distributions (``Param`` fields): an
advance probability or a churn rate a beta with the replicates' mean and
variance, the lead rate a lognormal, the growth a symmetric triangular with the
replicates' standard deviation. Stage durations and deal size are drawn per deal
(``Draw`` fields); what the data does not pin down about them (the typical
stay, the typical deal) is a per-seed ``level`` on the per-deal distribution: a
lognormal factor of mean 1 whose standard deviation is the replicates' standard
deviation of the mean relative to the fitted mean (``level_dist``), so a seed's
deals are ``L x`` the fitted distribution. Without stage history the stages
share the won cycle, so their levels are one factor (rank correlation 1).
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from sim.fit.churn import sbg_survival
from sim.fit.motion_fit import MotionFit

__all__ = ["FittedScenario", "retention_table", "scenario_data", "scenario_yaml"]

MONTH_DAYS = 365 / 12


def _r(x: float, digits: int = 4) -> float:
    if not math.isfinite(x) or x == 0:
        return float(x)
    return float(f"{x:.{digits}g}")


def _ci(f: MotionFit, name: str, fmt: str = "{:.3g}") -> str:
    lo, hi = f.uncertainty.interval(name)
    if not math.isfinite(lo):
        return ""
    return f" (90% interval {fmt.format(lo)}-{fmt.format(hi)})"


def prob_dist(point: float, reps: np.ndarray | None) -> Any:
    """A probability with its uncertainty: beta with the replicates' variance about ``point``."""
    if reps is None or reps.size < 2:
        return _r(point)
    v = float(np.nanvar(reps, ddof=1))
    m = min(max(point, 1e-6), 1 - 1e-6)
    if not math.isfinite(v) or v <= 0 or v >= m * (1 - m):
        return _r(point)
    k = m * (1 - m) / v - 1
    return CommentedMap({"dist": "beta", "a": _r(m * k), "b": _r((1 - m) * k)})


def rate_dist(point: float, reps: np.ndarray | None) -> Any:
    if reps is None or reps.size < 2 or point <= 0:
        return _r(point)
    sd = float(np.nanstd(reps, ddof=1))
    return CommentedMap({"dist": "lognormal", "mean": _r(point), "sd": _r(sd)}) if sd > 0 \
        else _r(point)


def level_dist(point: float, reps: np.ndarray | None) -> CommentedMap | None:
    """The per-seed level of a per-deal distribution whose mean is ``point``: a lognormal
    factor of mean 1 and the replicates' standard deviation of the mean relative to ``point``
    (None without replicates that vary)."""
    if reps is None or reps.size < 2 or not point > 0:
        return None
    sd = float(np.nanstd(reps, ddof=1)) / point
    if not (math.isfinite(sd) and sd > 0):
        return None
    return CommentedMap({"dist": "lognormal", "mean": 1.0, "sd": _r(sd)})


def _leveled(mean: float, sd: float, level: CommentedMap | None) -> CommentedMap:
    out = CommentedMap({"dist": "lognormal", "mean": _r(mean), "sd": _r(sd)})
    if level is not None:
        out["level"] = level
    return out


def _level_note(level: CommentedMap | None) -> str:
    if level is None:
        return "no replicates: the level is fixed"
    return (f"the level (lognormal, mean 1, sd {level['sd']:.3g}: the replicates' sd of the "
            "mean over the mean) is drawn per seed")


def signed_dist(point: float, reps: np.ndarray | None) -> Any:
    if reps is None or reps.size < 2:
        return _r(point)
    h = math.sqrt(6) * float(np.nanstd(reps, ddof=1))
    if not h > 0:
        return _r(point)
    return CommentedMap({"dist": "triangular", "low": _r(point - h), "mode": _r(point),
                         "high": _r(point + h)})


@dataclass
class FittedScenario:
    """The scenario's mapping (with comments) and its ``initial:`` section as YAML lines."""

    root: CommentedMap
    initial: list[str]


def scenario_data(f: MotionFit, name: str, horizon_months: int, template: str,
                  seeds: int = 1000) -> FittedScenario:
    """The scenario that ``revsim run`` accepts."""
    reps = f.uncertainty.replicates
    motion = CommentedMap()
    motion["template"] = template
    motion["name"] = "fitted"
    a = f.arrivals
    inbound = CommentedMap()
    inbound["leads_per_month"] = rate_dist(a.leads_per_month, reps.get("leads_per_month"))
    inbound.yaml_add_eol_comment(
        f"deals created per month at the as-of date: {a.leads_per_month:.1f}"
        f"{_ci(f, 'leads_per_month', '{:.1f}')}; {a.total:,} deals over {a.months} whole months "
        f"{a.first_month} to {a.last_month}, {a.family}", "leads_per_month")
    inbound["growth_per_month"] = signed_dist(a.growth_per_month, reps.get("growth_per_month"))
    inbound.yaml_add_eol_comment(f"trend: {a.growth_per_month:+.2%} a month"
                                 f"{_ci(f, 'growth_per_month', '{:+.2%}')}", "growth_per_month")
    inbound["fit_rate"] = 1.0
    inbound.yaml_add_eol_comment("deals in the export are opportunities already", "fit_rate")
    if a.seasonality is not None:
        inbound["seasonality"] = CommentedSeq([_r(x, 3) for x in a.seasonality])
        inbound.yaml_add_eol_comment(
            f"month of year from {f.as_of_date.strftime('%B')} on (two or more years of "
            "history; kept by a likelihood-ratio test)", "seasonality")
    motion["sources"] = CommentedMap({"inbound": inbound, "outbound": None})
    if a.by_source:
        mix = ", ".join(f"{k} {v:,}" for k, v in sorted(a.by_source.items(), key=lambda kv: -kv[1]))
        motion["sources"].yaml_add_eol_comment(f"one flow of deals; by source: {mix}", "inbound")
    motion["stages"] = _stages(f)
    motion["handoff"] = CommentedMap({"criteria_win_factor": 1.0})
    motion["handoff"].yaml_add_eol_comment("the fitted advance probabilities already say it",
                                           "criteria_win_factor")
    deal = CommentedMap()
    if f.acv is not None:
        level = level_dist(f.acv.mean, reps.get("acv_mean"))
        deal["acv"] = _leveled(f.acv.mean, f.acv.sd, level)
        deal.yaml_add_eol_comment(
            f"lognormal of {f.acv.n:,} won amounts (median {f.acv.median:,.0f}; "
            f"{f.counts.get('won_no_amount', 0):,} won without an amount): mean "
            f"{f.acv.mean:,.0f}{_ci(f, 'acv_mean', '{:,.0f}')}, sd {f.acv.sd:,.0f}, drawn per "
            f"deal; {_level_note(level)}", "acv")
    motion["deal"] = deal
    if f.churn is not None:
        ch = f.churn
        ret = CommentedMap()
        ret["early_churn"] = prob_dist(ch.early_churn, reps.get("early_churn"))
        ret.yaml_add_eol_comment(f"left in the first 90 days: {ch.early_churn:.3f}"
                                 f"{_ci(f, 'early_churn')}", "early_churn")
        ret["early_window_days"] = 90
        r = reps.get("renewal_churn")
        monthly_reps = None if r is None else 1 - (1 - np.clip(r, 0, 1)) ** (1 / 12)
        if math.isfinite(ch.renewal_churn):
            ret["monthly_churn"] = prob_dist(ch.monthly_churn, monthly_reps)
            ret.yaml_add_eol_comment(
                f"{ch.renewal_churn:.3f} of customers churn at a renewal"
                f"{_ci(f, 'renewal_churn')}; {ch.n_churned:,} of {ch.n_customers:,} customers "
                f"churned; shifted-beta-geometric a={ch.a:.3g}, b={ch.b:.3g} (see retention.csv)",
                "monthly_churn")
        else:
            ret.yaml_add_eol_comment(f"no customer has reached a renewal: monthly_churn is "
                                     f"template '{template}''s", "early_window_days")
        if ch.expansion is not None and ch.contraction is not None:
            ret["expansion_rate_annual"] = _r(ch.expansion)
            ret["contraction_rate_annual"] = _r(min(ch.contraction, 1.0))
            ret.yaml_add_eol_comment("from ARR changes between consecutive subscriptions",
                                     "expansion_rate_annual")
        ret["bad_fit_multiplier"] = 1.0
        motion["retention"] = ret
    root = CommentedMap()
    root["name"] = name
    root["description"] = (f"Fitted to {Path(f.export.source_file).name} as of "
                           f"{f.as_of_date.date()} by revsim fit.")
    root["horizon_months"] = horizon_months
    root["seeds"] = seeds
    root["seed"] = 0
    root["motions"] = CommentedSeq([motion])
    tied = _tied_levels(f, motion)
    if tied:
        root["correlations"] = tied
        root.yaml_add_eol_comment("no stage history: the stages' duration levels are one factor "
                                  "(the won cycle's)", "correlations")
    root.yaml_set_start_comment(_header(f, template))
    return FittedScenario(root, _initial(f))


def _stages(f: MotionFit) -> CommentedSeq:
    reps = f.uncertainty.replicates
    seq = CommentedSeq()
    if f.stages is not None:
        for name, s in zip(f.stage_names, f.stages, strict=True):
            m, sd = s.duration_mean_sd
            level = level_dist(m, reps.get(f"{name}.duration_mean"))
            st = CommentedMap()
            st["name"] = name
            st["duration"] = _leveled(m, sd, level)
            timed = s.n_advanced - s.n_skipped
            st.yaml_add_eol_comment(
                f"days to advance: mean {m:.1f}{_ci(f, f'{name}.duration_mean', '{:.1f}')}, sd "
                f"{sd:.1f}, from {timed:,} timed advances, {s.n_lost:,} lost and {s.n_open:,} "
                f"still open (competing risks); {_level_note(level)}; "
                + (f"lost deals left after {s.lost_mean_sd[0]:.1f} days on average"
                   if not s.common else "one duration for both outcomes"), "duration")
            st["advance"] = prob_dist(s.p, reps.get(f"{name}.advance"))
            st.yaml_add_eol_comment(
                f"{s.p:.3f}{_ci(f, f'{name}.advance')}: {s.n_advanced:,} advanced "
                f"({s.n_skipped:,} skipped it), {s.n_lost:,} lost, {s.n_open:,} still open; "
                f"competing risks, {s.n_truncated:,} left-truncated", "advance")
            seq.append(st)
        return seq
    cyc = f.cycle
    assert cyc is not None
    K = len(f.stage_names)
    p_each = cyc.p ** (1 / K)
    won_mean, won_sd = cyc.duration_mean_sd
    level = level_dist(won_mean, reps.get("cycle.won_days_mean"))
    for name in f.stage_names:
        st = CommentedMap()
        st["name"] = name
        st["duration"] = _leveled(won_mean / K, won_sd / math.sqrt(K), level)
        st.yaml_add_eol_comment(
            f"no stage history: the won cycle (mean {won_mean:.1f} days"
            f"{_ci(f, 'cycle.won_days_mean', '{:.1f}')}, {cyc.n_advanced:,} won, {cyc.n_lost:,} "
            f"lost, {cyc.n_open:,} open) split evenly over the stages; {_level_note(level)}"
            + (", one factor for every stage" if level is not None and K > 1 else ""),
            "duration")
        st["advance"] = _r(p_each)
        st.yaml_add_eol_comment(f"no stage history: the win probability {cyc.p:.3f}"
                                f"{_ci(f, 'cycle.win')} split evenly", "advance")
        seq.append(st)
    return seq


def _tied_levels(f: MotionFit, motion: CommentedMap) -> CommentedSeq | None:
    """Without history every stage's duration is a share of one won cycle: their levels
    are correlated with rank 1 (one factor), pair by pair."""
    if f.stages is not None:
        return None
    keys = [f"stages.{st['name']}.duration.level" for st in motion["stages"]
            if "level" in st["duration"]]
    if len(keys) < 2:
        return None
    return CommentedSeq([CommentedMap({"motion": motion["name"],
                                       "between": CommentedSeq([a, b]), "rank": 1.0})
                         for i, a in enumerate(keys) for b in keys[i + 1:]])


def _initial(f: MotionFit) -> list[str]:
    """The ``initial:`` section as YAML lines (one flow mapping per deal or customer).

    Written as text rather than through ruamel's emitter: an export has thousands
    of open deals and customers, which the round-trip emitter takes minutes over.
    Stage names are JSON strings (valid YAML, any character escaped).
    """
    lines: list[str] = []
    d = f.export.deals
    amounts = d["amount"].to_numpy(float)
    if f.open_deals:
        lines.append(f"  pipeline:  # {len(f.open_deals):,} deals open on {f.as_of_date.date()} "
                     "with the days already spent in their stage (they finish with the residual "
                     "of the stage's duration)")
        K = len(f.stage_names)
        names = [json.dumps(n, ensure_ascii=False) for n in f.stage_names]
        for o in f.open_deals:
            days = o.days_in_stage
            if not math.isfinite(days):
                # no history: the deal's age less the expected time of the stages before it
                before = 0.0
                if f.cycle is not None:
                    before = o.stage * f.cycle.duration_mean_sd[0] / K
                days = max(o.age_days - before, 0.0)
            item = f"stage: {names[o.stage]}, days_in_stage: {_r(days, 5)!r}"
            amount = float(amounts[o.deal])
            if math.isfinite(amount) and amount > 0:
                item += f", acv: {_r(amount, 6)!r}"
            lines.append(f"    - {{{item}}}")
    t = f.tenures
    if t is not None and t.live_arr.size:
        live = [(float(a), float(age)) for a, age in zip(t.live_arr, t.live_age_days, strict=True)
                if a > 0]
        if live:
            lines.append(f"  customers:  # {len(live):,} customers live on {f.as_of_date.date()}, "
                         f"ARR {float(t.live_arr.sum()):,.0f}")
            lines.append("    accounts:")
            lines.extend(f"      - {{arr: {_r(a, 6)!r}, months_ago: {_r(age / MONTH_DAYS, 4)!r}}}"
                         for a, age in live)
    return ["initial:", *lines] if lines else []


def _header(f: MotionFit, template: str) -> str:
    c = f.counts
    lines = [
        f"Fitted by `revsim fit` to {Path(f.export.source_file).name} as of {f.as_of_date.date()}.",
        f"Deals: {c['deals']:,} used ({c['won']:,} won, {c['lost']:,} lost, {c['open']:,} open, "
        f"{c['stale']:,} stale).",
    ]
    if f.unusable:
        lines.append("Rows not used: " + ", ".join(f"{n:,} {why}" for why, n in
                                                    sorted(f.unusable.items())) + ".")
    lines += [
        "Stale: open more than twice the longest created-to-close cycle of any closed deal "
        f"({f.episodes.stale_days if f.episodes else math.nan:.0f} days), or in its stage more "
        "than twice the longest completed stay there; counted lost in that stage at an unknown "
        "time, left out of the open pipeline.",
        f"Window: the export's first close; {c['left_truncated']:,} deals created before it are "
        "left-truncated (their stays before it are left out, the stay across it conditioned).",
        f"Uncertainty: {f.uncertainty.method}; probabilities and rates below are drawn per seed, "
        "and so are the levels of stage durations and deal size (the typical stay and deal).",
        f"Win probability: {f.win_rate:.3f}{_ci(f, 'win_rate')} (won/(won+lost) would say "
        f"{f.naive.get('win_rate', math.nan):.3f}, ignoring the {c['open']:,} open deals).",
    ]
    if f.stages is None:
        lines.append("No stage history (--history): per-stage advance and duration are not "
                     "identifiable; the win probability and won cycle are split evenly.")
    if f.churn is None:
        lines.append(f"No subscriptions (--subscriptions): retention is template '{template}''s.")
    elif f.churn.expansion is None:
        lines.append("No customer has consecutive subscriptions: expansion and contraction are "
                     f"template '{template}''s.")
    if f.owners:
        lines.append("Win probability by owner: " + ", ".join(
            f"{o} {p:.2f} ({n})" for o, (p, n) in sorted(f.owners.items())) + ".")
    lines.append(f"Template defaults (not in a CRM export): team, ramp, costs, queue, forecast "
                 f"of '{template}'; the fitted stages have no owner (observed durations include "
                 "any wait for a rep).")
    return "\n".join(lines)


def scenario_yaml(data: FittedScenario) -> str:
    y = YAML()
    y.width = 4096
    y.indent(mapping=2, sequence=4, offset=2)
    buf = io.StringIO()
    y.dump(data.root, buf)
    text = buf.getvalue()
    return text + ("\n".join(data.initial) + "\n" if data.initial else "")


def retention_table(f: MotionFit) -> pd.DataFrame | None:
    """``tenure_years, survival, survival_low, survival_high, observed``: fitted vs observed."""
    if f.churn is None or f.tenures is None:
        return None
    from lifelines import KaplanMeierFitter

    t = f.tenures
    longest = max(int(math.ceil(f.churn.max_tenure_years)), 1)
    years = np.arange(0, max(2 * longest, 3) + 1, dtype=float)
    surv = sbg_survival(f.churn.a, f.churn.b, years)
    a_r, b_r = f.uncertainty.replicates.get("sbg_a"), f.uncertainty.replicates.get("sbg_b")
    if a_r is not None and b_r is not None:
        curves = np.array([sbg_survival(a, b, years) for a, b in zip(a_r, b_r, strict=True)])
        low, high = np.nanquantile(curves, 0.05, axis=0), np.nanquantile(curves, 0.95, axis=0)
    else:
        low = high = np.full(years.size, np.nan)
    km = KaplanMeierFitter().fit(t.years, t.churned.astype(int))
    observed = np.full(years.size, np.nan)
    seen = years <= t.years.max()
    observed[seen] = km.survival_function_at_times(years[seen] + 1e-6).to_numpy()
    return pd.DataFrame({"tenure_years": years.astype(int), "survival": surv,
                         "survival_low": low, "survival_high": high, "observed": observed})
