"""Churn from subscriptions: the shifted-beta-geometric curve and the engine's rates.

A customer's tenure runs from its first subscription's start to the end of its
last one (still a customer when that end is empty or after the as-of date).
Renewals are yearly; a customer that left during its first year (or at its
first renewal) churned in period 1, at its k-th renewal in period k.

- **Shifted-beta-geometric** (Fader & Hardie 2007): each customer churns at a
  renewal with its own probability, beta(a, b) across customers, so the
  cohort's churn falls with tenure. ``P(T = t) = B(a+1, b+t-1) / B(a, b)``,
  survival ``S(t) = B(a, b+t) / B(a, b)``; fitted by maximum likelihood
  (scipy) on churned and still-live customers (right-censored). It gives the
  retention curve (``retention.csv``) and its extrapolation.
- **The engine's rates** (constant per renewal): ``early_churn`` the share
  leaving within the first ``early_window_days``; the renewal churn
  ``c = churn events at renewals / renewals reached`` (a rate per renewal; the
  scenario's ``monthly_churn`` is ``1 - (1 - c)^(1/12)``).
- **Expansion and contraction**, when a customer has consecutive subscription
  rows: the mean over renewals of ``max(r - 1, 0)`` and ``max(1 - r, 0)`` where
  ``r`` is the ARR ratio of a row to the one before it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special

__all__ = ["ChurnFit", "Tenures", "fit_churn", "sbg_survival", "tenures"]

YEAR = 365.0
EARLY_WINDOW_DAYS = 90.0


@dataclass
class Tenures:
    years: np.ndarray  # tenure in years (to the end, or to the as-of date)
    churned: np.ndarray  # bool
    customers: int
    expansion: float | None
    contraction: float | None
    transitions: int
    live_arr: np.ndarray  # ARR of customers live at the as-of date
    live_age_days: np.ndarray


@dataclass
class ChurnFit:
    a: float
    b: float
    early_churn: float
    renewal_churn: float
    n_customers: int
    n_churned: int
    max_tenure_years: float
    expansion: float | None
    contraction: float | None

    @property
    def monthly_churn(self) -> float:
        return 1.0 - (1.0 - self.renewal_churn) ** (1 / 12)


def tenures(subs: pd.DataFrame, as_of: float) -> Tenures:
    """One tenure per customer (subscriptions in days since the origin)."""
    s = subs[subs["start"] <= as_of].sort_values(["customer", "start"], kind="stable")
    live_row = s["end"].isna() | (s["end"] > as_of)
    g = s.assign(live=live_row).groupby("customer", sort=False)
    start = g["start"].min()
    end = g["end"].max()
    churned = ~g["live"].any().to_numpy()
    stop = np.where(churned, end.to_numpy(float), as_of)
    years = (stop - start.to_numpy(float)) / YEAR
    arr = s["arr"].to_numpy(float)
    same = s["customer"].to_numpy()[1:] == s["customer"].to_numpy()[:-1]
    prev = arr[:-1][same]
    r = np.where(prev > 0, arr[1:][same] / np.where(prev > 0, prev, 1.0), np.nan)
    r = r[np.isfinite(r)]
    last_arr = g["arr"].last().to_numpy(float)
    return Tenures(np.maximum(years, 0.0), churned, int(start.size),
                   float(np.maximum(r - 1, 0).mean()) if r.size else None,
                   float(np.maximum(1 - r, 0).mean()) if r.size else None, int(r.size),
                   last_arr[~churned], (as_of - start.to_numpy(float))[~churned])


def _periods(t: Tenures) -> tuple[np.ndarray, np.ndarray]:
    """Churn period of each churned customer; renewals survived by each live one."""
    churn_t = np.maximum(1, np.ceil(t.years[t.churned] - 1e-6)).astype(int)
    alive_n = np.floor(t.years[~t.churned] + 1e-9).astype(int)
    return churn_t, alive_n


def _sbg_nll(theta: np.ndarray, churn_t: np.ndarray, alive_n: np.ndarray,
             w_c: np.ndarray, w_a: np.ndarray) -> float:
    """Minus the log-likelihood; ``churn_t`` and ``alive_n`` distinct periods, ``w_*`` counts."""
    return _sbg_nll_grad(theta, churn_t, alive_n, w_c, w_a)[0]


def _sbg_nll_grad(theta: np.ndarray, churn_t: np.ndarray, alive_n: np.ndarray,
                  w_c: np.ndarray, w_a: np.ndarray) -> tuple[float, np.ndarray]:
    """Minus the log-likelihood and its gradient in (log a, log b) (d betaln = digammas)."""
    a, b = math.exp(theta[0]), math.exp(theta[1])
    lb = special.betaln(a, b)
    ll = w_c @ (special.betaln(a + 1, b + churn_t - 1) - lb)
    ll += w_a @ (special.betaln(a, b + alive_n) - lb)
    psi = special.digamma
    W = float(w_c.sum() + w_a.sum())
    abt, abn = psi(a + b + churn_t), psi(a + b + alive_n)
    da = float(w_c @ (psi(a + 1) - abt) + w_a @ (psi(a) - abn)) - W * (psi(a) - psi(a + b))
    db = float(w_c @ (psi(b + churn_t - 1) - abt) + w_a @ (psi(b + alive_n) - abn)) \
        - W * (psi(b) - psi(a + b))
    return -float(ll), -np.array([a * da, b * db])


def _counts(periods: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct periods and their total weight (the likelihood depends on nothing else)."""
    if not periods.size:
        return periods.astype(float), w
    total = np.bincount(periods, weights=w)
    at = np.flatnonzero(total > 0)
    return at.astype(float), total[at]


def sbg_survival(a: float, b: float, t: np.ndarray) -> np.ndarray:
    """Share of a starting cohort still a customer after ``t`` renewals."""
    return np.exp(special.betaln(a, b + t) - special.betaln(a, b))


def fit_churn(t: Tenures, weights: np.ndarray | None = None,
              start: np.ndarray | None = None) -> ChurnFit:
    w = np.ones(t.years.size) if weights is None else weights
    churn_t, alive_n = _periods(t)
    ct, wc = _counts(churn_t, w[t.churned])
    an, wa = _counts(alive_n, w[~t.churned])
    x0 = start if start is not None else np.array([0.0, math.log(3.0)])
    res = optimize.minimize(_sbg_nll_grad, x0, args=(ct, an, wc, wa), method="TNC", jac=True,
                            bounds=[(-8, 8), (-8, 10)])
    a, b = math.exp(res.x[0]), math.exp(res.x[1])
    days = t.years * YEAR
    seen_early = t.churned | (days >= EARLY_WINDOW_DAYS)
    early = t.churned & (days < EARLY_WINDOW_DAYS)
    early_share = float(w[early].sum() / max(w[seen_early].sum(), 1e-12))
    # renewals reached: a customer churning at renewal k reached k of them (the k-th fatal)
    late = t.churned & ~early
    events = float(w[late].sum())
    # sums of products without BLAS (a threaded dot over every customer costs more than the
    # sum on a busy machine); whole numbers, so the sum is exact in any order
    reached = float(np.multiply(w[late], np.maximum(np.ceil(t.years[late] - 1e-6), 1)).sum())
    reached += float(np.multiply(w[~t.churned], np.floor(t.years[~t.churned] + 1e-9)).sum())
    renewal = events / reached if reached > 0 else math.nan  # no renewal seen yet
    return ChurnFit(a, b, early_share, min(renewal, 1.0) if math.isfinite(renewal) else renewal, int(w.sum()), int(w[t.churned].sum()),
                    float(t.years.max()) if t.years.size else 0.0, t.expansion, t.contraction)
