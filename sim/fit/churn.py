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
    s = subs[subs["start"] <= as_of]
    g = s.sort_values(["customer", "start"], kind="stable").groupby("customer", sort=False)
    start = g["start"].min()
    end = g["end"].max()  # NaN only when every row has no end
    live_any = g["end"].apply(lambda e: bool(e.isna().any() or (e > as_of).any()))
    churned = (~live_any).to_numpy()
    stop = np.where(churned, end.to_numpy(float), as_of)
    years = (stop - start.to_numpy(float)) / YEAR
    ratios: list[float] = []
    for _, rows in g:
        a = rows["arr"].to_numpy(float)
        if a.size > 1:
            r = a[1:] / np.where(a[:-1] > 0, a[:-1], np.nan)
            ratios.extend(r[np.isfinite(r)].tolist())
    r = np.array(ratios)
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
    a, b = math.exp(theta[0]), math.exp(theta[1])
    lb = special.betaln(a, b)
    ll = w_c @ (special.betaln(a + 1, b + churn_t - 1) - lb)
    ll += w_a @ (special.betaln(a, b + alive_n) - lb)
    return -float(ll)


def sbg_survival(a: float, b: float, t: np.ndarray) -> np.ndarray:
    """Share of a starting cohort still a customer after ``t`` renewals."""
    return np.exp(special.betaln(a, b + t) - special.betaln(a, b))


def fit_churn(t: Tenures, weights: np.ndarray | None = None,
              start: np.ndarray | None = None) -> ChurnFit:
    w = np.ones(t.years.size) if weights is None else weights
    churn_t, alive_n = _periods(t)
    w_c, w_a = w[t.churned], w[~t.churned]
    x0 = start if start is not None else np.array([0.0, math.log(3.0)])
    res = optimize.minimize(_sbg_nll, x0, args=(churn_t, alive_n, w_c, w_a), method="TNC",
                            bounds=[(-8, 8), (-8, 10)])
    a, b = math.exp(res.x[0]), math.exp(res.x[1])
    days = t.years * YEAR
    seen_early = t.churned | (days >= EARLY_WINDOW_DAYS)
    early = t.churned & (days < EARLY_WINDOW_DAYS)
    early_share = float(w[early].sum() / max(w[seen_early].sum(), 1e-12))
    # renewals reached: a customer churning at renewal k reached k of them (the k-th fatal)
    late = t.churned & ~early
    events = float(w[late].sum())
    reached = float(w[late] @ np.maximum(np.ceil(t.years[late] - 1e-6), 1))
    reached += float(w[~t.churned] @ np.floor(t.years[~t.churned] + 1e-9))
    renewal = events / reached if reached > 0 else math.nan  # no renewal seen yet
    return ChurnFit(a, b, early_share, min(renewal, 1.0) if math.isfinite(renewal) else renewal, int(w.sum()), int(w[t.churned].sum()),
                    float(t.years.max()) if t.years.size else 0.0, t.expansion, t.contraction)
