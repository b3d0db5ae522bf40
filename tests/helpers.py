"""Shared pieces of the tests: statistical checks (4 standard errors), distributions to
check, and hypothesis strategies of scenario parts.

``assert_moments`` compares a sample's mean and variance with theory; the
standard error of the sample variance is about sqrt((m4 - s^4) / n), with the
sample's fourth central moment m4. ``assert_cdf_matches`` compares an empirical
CDF with a theoretical one, point by point (binomial standard error).
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from sim.scenario.distributions import (
    Beta,
    Exponential,
    Fixed,
    Normal,
    Poisson,
    Triangular,
    Uniform,
)

# One or two of most families; a test adds the cases its claim needs (a PERT and a
# lognormal of its own scale).
SHARED_CASES = [
    Fixed(value=3.0),
    Uniform(low=2, high=5),
    Triangular(low=1, mode=2, high=6),
    Normal(mean=10, sd=3),
    Normal(mean=1, sd=2),  # heavily truncated at 0
    Exponential(mean=7),
    Beta(a=2, b=5, low=10, high=20),
    Poisson(mean=4.5),
]


def assert_moments(x: np.ndarray, mean: float, variance: float) -> None:
    """The sample mean and variance of ``x`` within 4 standard errors of theory (a point
    mass: every draw is its value)."""
    n = x.size
    if variance == 0:
        assert (x == mean).all()
        return
    assert abs(x.mean() - mean) <= 4 * math.sqrt(variance / n)
    m4 = ((x - x.mean()) ** 4).mean()
    assert abs(x.var() - variance) <= 4 * math.sqrt(max(m4 - x.var() ** 2, 0) / n)


def assert_cdf_matches(x: np.ndarray, at: np.ndarray, f: np.ndarray) -> None:
    """The empirical CDF of the sorted draws ``x`` at ``at`` within 4 binomial standard
    errors of ``f``, the theoretical CDF there."""
    n = x.size
    emp = np.searchsorted(x, at, side="right") / n
    assert (np.abs(emp - f) <= 4 * np.sqrt(f * (1 - f) / n)).all()


PROB = st.floats(0.0, 1.0)


def draw_stages(draw: st.DrawFn, n: int, durations: list[object], advance: st.SearchStrategy[float],
           prefix: str = "s") -> list[dict[str, object]]:
    """``n`` stages named ``<prefix>0``, ``<prefix>1``, ...: each owned by nobody or the
    AE, with a duration drawn from ``durations`` and an advance probability from ``advance``."""
    return [{"name": f"{prefix}{k}", "owner": draw(st.sampled_from([None, "ae"])),
             "duration": draw(st.sampled_from(durations)), "advance": draw(advance)}
            for k in range(n)]
