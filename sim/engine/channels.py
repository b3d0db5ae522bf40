"""Intensities of the borrowed-audience sources: marketplace, open source, community, hyperscaler.

Each becomes a ``SourceGrid`` like the other sources (``sim.engine.sources``):
leads per day on the step grid, fixed before the event loop. The mechanisms
(MODEL.md "Sources"; 002, Motions 2, 3, 4, 12):

- marketplace: ``installs_per_month x (1 + growth) ** months``; the platform's
  revenue share is charged on the revenue of the customers it brought.
- open_source: users grow by compounding adoption, ``U0 (1 + g) ** months``, or
  logistically towards ``max_users``; ``commercial_rate_monthly`` of them a month
  hit enterprise needs and become commercial leads.
- community: the audience grows from ``audience_start`` by ``audience_per_month``
  (and compounding growth) through ``build_months`` of content with no product;
  after launch ``intent_rate_monthly`` of the audience come to buy each month,
  converting at the first stage ``1 + (audience_lift - 1) x min(1, reach / audience)``
  times a cold lead: the lift dilutes once the audience outgrows the founder.
- hyperscaler: marketplace listing leads from month 0; co-sell introductions
  start after ``certification_months`` and ramp to full over ``intro_ramp_months``.

A ``Risk`` (platform changes terms, cloud wraps the project, the hyperscaler
de-prioritises) happens at most once, at an exponential time with the annual
probability's rate, drawn per seed; from then the affected flow is multiplied by
``flow_factor``.
"""

from __future__ import annotations

import math

import numpy as np

from sim.engine.params import num
from sim.engine.records import SOURCE_ID
from sim.engine.rng import Streams
from sim.engine.team import MONTH_DAYS
from sim.scenario.channels import Risk
from sim.scenario.schema import Sources

__all__ = ["CHANNELS", "channel_spend", "channel_grids", "platform_shares", "risk_time"]

CHANNELS = ("marketplace", "open_source", "community", "hyperscaler")


def risk_time(risk: Risk, rng: np.random.Generator) -> float:
    """Day the risk event happens (inf if never): exponential with the annual odds' rate."""
    p = num(risk.annual_probability)
    u = rng.random()  # drawn even when p = 0, so the stream does not depend on p
    if p <= 0:
        return math.inf
    if p >= 1:
        return 0.0
    rate = -math.log1p(-p) / 365.0
    return -math.log1p(-u) / rate


def _after(t_mid: np.ndarray, at: float, factor: float) -> np.ndarray:
    return np.where(t_mid >= at, factor, 1.0)


def channel_grids(sources: Sources, t_mid: np.ndarray, streams: Streams
                  ) -> list[tuple[str, np.ndarray, float, np.ndarray, float]]:
    """(name, leads per day, fit rate, first-stage factor, risk day) of each channel on."""
    months = t_mid / MONTH_DAYS
    ones = np.ones(t_mid.size)
    out: list[tuple[str, np.ndarray, float, np.ndarray, float]] = []
    mp = sources.marketplace
    if mp is not None:
        at = risk_time(mp.platform_risk, streams.get("risk", "marketplace"))
        lam = num(mp.installs_per_month) / MONTH_DAYS * (1 + num(mp.growth_per_month)) ** months
        lam = lam * _after(t_mid, at, num(mp.platform_risk.flow_factor))
        out.append(("marketplace", lam, num(mp.fit_rate), ones, at))
    os_ = sources.open_source
    if os_ is not None:
        at = risk_time(os_.cloud_wrap, streams.get("risk", "open_source"))
        users = open_source_users(num(os_.users_start), num(os_.adoption_growth_monthly),
                                  None if os_.max_users is None else num(os_.max_users), months)
        lam = users * num(os_.commercial_rate_monthly) / MONTH_DAYS
        lam = lam * _after(t_mid, at, num(os_.cloud_wrap.flow_factor))
        out.append(("open_source", lam, num(os_.fit_rate), ones, at))
    c = sources.community
    if c is not None:
        aud = community_audience(num(c.audience_start), num(c.audience_per_month),
                                 num(c.audience_growth_monthly), months)
        launched = months >= num(c.build_months)
        lam = np.where(launched, aud * num(c.intent_rate_monthly) / MONTH_DAYS, 0.0)
        reach = num(c.founder_reach)
        share = np.minimum(1.0, reach / np.maximum(aud, 1e-9))
        lift = 1.0 + (num(c.audience_lift) - 1.0) * share
        out.append(("community", lam, num(c.fit_rate), lift, math.inf))
    h = sources.hyperscaler
    if h is not None:
        at = risk_time(h.deprioritisation, streams.get("risk", "hyperscaler"))
        g = (1 + num(h.growth_per_month)) ** months
        listing = num(h.listing_leads_per_month) / MONTH_DAYS * g
        ramp_m = num(h.intro_ramp_months)
        since = months - num(h.certification_months)
        ramp = np.clip(since / ramp_m, 0.0, 1.0) if ramp_m > 0 else (since >= 0).astype(float)
        intros = num(h.intros_per_month) / MONTH_DAYS * g * ramp
        intros = intros * _after(t_mid, at, num(h.deprioritisation.flow_factor))
        out.append(("hyperscaler", listing + intros, num(h.fit_rate), ones, at))
    return out


def open_source_users(u0: float, g: float, cap: float | None, months: np.ndarray) -> np.ndarray:
    """Active users: compounding ``u0 (1 + g) ** m``, or logistic towards ``cap``."""
    if cap is None or cap <= 0 or u0 <= 0:
        return u0 * (1.0 + g) ** months
    r = math.log1p(g)
    return cap / (1.0 + (cap / u0 - 1.0) * np.exp(-r * months))


def community_audience(a0: float, per_month: float, g: float, months: np.ndarray) -> np.ndarray:
    """Audience: ``a0 (1+g)^m + per_month x ((1+g)^m - 1) / g`` (``a0 + per_month x m`` at g = 0)."""
    if g <= 0:
        return a0 + per_month * months
    f = (1.0 + g) ** months
    return a0 * f + per_month * (f - 1.0) / g


def platform_shares(sources: Sources) -> dict[int, float]:
    """Share of revenue a platform keeps, by source id, for customers it brought."""
    out: dict[int, float] = {}
    if sources.marketplace is not None:
        out[SOURCE_ID["marketplace"]] = num(sources.marketplace.revenue_share)
    if sources.hyperscaler is not None:
        out[SOURCE_ID["hyperscaler"]] = num(sources.hyperscaler.marketplace_fee)
    return out


def channel_spend(sources: Sources, n_months: int) -> np.ndarray:
    """Monthly spend of the channels (listing, developer relations, content, programme)."""
    per_month = 0.0
    if sources.marketplace is not None:
        per_month += num(sources.marketplace.listing_cost_per_month)
    if sources.open_source is not None:
        per_month += num(sources.open_source.community_cost_per_month)
    if sources.community is not None:
        per_month += num(sources.community.content_cost_per_month)
    if sources.hyperscaler is not None:
        per_month += num(sources.hyperscaler.programme_cost_per_month)
    return np.full(n_months, per_month)
