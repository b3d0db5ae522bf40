"""The fit of a motion to a CRM export: every component, its counts and its uncertainty.

``fit_export`` reads the export as of a date and returns a ``MotionFit``: the
per-stage competing-risks fits (``sim.fit.stages``; with no history, one
created-to-close fit), arrivals (``sim.fit.arrivals``), deal size
(``sim.fit.acv``), churn (``sim.fit.churn``), the open pipeline with each
deal's days in its stage, the naive estimates a spreadsheet would give, and the
uncertainty of every parameter (``sim.fit.uncertainty``), which the scenario
writer (``sim.fit.writer``) turns into per-seed distributions.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd

from sim.fit.acv import fit_acv
from sim.fit.arrivals import fit_arrivals
from sim.fit.churn import fit_churn, tenures
from sim.fit.events import ADVANCED, LOST, OPEN, Episodes, build_episodes, deal_status
from sim.fit.io import Export
from sim.fit.motion_fit import FitOptions, MotionFit, Uncertainty
from sim.fit.stages import StageFit, fit_stage, lognormal_mean_sd, naive_lognormal
from sim.fit.uncertainty import bootstrap

__all__ = ["fit_export"]


def _stage_params(eps: Episodes, K: int, w_deal: np.ndarray | None,
                  starts: list[StageFit] | None = None) -> list[StageFit]:
    out = []
    for k in range(K):
        sel = eps.stage == k
        w = None if w_deal is None else w_deal[eps.deal[sel]]
        start = None if starts is None else starts[k].theta
        common = None if starts is None else starts[k].common
        out.append(fit_stage(eps.days[sel], eps.event[sel], eps.entry[sel], w, start, common))
    return out


def _cycle_data(f_export: Export, as_of: float,
                stale_days: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    status, closed = deal_status(f_export, as_of)
    created = f_export.deals["created"].to_numpy(float)
    days = np.where(status == "open", as_of - created, closed - created)
    event = np.where(status == "won", ADVANCED, np.where(status == "lost", LOST, OPEN))
    stale = (status == "open") & (days > stale_days)
    event = np.where(stale, LOST, event).astype(np.int8)
    days = np.where(stale, np.nan, days)
    return days, event, np.zeros(days.size)


def fit_export(export: Export, as_of: pd.Timestamp, options: FitOptions | None = None) -> MotionFit:
    """Fit every component of a motion to the export as the as-of date saw it."""
    opt = options or FitOptions()
    export = export.before(as_of)
    t_as_of = export.day(as_of)
    d = export.deals
    K = len(export.stages)
    status, _closed = deal_status(export, t_as_of)
    eps = build_episodes(export, t_as_of) if export.history is not None else None
    if eps is None:
        eps_open = build_episodes(export, t_as_of)  # the snapshot: open deals and stale rule
        stale_days, window, opens = eps_open.stale_days, eps_open.window_start, eps_open.open_deals
        stale = eps_open.stale
    else:
        stale_days, window, opens, stale = eps.stale_days, eps.window_start, eps.open_deals, eps.stale
    cyc = _cycle_data(export, t_as_of, stale_days)
    cycle = fit_stage(*cyc)
    stages = _stage_params(eps, K, None) if eps is not None else None
    created_dates = export.origin + pd.to_timedelta(d["created"].to_numpy(float), unit="D")
    start = export.date(max(window, float(d["created"].min()))) if len(d) else as_of
    arrivals = fit_arrivals(pd.Series(created_dates), d["source"], start, as_of)
    won = status == "won"
    amounts = d["amount"].to_numpy(float)
    acv = fit_acv(amounts[won])
    ten = tenures(export.subscriptions, t_as_of) if export.subscriptions is not None else None
    churn = fit_churn(ten) if ten is not None and ten.customers > 0 else None
    naive: dict[str, float] = {}
    n_won, n_lost = int(won.sum()), int((status == "lost").sum())
    naive["win_rate"] = n_won / max(n_won + n_lost, 1)
    if eps is not None:
        for k, name in enumerate(export.stages):
            sel = (eps.stage == k) & (eps.event == ADVANCED)
            mu, sg = naive_lognormal(eps.days[sel])
            if math.isfinite(mu):
                naive[f"{name}.duration_mean"] = lognormal_mean_sd(mu, sg)[0]
                naive[f"{name}.duration_sd"] = lognormal_mean_sd(mu, sg)[1]
            closed_k = (eps.stage == k) & (eps.event != OPEN)
            n_adv = int(((eps.event == ADVANCED) & closed_k).sum())
            naive[f"{name}.advance"] = n_adv / max(int(closed_k.sum()), 1)
    counts = {"deals": len(d), "won": n_won, "lost": n_lost,
              "open": int((status == "open").sum()) - stale, "stale": stale,
              "created_after_window": int((d["created"] >= window).sum()),
              "left_truncated": int((d["created"] < window).sum()),
              "no_history": eps.no_history if eps is not None else len(d),
              "backward_moves": eps.backward_moves if eps is not None else 0,
              "won_no_amount": acv.no_amount if acv is not None else n_won}
    owners: dict[str, tuple[float, int]] = {}
    if opt.by_owner:
        for owner, rows in d.groupby("owner").groups.items():
            idx = np.asarray(rows)
            if owner and len(idx) >= 20:
                sub = fit_stage(cyc[0][idx], cyc[1][idx], cyc[2][idx], common=True)
                owners[str(owner)] = (sub.p, len(idx))
    fit = MotionFit(export, t_as_of, as_of, list(export.stages), stages, cycle, arrivals, acv,
                    churn, ten, opens, eps, counts, naive, Uncertainty.empty(),
                    owners, Counter(export.unusable))
    fit.uncertainty = bootstrap(fit, opt, _refit)
    return fit


def _refit(fit: MotionFit, w_deal: np.ndarray) -> dict[str, float]:
    """The deal-level parameters refitted with deal weights (one bootstrap replicate)."""
    d = fit.export.deals
    out: dict[str, float] = {}
    if fit.episodes is not None and fit.stages is not None:
        st = _stage_params(fit.episodes, len(fit.stage_names), w_deal, fit.stages)
        for name, s in zip(fit.stage_names, st, strict=True):
            m, sd = s.duration_mean_sd
            out[f"{name}.advance"], out[f"{name}.duration_mean"], out[f"{name}.duration_sd"] = \
                s.p, m, sd
        out["win_rate"] = math.prod(s.p for s in st)
    cyc = _cycle_data(fit.export, fit.as_of, fit.episodes.stale_days if fit.episodes else math.inf)
    assert fit.cycle is not None
    c = fit_stage(*cyc, weights=w_deal, start=fit.cycle.theta, common=fit.cycle.common)
    out["cycle.win"], out["cycle.won_days_mean"] = c.p, c.duration_mean_sd[0]
    if fit.stages is None:
        out["win_rate"] = c.p
    status, _ = deal_status(fit.export, fit.as_of)
    won = status == "won"
    a = fit_acv(d["amount"].to_numpy(float)[won], w_deal[won])
    if a is not None:
        out["acv_mean"], out["acv_sd"] = a.mean, a.sd
    return out
