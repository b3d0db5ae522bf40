"""The monthly books of one replication, computed from the compact records.

Counted flows (leads, opportunities, wins, bookings, spend) are histograms of
event times; stocks (ARR, customers, pipeline, headcount) are read at each
month's end. Column names are those of ``monthly.parquet``.
"""

from __future__ import annotations

import numpy as np

from sim.engine.channels import channel_spend
from sim.engine.model import SeedRun
from sim.engine.params import num
from sim.engine.pilots import pilot_money
from sim.engine.records import LOST, OPEN, WON
from sim.engine.sources import LEAD_SOURCES, SOURCE_ID, SOURCE_NAMES
from sim.engine.team import MONTH_DAYS
from sim.scenario.schema import ROLES, Motion

__all__ = ["monthly_series", "MONTHLY_COLUMNS"]

MONTHLY_COLUMNS = (
    [f"leads_{s}" for s in LEAD_SOURCES]
    + ["leads", "signups", "activated", "self_serve_wins", "bookings_self_serve",
       "opportunities_created", "new_customers", "pilots_started", "pilots_converted",
       "pilot_delivery_cost", "wins", "losses", "bookings_new", "bookings_pilot",
       "bookings_expansion", "new_arr", "arr", "revenue", "churned_arr", "expansion_arr",
       "contraction_arr", "customers", "pipeline_count", "pipeline_value", "queued",
       "sm_spend", "marketing_spend", "commission", "partner_fees", "cs_spend", "fees", "cogs",
       "platform_fees", "gross_profit", "revenue_self_serve", "revenue_sales", "phase",
       "revenue_recurring", "revenue_one_off", "revenue_services", "revenue_pilot",
       "cogs_recurring", "cogs_one_off", "cogs_services", "pilot_loss",
       "sm_spend_self_serve", "new_customers_self_serve", "new_arr_self_serve"]
    + [f"headcount_{r}" for r in ROLES] + ["headcount"]
)


def _hist(times: np.ndarray, n: int, weights: np.ndarray | None = None) -> np.ndarray:
    idx = np.floor(times / MONTH_DAYS)
    ok = np.isfinite(idx) & (idx >= 0) & (idx < n)
    return np.bincount(idx[ok].astype(np.int64), weights=None if weights is None else weights[ok],
                       minlength=n).astype(float)


def monthly_series(run: SeedRun) -> dict[str, np.ndarray]:
    n = run.n_months
    L = run.leads
    m = run.motion
    out: dict[str, np.ndarray] = {}
    # leads by source and month: one count over (source, month) cells
    src = L["source"].astype(np.int64)
    month = np.floor(L["t_arrive"] / MONTH_DAYS)
    ok = np.isfinite(month) & (month >= 0) & (month < n) & (src >= 0)
    by_source = np.bincount(src[ok] * n + month[ok].astype(np.int64),
                            minlength=len(SOURCE_NAMES) * n).reshape(-1, n)
    for s in LEAD_SOURCES:
        out[f"leads_{s}"] = by_source[SOURCE_ID[s]].astype(float)
    out["leads"] = sum((out[f"leads_{s}"] for s in LEAD_SOURCES), np.zeros(n))
    zeros = np.zeros(n)
    for k in ("signups", "activated"):
        v = run.extras.get(k)
        out[k] = zeros if v is None else np.asarray(v, dtype=float)
    ss = (L["outcome"] == WON) & (L["source"] == SOURCE_ID["signups"])
    out["self_serve_wins"] = _hist(L["t_end"][ss], n)
    out["bookings_self_serve"] = _hist(L["t_end"][ss], n, L["acv"][ss])
    out["opportunities_created"] = _hist(L["created"], n)
    won = L["outcome"] == WON
    is_opp = np.isfinite(L["created"])
    out["wins"] = _hist(L["t_end"][won], n)
    out["losses"] = _hist(L["t_end"][is_opp & (L["outcome"] == 2)], n)
    # a booking is a new customer's first-year contract value (sales win, self-serve
    # upgrade or production contract after a pilot), counted when the customer starts
    C = run.customers
    new = ~C["initial"]
    out["new_customers"] = _hist(C["start"][new], n)
    out["bookings_new"] = _hist(C["start"][new], n, C["arr0"][new])
    P = run.pilots
    if P is not None:
        out["bookings_pilot"] = _hist(P["t_start"], n, P["fee"])
        out["pilots_started"] = _hist(P["t_start"], n)
        out["pilots_converted"] = _hist(P["t_decision"][P["converted"]], n)
        money = pilot_money(P, n)  # fee and delivery spread over each pilot
        out["pilot_delivery_cost"], out["revenue_pilot"] = money["delivery_cost"], money["revenue"]
        out["pilot_loss"], cogs_pilot = money["loss"], money["cogs"]
    else:
        out["bookings_pilot"] = out["pilots_started"] = out["pilots_converted"] = zeros
        out["pilot_delivery_cost"] = out["revenue_pilot"] = out["pilot_loss"] = cogs_pilot = zeros
    ticks = run.ticks
    out["bookings_expansion"] = ticks["expansion_arr"]
    # new ARR: each new customer's recurring ARR when it starts (its run rate billed then;
    # a services engagement's follow-on subscription when the engagement ends)
    new_arr = np.where(np.isnan(C["new_arr"]), C["arr0"], C["new_arr"])[new]
    t_rec = np.where(np.isnan(C["recurring_from"]), C["start"], C["recurring_from"])[new]
    out["new_arr"] = _hist(t_rec, n, new_arr)
    # the product path's own customers: self-serve upgrades (a PQL closed by sales is not one)
    ss_new = C["source"][new] == SOURCE_ID["signups"]
    out["new_customers_self_serve"] = _hist(C["start"][new][ss_new], n)
    out["new_arr_self_serve"] = _hist(t_rec[ss_new], n, new_arr[ss_new])
    for k in ("arr", "churned_arr", "expansion_arr", "contraction_arr", "customers",
              "queued", "fees", "platform_fees", "revenue_self_serve", "revenue_services",
              "cogs_services"):
        out[k] = ticks[k]
    # revenue: recurring (subscriptions, usage, outcomes, value shares) and one-off
    # (services engagements, value-share baseline fees, pilot fees), each with its cost
    # the blend's two segments, each its own customers' revenue: self-serve accounts, and
    # sales-assisted customers with the fees and pilot fees; the total is their sum
    out["revenue_sales"] = ticks["revenue_sales"] + out["revenue_pilot"]
    out["revenue"] = out["revenue_self_serve"] + out["revenue_sales"]
    out["cogs"] = ticks["cogs"] + cogs_pilot
    out["revenue_one_off"] = out["revenue_services"] + out["fees"] + out["revenue_pilot"]
    out["revenue_recurring"] = out["revenue"] - out["revenue_one_off"]
    out["cogs_one_off"] = ticks["cogs_one_off"] + cogs_pilot
    out["cogs_recurring"] = out["cogs"] - out["cogs_one_off"]
    # cost of revenue: hosting/compute/delivery (sim.engine.pricing) and the platforms' share
    out["gross_profit"] = out["revenue"] - out["cogs"] - out["platform_fees"]
    ends = (np.arange(n) + 1) * MONTH_DAYS
    created = L["created"][is_opp]
    t_end = np.where(L["outcome"][is_opp] == OPEN, np.inf, L["t_end"][is_opp])
    open_at = (created[:, None] <= ends[None, :]) & (t_end[:, None] > ends[None, :])
    out["pipeline_count"] = open_at.sum(axis=0).astype(float)
    out["pipeline_value"] = (open_at * L["acv"][is_opp][:, None]).sum(axis=0)
    # spend
    costs = run.roster.monthly_cost(n)
    # spend follows the motion in effect each month; a source a phase writes
    # starts its spend curve at the phase's start, like its leads
    marketing = np.zeros(n)
    self_serve = np.zeros(n)
    month_of = np.arange(n)
    motions = run.phase_motions or [m]
    starts = np.round(run.extras.get("phase_starts", np.zeros(1)) / MONTH_DAYS).astype(int)
    in_phase = np.searchsorted(starts, month_of, side="right") - 1
    origin = {name: 0 for name in type(m.sources).model_fields}
    for j, mj in enumerate(motions):
        if j:
            written = (m.phases[j - 1].overrides().get("sources") or {})
            origin.update({name: int(starts[j]) for name in written})
        now = in_phase == j
        if now.any():
            marketing[now] = _marketing(mj, out, month_of, origin)[now]
            self_serve[now] = _signup_spend(mj, out, month_of, origin)[now]
    out["marketing_spend"] = marketing
    # the product path's acquisition spend (the sign-up source's); every other S&M
    # cost (selling roles, commission, other sources, partners, pilots) is sales-assisted
    out["sm_spend_self_serve"] = self_serve
    out["commission"] = run.commission.copy()
    out["partner_fees"] = run.partner_fees.copy()
    # a pilot's delivery cost is S&M only where it exceeds the pilot's fee
    out["sm_spend"] = (costs["sm"] + marketing + run.commission + run.partner_fees
                       + out["pilot_loss"])
    out["cs_spend"] = costs["cs"]
    out["phase"] = in_phase.astype(float)  # index of the motion's phase in effect (0: as it starts)
    hc = run.roster.headcount(ends - 1e-9)
    for r in ROLES:
        out[f"headcount_{r}"] = hc[r].astype(float)
    out["headcount"] = sum((out[f"headcount_{r}"] for r in ROLES), np.zeros(n))
    return out


def _marketing(m: Motion, out: dict[str, np.ndarray], month: np.ndarray,
               origin: dict[str, int]) -> np.ndarray:
    """Marketing and programme spend of motion ``m`` in each month."""
    n = month.size
    marketing = np.zeros(n)
    src = m.sources
    if src.inbound is not None:
        if src.inbound.marketing_spend_per_month is not None:
            g = num(src.inbound.growth_per_month)
            marketing += num(src.inbound.marketing_spend_per_month) * (1 + g) ** (
                month - origin["inbound"])
        if src.inbound.cost_per_lead is not None:
            marketing += num(src.inbound.cost_per_lead) * out["leads_inbound"]
    if src.outbound is not None:
        marketing += num(src.outbound.tooling_cost_per_month)
    if src.signups is not None:  # the terms of _signup_spend, added one by one
        g = num(src.signups.growth_per_month)
        marketing += num(src.signups.marketing_spend_per_month) * (1 + g) ** (
            month - origin["signups"])
        marketing += num(src.signups.cost_per_signup) * out["signups"]
    marketing += channel_spend(src, n)
    marketing += num(m.costs.other_sm_per_month)
    return marketing


def _signup_spend(m: Motion, out: dict[str, np.ndarray], month: np.ndarray,
                  origin: dict[str, int]) -> np.ndarray:
    """The sign-up source's spend of motion ``m`` in each month: its marketing and its
    cost per sign-up (the product path's acquisition spend)."""
    spend = np.zeros(month.size)
    src = m.sources.signups
    if src is not None:
        g = num(src.growth_per_month)
        spend += num(src.marketing_spend_per_month) * (1 + g) ** (month - origin["signups"])
        spend += num(src.cost_per_signup) * out["signups"]
    return spend


def funnel(run: SeedRun) -> dict[str, np.ndarray]:
    """Per stage: deals that entered, moved on, were lost there, are still in it at the
    horizon (``open``), and mean days in it; entered = advanced + lost + open.

    Days in a stage run from entering it (waiting for a rep included) to
    entering the next one or closing; deals still in the stage at the horizon
    are not counted in the mean. A phased motion's stages are counted by name
    over its phases (in order of first appearance).
    """
    L = run.leads
    motions = run.phase_motions or [run.motion]
    if len(motions) == 1:
        single = _funnel_of(L, motions[0])
        del single["n_done"]
        return single
    phase = L["phase"]
    parts = [_funnel_of({k: v[phase == j] for k, v in L.items()}, mj)
             for j, mj in enumerate(motions)]
    names: list[str] = []
    owners: dict[str, set[str]] = {}
    for p in parts:
        for name, owner in zip(p["stage"], p["owner"], strict=True):
            if name not in owners:
                names.append(name)
                owners[name] = set()
            owners[name].add(owner)
    idx = {name: i for i, name in enumerate(names)}
    N = len(names)
    entered, advanced, lost, day_sum = np.zeros(N), np.zeros(N), np.zeros(N), np.zeros(N)
    still, done = np.zeros(N), np.zeros(N)
    for p in parts:
        at = np.array([idx[s] for s in p["stage"]], dtype=np.int64)
        np.add.at(entered, at, p["entered"])
        np.add.at(advanced, at, p["advanced"])
        np.add.at(lost, at, p["lost"])
        np.add.at(still, at, p["open"])
        np.add.at(day_sum, at, np.nan_to_num(p["mean_days"] * p["n_done"]))
        np.add.at(done, at, p["n_done"])
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_days = np.where(done > 0, day_sum / done, np.nan)
    return {  # the columns of the one-phase funnel
        "stage": np.array(names, dtype=object),
        "stage_index": np.arange(N),
        "owner": np.array(["/".join(sorted(owners[s])) for s in names], dtype=object),
        "entered": entered,
        "advanced": advanced,
        "lost": lost,
        "open": still,
        "mean_days": mean_days,
    }


def _funnel_of(L: dict[str, np.ndarray], m: Motion) -> dict[str, np.ndarray]:
    """The funnel of leads that went through the stages of motion ``m``.

    Column by column over the rows that entered each stage (most leads never get
    past the first), not over a dense (leads x stages) matrix. Sums of days run
    over the rows in order, as numpy's reduction over the rows of such a matrix
    does, so the mean is the same to the last bit.
    """
    K = len(m.stages)
    e = L["entry"]
    outcome = L["outcome"]
    won = outcome == WON
    lost = outcome == LOST
    stage = L["stage"].astype(np.int64)
    t_end = L["t_end"]
    closed = won | lost
    entered = np.zeros(K)
    n_done = np.zeros(K, dtype=np.int64)
    day_sum = np.zeros(K)
    for k in range(K):
        ek = e[:, k]
        rows = np.flatnonzero(np.isfinite(ek))
        entered[k] = rows.size
        # when each deal left stage k: entering the next, or closing in it
        left = e[rows, k + 1] if k + 1 < K else np.full(rows.size, np.nan)
        here = closed[rows] & (stage[rows] == k)
        left[here] = t_end[rows[here]]
        days = left - ek[rows]
        days = days[np.isfinite(days)]
        n_done[k] = days.size
        if days.size:
            day_sum[k] = np.cumsum(days)[-1]  # sequential, in row order
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_days = np.where(n_done > 0, day_sum / n_done, np.nan)
    # Out of each stage by what happened to the deals that entered it: on to the next
    # stage, won or lost in it, or still in it at the horizon. Counted over the deals
    # that entered the stage, so entered = advanced + lost + open holds stage by stage
    # even where deals join the funnel part-way (PQLs entering at a later stage).
    advanced = np.zeros(K)
    lost_at = np.zeros(K)
    open_at = np.zeros(K)
    for k in range(K):
        inside = np.isfinite(e[:, k])
        if k + 1 < K:
            advanced[k] = np.count_nonzero(inside & np.isfinite(e[:, k + 1]))
        at_k = inside & (stage == k)
        advanced[k] += np.count_nonzero(at_k & won)
        lost_at[k] = np.count_nonzero(at_k & lost)
        open_at[k] = np.count_nonzero(at_k & ~closed)
    return {
        "stage": np.array([s.name for s in m.stages], dtype=object),
        "stage_index": np.arange(K),
        "owner": np.array([s.owner or "" for s in m.stages], dtype=object),
        "entered": entered,
        "advanced": advanced,
        "lost": lost_at,
        "open": open_at,
        "mean_days": mean_days,
        "n_done": n_done,
    }
