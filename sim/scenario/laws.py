"""Each scenario distribution as a frozen ``scipy.stats`` law (for its CDF and quantiles).

``distributions.py`` samples with numpy and has analytic moments; the ``cdf``,
``sf`` and ``ppf`` of every distribution (``dist_base.py``: residual life in the
forecast, Latin hypercube draws) come from the law built here, once per
distribution (freezing one costs about a millisecond, and scipy.stats is
imported only when first needed). A point mass (``fixed``, or a spread of zero)
is returned as a float.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

__all__ = ["scipy_law"]


@lru_cache(maxsize=512)
def scipy_law(d: Any) -> Any:
    """The law of distribution ``d`` (a frozen pydantic model, so hashable)."""
    from scipy import stats

    kind = d.dist
    if kind == "fixed":
        return float(d.value)
    if kind in ("uniform", "triangular", "pert", "beta") and d.high == d.low:
        return float(d.low)
    if kind == "uniform":
        return stats.uniform(loc=d.low, scale=d.high - d.low)
    if kind == "triangular":
        r = d.high - d.low
        return stats.triang(c=(d.mode - d.low) / r, loc=d.low, scale=r)
    if kind == "pert":  # Beta-PERT, shape parameter 4
        r = d.high - d.low
        a, b = 1 + 4 * (d.mode - d.low) / r, 1 + 4 * (d.high - d.mode) / r
        return stats.beta(a, b, loc=d.low, scale=r)
    if kind == "beta":
        return stats.beta(d.a, d.b, loc=d.low, scale=d.high - d.low)
    if kind == "normal":  # truncated at 0, as it is sampled
        if d.sd == 0:
            return max(float(d.mu), 0.0)
        return stats.truncnorm(a=-d.mu / d.sd, b=math.inf, loc=d.mu, scale=d.sd)
    if kind == "lognormal":  # given by its own mean and sd
        if d.sd == 0:
            return float(d.mu)
        s2 = math.log(1 + (d.sd / d.mu) ** 2)
        return stats.lognorm(s=math.sqrt(s2), scale=math.exp(math.log(d.mu) - s2 / 2))
    if kind == "exponential":
        return stats.expon(scale=d.mu)
    if kind == "poisson":
        return 0.0 if d.lam == 0 else stats.poisson(d.lam)
    raise ValueError(f"no law for distribution {kind!r}")
