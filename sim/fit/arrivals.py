"""Arrivals: how many deals are created a month, with trend and month of year.

Monthly counts of created deals over the complete months the export covers
(from the month its window opened to the last whole month before the as-of
date) are fitted with a GLM with log link (statsmodels): ``log E[count] =
a + b·month`` (+ a month-of-year effect when there are 24 months or more and a
likelihood-ratio test keeps it at 5%).
Poisson unless the counts are overdispersed; then negative binomial (its
dispersion estimated by maximum likelihood; chosen when a likelihood-ratio test
rejects Poisson at 5%). The scenario gets ``leads_per_month`` (the fitted rate
in the first simulated month), ``growth_per_month = exp(b) - 1`` and, with a
seasonal fit, twelve multipliers (mean 1) starting at the as-of month.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

__all__ = ["ArrivalsFit", "fit_arrivals", "monthly_counts"]

MIN_MONTHS = 3
SEASONAL_MONTHS = 24


@dataclass
class ArrivalsFit:
    leads_per_month: float  # rate in the first simulated month
    growth_per_month: float
    seasonality: list[float] | None  # 12 multipliers from the as-of month
    family: str  # poisson or negative binomial
    dispersion: float  # NB alpha (0 for Poisson)
    months: int
    first_month: str
    last_month: str
    total: int
    by_source: dict[str, int] = field(default_factory=dict)
    cov: np.ndarray | None = None  # covariance of (log rate at as-of, log growth factor)
    log_rate: float = 0.0
    log_growth: float = 0.0


def monthly_counts(created: pd.Series, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """Counts per calendar month, for the whole months in [start, end)."""
    first = (start + pd.offsets.MonthBegin(0)).normalize() if start.day != 1 or \
        start != start.normalize() else start
    last = end.normalize().replace(day=1)
    months = pd.period_range(first, last - pd.Timedelta(days=1), freq="M") if last > first \
        else pd.PeriodIndex([], freq="M")
    p = created.dt.to_period("M")
    counts = p[(created >= first) & (created < last)].value_counts()
    return counts.reindex(months, fill_value=0).sort_index()


def fit_arrivals(created: pd.Series, sources: pd.Series, start: pd.Timestamp,
                 as_of: pd.Timestamp) -> ArrivalsFit:
    """Fit the monthly creation counts (``created``: dates) between ``start`` and ``as_of``."""
    counts = monthly_counts(created, start, as_of)
    months = len(counts)
    inside = (created >= start) & (created < as_of)
    by_source = {str(k): int(v) for k, v in sources[inside].value_counts().items() if str(k)}
    if months < MIN_MONTHS:
        span = max((as_of - start) / pd.Timedelta(days=365 / 12), 1e-9)
        rate = float(inside.sum()) / span
        return ArrivalsFit(rate, 0.0, None, "poisson (too few whole months for a trend)", 0.0,
                           months, str(start.date()), str(as_of.date()), int(inside.sum()),
                           by_source, None, math.log(max(rate, 1e-9)), 0.0)
    y = counts.to_numpy(float)
    m = np.arange(months, dtype=float)
    m_next = float(months)  # the first simulated month (the as-of month)
    # centre the trend on the as-of month: the intercept is then the log rate there
    X = np.column_stack([np.ones(months), m - m_next])
    seasonal = months >= SEASONAL_MONTHS
    moy = counts.index.month.to_numpy() - 1
    if seasonal:
        dummies = np.zeros((months, 11))
        for j in range(1, 12):
            dummies[:, j - 1] = moy == j
        X = np.column_stack([X, dummies])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pois = sm.GLM(y, X, family=sm.families.Poisson()).fit()
        if seasonal:  # month of year only when it explains the counts (LR test, 5%)
            flat = sm.GLM(y, X[:, :2], family=sm.families.Poisson()).fit()
            if stats.chi2.sf(2 * (pois.llf - flat.llf), 11) >= 0.05:
                seasonal, X, pois = False, X[:, :2], flat
        family, alpha, res = "poisson", 0.0, pois
        if y.sum() > 0 and months > X.shape[1] + 2:
            try:
                nb = sm.NegativeBinomial(y, X).fit(disp=0, maxiter=200)
                lr = 2 * (nb.llf - pois.llf)
                a = float(nb.params[-1])
                if a > 1e-6 and stats.chi2.sf(lr, 1) / 2 < 0.05:
                    family, alpha = "negative binomial", a
                    res = sm.GLM(y, X, family=sm.families.NegativeBinomial(alpha=a)).fit()
            except (np.linalg.LinAlgError, ValueError):
                family = "poisson (the negative binomial fit did not converge)"
    params = np.asarray(res.params, dtype=float)
    cov = np.asarray(res.cov_params(), dtype=float)[:2, :2]
    season: list[float] | None = None
    effect = np.zeros(12)
    if seasonal:
        effect[1:] = params[2:13]
        mult = np.exp(effect)
        mult = mult / mult.mean()
        first = as_of.month - 1  # the as-of month starts the simulation
        season = [float(mult[(first + j) % 12]) for j in range(12)]
        # the intercept is January's level at the as-of month: the yearly mean level is
        # exp(a) * mean(exp(effects))
        base = math.exp(params[0]) * float(np.exp(effect).mean())
    else:
        base = math.exp(params[0])
    return ArrivalsFit(base, math.exp(params[1]) - 1.0, season, family, alpha, months,
                       str(counts.index[0]), str(counts.index[-1]), int(y.sum()), by_source, cov,
                       math.log(base), float(params[1]))
