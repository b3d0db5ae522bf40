"""Distribution CDFs, quantiles and residual life (what the forecast weights deals by).

Each CDF is checked against the empirical CDF of 100,000 draws (4 binomial
standard errors at every point); residual life against theory where it is known
(exponential: memoryless; fixed: what is left) and against rejection sampling.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import SHARED_CASES, assert_cdf_matches

from sim.scenario.distributions import (
    Exponential,
    Fixed,
    LogNormal,
    Normal,
    Pert,
    Poisson,
    Triangular,
)

CASES = [*SHARED_CASES, Pert(low=10, mode=20, high=60), LogNormal(mean=45, sd=90)]


@pytest.mark.parametrize("d", CASES, ids=lambda d: d.dist)
def test_cdf_matches_the_empirical_cdf_of_draws(d):
    n = 100_000
    x = np.sort(d.sample(np.random.default_rng(11), n))
    at = np.quantile(x, [0.05, 0.25, 0.5, 0.75, 0.95])
    f = d.cdf(at)
    assert_cdf_matches(x, at, f)
    np.testing.assert_allclose(d.sf(at), 1 - f, atol=1e-12)


@pytest.mark.parametrize("d", [c for c in CASES if c.dist not in ("fixed", "poisson")],
                         ids=lambda d: d.dist)
def test_ppf_inverts_the_cdf(d):
    q = np.array([0.01, 0.2, 0.5, 0.8, 0.99])
    np.testing.assert_allclose(d.cdf(d.ppf(q)), q, atol=1e-9)


def test_ppf_of_point_masses_and_counts():
    assert Fixed(value=3).ppf(np.array([0.1, 0.9])).tolist() == [3.0, 3.0]
    p = Poisson(mean=2)
    # the least k with P(X <= k) >= q: P(X <= 0) = e^-2 = 0.135, P(X <= 1) = 0.406
    assert p.ppf(np.array([0.1, 0.2, 0.5])).tolist() == [0.0, 1.0, 2.0]


def test_residual_cdf_of_exponential_is_memoryless():
    d = Exponential(mean=20)
    t = np.array([0.0, 5.0, 20.0, 90.0])
    for e in (0.0, 35.0, 400.0):
        np.testing.assert_allclose(d.residual_cdf(e, t), 1 - np.exp(-t / 20), rtol=1e-12)


def test_residual_cdf_of_fixed_is_what_is_left_and_due_now_past_it():
    d = Fixed(value=30)
    assert d.residual_cdf(np.array([0.0, 10.0, 29.0]), 20.0).tolist() == [0.0, 1.0, 1.0]
    # a deal kept past its stage's only duration (waiting for a rep) is due now
    assert d.residual_cdf(45.0, 0.0).item() == 1.0
    assert d.residual_cdf(10.0, -1.0).item() == 0.0


@pytest.mark.parametrize("d", [LogNormal(mean=45, sd=90), Triangular(low=1, mode=20, high=60),
                               Normal(mean=30, sd=20)], ids=lambda d: d.dist)
def test_residual_cdf_matches_rejection_sampling(d):
    n, e = 100_000, 25.0
    r = np.sort(d.sample_residual(np.random.default_rng(5), np.full(n, e)))
    t = np.quantile(r, [0.1, 0.5, 0.9])
    assert_cdf_matches(r, t, d.residual_cdf(e, t))


def test_lognormal_tail_is_exact_far_out():
    # 1 - cdf would be 0 in floating point; the survival function keeps the tail, so the
    # residual life of a deal far past the median is still defined (heavy tail: long)
    d = LogNormal(mean=10, sd=5)
    assert d.sf(1000.0) > 0 and 1 - d.cdf(1000.0) == 0.0
    assert 0 < d.residual_cdf(1000.0, 30.0).item() < 1
    assert math.isclose(float(d.sf(0.0)), 1.0)
