"""The model logic of each motion as a flow, for the report's "What was assumed".

The sales path (sources and their rates, the stages a deal can enter, what a
customer pays), the product path (sign-ups, activation, upgrade, seats x price),
the phases, and each paid role's cost with the share counted as S&M. Numbers are
means of the inputs (a distribution's analytic mean).
"""

from __future__ import annotations

import math
from typing import Any

from sim.report.style import money
from sim.report.wording import num, pct
from sim.scenario.schema import SELLING_ROLES

__all__ = ["flow", "team_cost_lines"]

_SOURCE_RATE = {
    "inbound": ("leads_per_month", "leads / month"),
    "outbound": ("meetings_per_sdr_month", "meetings / SDR / month"),
    "founder_network": ("intros_per_month", "intros / month"),
    "partners": ("referrals_per_partner_month", "referrals / partner / month"),
    "signups": ("signups_per_month", "signups / month"),
    "marketplace": ("installs_per_month", "installs / month"),
    "open_source": ("users_start", "open-source users at month 0"),
    "community": ("audience_per_month", "followers gained / month"),
    "hyperscaler": ("intros_per_month", "co-sell intros / month once certified"),
}


def _dist_mean(v: Any) -> float:
    if isinstance(v, int | float):
        return float(v)
    m = getattr(v, "mean", None)
    return float(m) if isinstance(m, int | float) else math.nan


# sources whose leads enter the sales stages; sign-ups reach them only as PQLs
_SALES_SOURCES = tuple(n for n in _SOURCE_RATE if n != "signups")


def _sales_entry(motion: Any, open_deals: bool) -> int | None:
    """Index of the first sales stage a deal of ``motion`` can enter, or None.

    A source other than sign-ups (or an open deal carried in) enters at the first stage,
    outbound meetings at ``sources.outbound.entry_stage`` when it is set; sign-ups reach
    sales only as PQLs, at ``pql.entry_stage`` (default: the stage after qualification).
    A phase that adds a source counts: the path is used from then on.
    """
    entry: int | None = 0 if open_deals else None
    for m in (motion, *motion.phase_motions):
        names = [st.name for st in m.stages]
        for n in _SALES_SOURCES:
            src = getattr(m.sources, n, None)
            if src is not None:
                e = getattr(src, "entry_stage", None)
                idx = names.index(e) if e is not None else 0
                entry = idx if entry is None else min(entry, idx)
        if m.pql is not None and m.sources.signups is not None:
            idx = _pql_entry(m)
            entry = idx if entry is None else min(entry, idx)
    return entry


def _pql_entry(motion: Any) -> int:
    """Index of the stage a PQL enters: ``pql.entry_stage``, or the one after qualification."""
    names = [st.name for st in motion.stages]
    e = motion.pql.entry_stage
    return names.index(e) if e is not None else min(motion.qualification_index + 1,
                                                     len(names) - 1)


def _product_path(motion: Any, cur: str) -> dict[str, Any] | None:
    """The self-serve path of a motion with sign-ups: activation, upgrade, what it pays."""
    su = motion.sources.signups
    if su is None:
        return None
    d = _dist_mean
    cv, ss = motion.conversion, motion.self_serve
    if cv.model == "trial":
        odds = cv.opt_in if cv.trial == "opt_in" else cv.opt_out
        upgrade = [f"trial of {cv.trial_days:g} d, {cv.trial.replace('_', '-')}",
                   f"{pct(d(odds))} of activated accounts pay"]
    else:
        upgrade = ["freemium",
                   f"{pct(d(cv.freemium_monthly), 1)} / month upgrade",
                   f"{pct(d(cv.dormancy_monthly), 1)} / month go dormant"]
    seats, price = d(ss.seats), float(ss.price_per_seat_month)
    customer = [f"{num(round(seats, 1))} seats mean x {money(price, cur)} / seat / month "
                f"x 12 = {money(seats * price * 12, cur)} a year",
                "monthly billing",
                f"churn {pct(d(ss.monthly_churn), 1)} / month",
                f"seat growth {pct(d(ss.expansion_rate_annual))} / year"]
    pql = entry = None
    if motion.pql is not None:
        q = motion.pql
        acv = q.acv if q.acv is not None else motion.deal.acv
        entry = motion.stages[_pql_entry(motion)].name
        pql = (f"at {num(q.threshold)} seats active, after {q.min_days_active:g} d, to sales "
               f"at {entry}; {pct(d(q.conversion))} convert at ACV {money(d(acv), cur)} mean")
    rate = d(su.signups_per_month)
    return {
        "entry": entry,
        "signups": f"{num(round(rate, 2))} signups / month" if math.isfinite(rate) else "",
        "activation": pct(d(su.activation_rate)),
        "upgrade": upgrade, "customer": customer, "pql": pql,
    }


def flow(motion: Any, cur: str, open_deals: bool = False,
         staffed: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The paths a motion uses, each with what its customer pays.

    The sales path (sources, stages from the first one a deal can enter, the deal's
    price) is shown only when something feeds it: a source other than sign-ups, PQLs,
    or ``open_deals`` carried in. The product path (sign-ups, activation, upgrade, seats
    x price per seat) is shown when the motion has sign-ups. ``staffed``: roles of the
    reps the company starts with (see ``team_cost_lines``).
    """
    entry = _sales_entry(motion, open_deals)
    sources = []
    for name in _SALES_SOURCES if entry is not None else ():
        src = getattr(motion.sources, name, None)
        if src is None:
            continue
        field, unit = _SOURCE_RATE.get(name, (None, ""))
        rate = getattr(src, field, None) if field else None
        mean = _dist_mean(rate) if rate is not None else math.nan
        sources.append({"name": name.replace("_", " "),
                        "rate": f"{num(round(mean, 2))} {unit}" if math.isfinite(mean) else ""})
    stages = []
    for st in motion.stages[entry:] if entry is not None else ():
        dur = _dist_mean(st.duration)
        adv = _dist_mean(st.advance)
        kind = getattr(st.duration, "dist", None) if not isinstance(st.duration, int | float) \
            else "fixed"
        stages.append({
            "name": st.name, "owner": st.owner or "no owner",
            "duration": f"{dur:.0f} d mean" + (f", {kind}" if kind and kind != "fixed" else ""),
            "advance": pct(adv) + (" (uncertain)" if not isinstance(st.advance, int | float)
                                    else ""),
        })
    ret = motion.retention
    churn = _dist_mean(ret.monthly_churn)
    pays = _pilot_lines(motion, cur)
    q = motion.pql
    if q is not None and q.acv is not None and entry is not None:
        pql_pays = f"PQL deals: ACV {money(_dist_mean(q.acv), cur)} mean"
        # only PQLs reach sales: the deal ACV is never paid
        pays = [pql_pays] if not sources and not open_deals else [*pays, pql_pays]
    customer = [*pays, f"{motion.deal.contract} contract",
                f"churn {pct(churn, 1)} / month",
                f"expansion {pct(_dist_mean(ret.expansion_rate_annual))} / year",
                f"contraction {pct(_dist_mean(ret.contraction_rate_annual))} / year"]
    return {
        "sales": entry is not None,
        "sources": sources, "stages": stages,
        "customer": customer if entry is not None else [],
        "product": _product_path(motion, cur),
        "phases": [_phase_line(ph) for ph in motion.phases],
        "team": team_cost_lines(motion, cur, staffed),
    }


def team_cost_lines(motion: Any, cur: str, staffed: frozenset[str] = frozenset()) -> list[str]:
    """Each paid role's cost and the share of it counted as S&M (``selling_share``).

    CAC and payback divide S&M spend, so the share of a founder's (or any selling
    role's) cost counted as selling is an assumption the reader must see. A role nobody
    ever fills (none at start, no hire in any phase, not among ``staffed``, the roles
    of the reps the company starts with) costs nothing and is left out.
    """
    lines = []
    for role, r in motion.team.roles().items():
        cost = _dist_mean(r.cost_per_year)
        if not cost > 0 or not (role in staffed or _ever_staffed(motion, role)):
            continue
        each = f"{role}: {money(cost, cur)} a year each"
        if role in SELLING_ROLES:
            lines.append(f"{each}, {pct(_dist_mean(r.selling_share))} counted as S&M "
                         f"(team.{role}.selling_share)")
        elif role == "csm":
            lines.append(f"{each}, customer success cost (not S&M)")
        else:
            lines.append(f"{each}, not S&M")
    return lines


def _ever_staffed(motion: Any, role: str) -> bool:
    """Whether ``motion`` (or one of its phases) has someone in ``role`` at start or hires."""
    for m in (motion, *motion.phase_motions):
        r = m.team.roles().get(role)
        if r is not None and (r.start > 0 or any(n > 0 for n in r.hires.values())):
            return True
    return False


def _pilot_lines(motion: Any, cur: str) -> list[str]:
    """How a customer pays, after its pilot when the motion sells one first."""
    pl = motion.pilot
    if pl is None:
        return [_pays(motion.deal, cur)]
    d = _dist_mean
    fee, mult = d(pl.fee), d(pl.production_multiplier)
    lines = [f"pilot {money(fee, cur)} fee mean, {d(pl.duration_days):.0f} d, "
             f"{pct(d(pl.success_rate))} succeed",
             f"production contract {mult:.1f}x the fee ({money(fee * mult, cur)} mean)"]
    if motion.deal.pricing != "subscription":
        lines.append(_pays(motion.deal, cur))
    return lines


def _pays(deal: Any, cur: str) -> str:
    """How a customer pays, in a few words (MODEL.md "How customers pay")."""
    d = _dist_mean
    if deal.pricing == "usage":
        u = deal.usage
        return (f"usage: {num(round(d(u.units_start)))} units / month at "
                f"{money(d(u.unit_price), cur)}, +{pct(d(u.growth_monthly), 1)} / month")
    if deal.pricing == "outcome":
        o = deal.outcome
        return (f"per outcome: {money(d(o.price_per_outcome), cur)} per resolved, "
                f"{pct(d(o.resolution_start))} to {pct(d(o.resolution_target))} resolved, "
                f"compute {money(d(o.compute_cost_per_outcome), cur)} per attempt")
    if deal.pricing == "value_share":
        v = deal.value_share
        return (f"value share {pct(d(v.share))} of gain, {money(d(v.floor), cur)} to "
                f"{money(d(v.ceiling), cur)} a year")
    if deal.pricing == "services":
        s = deal.services
        return (f"engagements of {money(d(s.fee), cur)} over {d(s.duration_months):.0f} months, "
                f"{s.max_concurrent} at once")
    return f"ACV {money(d(deal.acv), cur)} mean"


def _phase_line(ph: Any) -> str:
    kind, at = ph.trigger()
    when = {"start_month": f"from month {at:g}",
            "after_customers": f"after {at:,.0f} customers",
            "after_arr": f"after ARR reaches {at:,.0f}"}[kind]
    return f"{ph.name or 'phase'} {when}: changes {', '.join(ph.overrides()) or 'nothing'}"
