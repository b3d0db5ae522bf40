"""The report's "What was assumed" section (STRESS-DES, Monks et al. 2018).

Output definitions, the inputs each motion changes from its template, the model
logic of each motion as a flow (sources, stages, customers), the scenario's
settings, and the software versions. The results-facing sections (headline,
narrative, comparison) are in ``sim.report.html``.
"""

from __future__ import annotations

import importlib.metadata
import math
import sys
from functools import cache
from typing import TYPE_CHECKING, Any

from sim.report.figures import money
from sim.scenario.schema import SELLING_ROLES

if TYPE_CHECKING:
    from sim.runner.results import Results

__all__ = ["DEFINITIONS", "definitions", "flow", "pct", "scenario_settings",
           "team_cost_lines", "template_overrides", "versions", "motion_differences"]


def pct(v: float, digits: int = 0) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{v * 100:.{digits}f}%"


# Output definitions (MODEL.md "Outputs"), shown in the report's assumptions.
DEFINITIONS: dict[str, str] = {
    "bookings_total": "First-year contract value of all deals won in the horizon "
                      "(production and subscription): sum of won ACV.",
    "pilot_bookings_total": "Pilot fees booked (bookings, not ARR).",
    "new_customers": "Customers won in the horizon.",
    "arr_end": "ARR at the horizon's end: sum of the ARR of live contracts.",
    "retained_revenue": "Recurring revenue recognised over the horizon: sum of monthly MRR, "
                        "i.e. bookings after churn and expansion (one-off fees are not in it; "
                        "the same figure as recurring_revenue).",
    "recurring_revenue": "Revenue billed on renewing contracts (subscriptions, usage, outcomes, "
                         "value shares, follow-on subscriptions) over the horizon.",
    "one_off_revenue": "Revenue billed once for work done: services engagement fees, "
                       "value-share baseline fees and pilot fees, recognised over the horizon.",
    "services_revenue": "Services engagement fees recognised in the horizon (not ARR).",
    "services_margin": "(services fees - delivery cost) / services fees.",
    "pilot_fees_total": "Pilot fees recognised in the horizon, evenly over each pilot (not ARR).",
    "pilot_margin": "(pilot fees - pilot delivery cost) / pilot fees; only a pilot's net loss "
                    "(cost above its fee) counts as S&M.",
    "recurring_gross_margin": "(recurring revenue - its cost of revenue - platform fees) / "
                              "recurring revenue: the margin CAC payback and LTV use.",
    "new_arr_total": "Recurring ARR of new customers when it starts: the run rate billed then "
                     "(an outcome deal's at signing, a services customer's follow-on).",
    "win_rate_to_production": "With pilots: production contracts / (production contracts + "
                              "opportunities lost in the stages or after their pilot).",
    "cycle_days_to_production": "With pilots: median days from opportunity creation to the "
                                "production contract.",
    "grr": "Gross revenue retention over the last 12 months: (ARR then - churned ARR - "
           "contraction) / ARR then, at most 100%, over customers active 12 months before the "
           "end (contraction counts even where the same customer also expanded).",
    "nrr": "Net revenue retention over the last 12 months: sum of ARR now / sum of ARR then, "
           "same customers (= ARR then + expansion - contraction - churned ARR, over ARR then).",
    "sm_spend_total": "Sales and marketing spend: selling roles' fully loaded cost from hire "
                      "date times their selling_share, commissions, marketing, partner fees, "
                      "pilots' net loss (delivery cost above the fee).",
    "cs_spend_total": "Customer success cost, tracked apart from S&M.",
    "cac": "CAC = sm_spend_total / new_customers.",
    "cac_payback_months": "CAC payback = sm_spend_total / (new_arr_total x recurring gross "
                          "margin / 12), where new_arr_total is the recurring ARR new customers "
                          "start on (one-off fees excluded).",
    "cac_sales_assisted": "Sales-assisted CAC = S&M spend other than the sign-up source's "
                          "(selling roles, commission, other sources, partners, pilots' net "
                          "loss, other S&M) / new customers other than self-serve upgrades "
                          "(PQLs closed by sales among them).",
    "cac_self_serve": "Self-serve CAC = the sign-up source's marketing and cost per sign-up / "
                      "customers who upgraded on the product path without sales.",
    "cac_payback_sales_assisted": "Sales-assisted CAC payback = sales-assisted spend / (their "
                                  "new recurring ARR x recurring gross margin / 12).",
    "cac_payback_self_serve": "Self-serve CAC payback = self-serve spend / (self-serve new "
                              "recurring ARR x recurring gross margin / 12).",
    "ltv_to_cac": "LTV:CAC = (new recurring ARR per new customer x recurring gross margin / "
                  "annual churn) / CAC; annual churn is the logo churn of the customers active "
                  "12 months before the end (the share who left since), floored at 5% "
                  "(lifetime at most 20 years).",
    "win_rate": "Won / (won + lost), over opportunities closed in the horizon.",
    "cycle_days_median": "Median days from opportunity creation to win.",
    "forecast_wape": "Forecast error (WAPE) = sum over quarters of |forecast - actual| / sum of "
                     "actual bookings, over the quarters after the first.",
    "forecast_bias": "Forecast bias = (sum of forecasts - sum of actual bookings) / sum of actual "
                     "bookings, over the quarters after the first; above 0 the forecast runs "
                     "high.",
    "forecast_mape": "Mean over the quarters after the first with bookings of |forecast - actual| "
                     "/ actual (a quarter forecast with nothing booked drops out).",
    "months_to_arr_target": "First month whose ARR reaches target_arr (seeds that reach it).",
    "reached_target": "P(target): share of seeds whose ARR at the end is at least target_arr.",
}

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

_SKIP_OVERRIDE = {"name", "template", "description", "based_on"}
_LEAF_MAPPINGS = {"hires"}


def _num(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if math.isfinite(v) and v == int(v) and abs(v) < 1e15:
            return f"{int(v):,}"
        return f"{v:,.6g}"
    return str(v)


def _fmt_input(v: Any) -> str:
    """An input value as a reader reads it: distributions, hiring plans, sections."""
    if v is None:
        return "none (off)"
    if isinstance(v, dict):
        if "dist" in v:
            args = ", ".join(f"{k}={_fmt_input(x) if isinstance(x, dict) else _num(x)}"
                             for k, x in v.items() if k != "dist")
            return f"{v['dist']}({args})"
        if not v:
            return "{}"
        if all(isinstance(k, int) or str(k).isdigit() for k in v):
            return ", ".join(f"month {k}: {_num(x)}" for k, x in
                             sorted(v.items(), key=lambda kv: int(kv[0])))
        return "{" + ", ".join(f"{k}: {_fmt_input(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        if v and all(isinstance(x, dict) and "name" in x for x in v):
            return ", ".join(str(x["name"]) for x in v)
        return "[" + ", ".join(_fmt_input(x) for x in v) + "]"
    return _num(v)


def _dist_mean(v: Any) -> float:
    if isinstance(v, int | float):
        return float(v)
    m = getattr(v, "mean", None)
    return float(m) if isinstance(m, int | float) else math.nan



# --- template defaults and overrides -------------------------------------------------


@cache
def _template_defaults(template: str) -> dict[str, Any]:
    from sim.scenario.loader import scenario_from_dict

    sc = scenario_from_dict({"name": "x", "motions": [{"template": template}]})
    return sc.motions[0].model_dump(by_alias=True)


def _diff(value: Any, default: Any, path: str, out: list[dict[str, str]]) -> None:
    leaf_key = path.rsplit(".", 1)[-1]
    if (isinstance(value, dict) and isinstance(default, dict) and "dist" not in value
            and "dist" not in default and leaf_key not in _LEAF_MAPPINGS):
        for k in list(default) + [k for k in value if k not in default]:
            if not path and k in _SKIP_OVERRIDE:
                continue
            _diff(value.get(k), default.get(k), f"{path}.{k}" if path else str(k), out)
        return
    if (isinstance(value, list) and isinstance(default, list) and len(value) == len(default)
            and all(isinstance(x, dict) for x in value + default)):
        for i, (a, b) in enumerate(zip(value, default, strict=True)):
            _diff(a, b, f"{path}[{i}]", out)
        return
    if value != default:
        out.append({"path": path, "value": _fmt_input(value), "default": _fmt_input(default)})


def template_overrides(motion: Any) -> list[dict[str, str]]:
    """Every input of ``motion`` that differs from its template: path, value, default."""
    try:
        default = _template_defaults(motion.template)
    except Exception:  # noqa: BLE001 - a template that no longer loads: show nothing to diff
        return []
    out: list[dict[str, str]] = []
    _diff(motion.model_dump(by_alias=True), default, "", out)
    return out



def motion_differences(a: Any, b: Any) -> list[dict[str, str]]:
    """Every input in which motion ``a`` differs from motion ``b``: path, value in a, in b.

    The same walk as ``template_overrides``, with ``b`` in place of the template, so a
    reader of a comparison sees what drives the gap between two motions.
    """
    out: list[dict[str, str]] = []
    _diff(a.model_dump(by_alias=True), b.model_dump(by_alias=True), "", out)
    return [{"path": o["path"], "a": o["value"], "b": o["default"]} for o in out]


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
    customer = [f"{_num(round(seats, 1))} seats mean x {money(price, cur)} / seat / month "
                f"x 12 = {money(seats * price * 12, cur)} a year",
                "monthly billing",
                f"churn {pct(d(ss.monthly_churn), 1)} / month",
                f"seat growth {pct(d(ss.expansion_rate_annual))} / year"]
    pql = entry = None
    if motion.pql is not None:
        q = motion.pql
        acv = q.acv if q.acv is not None else motion.deal.acv
        entry = motion.stages[_pql_entry(motion)].name
        pql = (f"at {_num(q.threshold)} seats active, after {q.min_days_active:g} d, to sales "
               f"at {entry}; {pct(d(q.conversion))} convert at ACV {money(d(acv), cur)} mean")
    rate = d(su.signups_per_month)
    return {
        "entry": entry,
        "signups": f"{_num(round(rate, 2))} signups / month" if math.isfinite(rate) else "",
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
                        "rate": f"{_num(round(mean, 2))} {unit}" if math.isfinite(mean) else ""})
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
        return (f"usage: {_num(round(d(u.units_start)))} units / month at "
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


def scenario_settings(res: Results, cur: str) -> list[tuple[str, str]]:
    sc = res.scenario
    init = sc.initial
    rows = [
        ("Horizon", f"{sc.horizon_months} months"),
        ("Replications (seeds)", f"{res.runs['seed'].nunique() if not res.runs.empty else 0:,}"),
        ("Root seed", str(sc.seed)),
        ("Currency", sc.currency),
        ("ARR target", money(sc.target_arr, cur) if sc.target_arr is not None else "none"),
        ("Market size (accounts)", f"{sc.market.size:,}" if sc.market.size else "unbounded"),
        ("Cooling-off before re-approaching a lost account",
         f"{sc.market.cooling_off_days:.0f} days" if sc.market.size else "n/a (unbounded)"),
    ]
    cust = init.customers
    n_acc = len(cust.accounts)
    if cust.count or n_acc:
        arr = cust.arr + sum(a.arr for a in cust.accounts)
        rows.append(("Customers at start", f"{cust.count + n_acc:,} with {money(arr, cur)} ARR"))
    else:
        rows.append(("Customers at start", "none (the company starts empty)"))
    if init.reps:
        rows.append(("Reps with tenure at start", ", ".join(
            f"{r.count} {r.role} ({r.tenure_months:g} mo)" for r in init.reps)))
    if init.pipeline:
        rows.append(("Open pipeline at start", ", ".join(
            f"{p.count} in {p.stage}" for p in init.pipeline)))
    return rows


def versions(res: Results) -> list[tuple[str, str]]:
    man = res.manifest or {}

    def ver(pkg: str) -> str:
        try:
            return importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    from sim.version import __version__

    wall = man.get("wall_seconds")
    rows = [
        ("revsim", str(man.get("package_version", __version__))),
        ("Python", str(man.get("python", sys.version.split()[0]))),
    ]
    for pkg in ("numpy", "pandas", "simpy", "matplotlib", "pydantic"):
        rows.append((pkg, str(man.get(f"{pkg}_version", ver(pkg)))))
    rows += [
        ("Scenario hash (SHA-256 of the resolved scenario)", str(man.get("scenario_hash", "n/a"))),
        ("Executor / workers", f"{man.get('executor', 'n/a')} / {man.get('workers', 'n/a')}"),
        ("Wall time", f"{float(wall):.1f} s" if isinstance(wall, int | float) else "n/a"),
        ("Command line", str(man.get("command_line") or "n/a")),
    ]
    return rows


def definitions(shown: list[str]) -> list[tuple[str, str]]:
    """(metric, definition) for each shown metric that has one."""
    return [(m, DEFINITIONS[m]) for m in dict.fromkeys(shown) if m in DEFINITIONS]
