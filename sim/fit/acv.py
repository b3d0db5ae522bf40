"""Deal size: a lognormal on the amounts of won deals, overall and by segment.

The maximum-likelihood lognormal of positive amounts is the mean and standard
deviation of their logarithms; weights (a bootstrap's resampling counts) enter
as frequencies. Won deals without an amount are counted, not used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["AcvFit", "fit_acv"]

MIN_WON = 5


@dataclass
class AcvFit:
    mean: float
    sd: float
    mu: float
    sigma: float
    n: int
    no_amount: int

    @property
    def median(self) -> float:
        return math.exp(self.mu)


def fit_acv(amounts: np.ndarray, weights: np.ndarray | None = None) -> AcvFit | None:
    """Lognormal MLE of the positive amounts (None with fewer than ``MIN_WON`` of them)."""
    w = np.ones(amounts.size) if weights is None else weights
    ok = np.isfinite(amounts) & (amounts > 0) & (w > 0)
    n = int(w[ok].sum())
    no_amount = int(w[~(np.isfinite(amounts) & (amounts > 0))].sum())
    if n < MIN_WON:
        return None
    x = np.log(amounts[ok])
    mu = float(np.average(x, weights=w[ok]))
    sigma = float(math.sqrt(np.average((x - mu) ** 2, weights=w[ok])))
    mean = math.exp(mu + sigma * sigma / 2)
    sd = mean * math.sqrt(math.expm1(sigma * sigma))
    return AcvFit(mean, sd, mu, sigma, n, no_amount)
