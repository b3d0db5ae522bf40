"""Distributions: sampled moments against the analytic ones (4 standard errors)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import SHARED_CASES, assert_moments
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.scenario.distributions import (
    Beta,
    Exponential,
    Fixed,
    LogNormal,
    Pert,
    Triangular,
    Uniform,
)

CASES = [
    *SHARED_CASES,
    Pert(low=0.15, mode=0.22, high=0.30),
    LogNormal(mean=45, sd=20),
    Beta(a=2, b=5),
]


@pytest.mark.parametrize("d", CASES, ids=lambda d: f"{d.dist}")
def test_sample_mean_and_variance_match_theory(d):
    n = 200_000
    x = d.sample(np.random.default_rng(42), n)
    assert x.shape == (n,)
    assert_moments(x, d.mean, d.variance)
    assert (x >= 0).all() or d.dist == "uniform"


def test_scaled_multiplies_the_mean():
    for d in CASES:
        assert d.scaled(1.3).mean == pytest.approx(1.3 * d.mean, rel=1e-9)


def test_residual_life_of_exponential_is_memoryless():
    d = Exponential(mean=20)
    r = d.sample_residual(np.random.default_rng(1), np.full(100_000, 35.0))
    assert abs(r.mean() - 20) < 4 * 20 / math.sqrt(100_000)


def test_residual_life_of_fixed_is_what_is_left():
    d = Fixed(value=30)
    r = d.sample_residual(np.random.default_rng(1), np.array([0.0, 10.0, 29.0]))
    np.testing.assert_allclose(r, [30, 20, 1])


def test_invalid_parameters_are_rejected():
    with pytest.raises(ValueError):
        Uniform(low=5, high=1)
    with pytest.raises(ValueError):
        Pert(low=1, mode=5, high=3)
    with pytest.raises(ValueError):
        LogNormal(mean=-1, sd=1)


# --- a per-seed level on a per-entity distribution ----------------------------------------

LEVELED = [
    LogNormal(mean=26_000, sd=13_000, level=Pert(low=0.75, mode=1.0, high=1.4)),
    Uniform(low=30, high=90, level=Triangular(low=0.8, mode=1.0, high=1.5)),
    Fixed(value=60, level=Uniform(low=0.5, high=1.5)),
]


@pytest.mark.parametrize("d", LEVELED, ids=lambda d: f"{d.dist}")
def test_a_level_scales_the_whole_distribution_once_per_seed(d):
    """Two-stage draws (a level per seed, then entities at that level) have the analytic
    mean and variance of L * X, and ``at_level`` is the distribution of factor * X."""
    rng = np.random.default_rng(7)
    n = 200_000
    lv = d.level.sample(rng, n)
    x = lv * d.model_copy(update={"level": None}).sample(rng, n)
    assert_moments(x, d.mean, d.variance)
    at = d.at_level(1.25)
    assert at.level is None
    assert at.mean == pytest.approx(1.25 * d.base_mean, rel=1e-12)
    assert at.variance == pytest.approx(1.25**2 * d.base_variance, rel=1e-12)


def test_a_level_is_kept_by_stress_scaling():
    d = LEVELED[0]
    s = d.scaled(0.8)
    assert s.level == d.level
    assert s.mean == pytest.approx(0.8 * d.mean, rel=1e-12)


def test_a_level_must_be_a_positive_factor_without_a_level_of_its_own():
    with pytest.raises(ValueError, match="positive factor"):
        LogNormal(mean=10, sd=2, level=Uniform(low=-0.5, high=1.5))
    with pytest.raises(ValueError, match="level of its own"):
        LogNormal(mean=10, sd=2, level=Pert(low=0.8, mode=1, high=1.2, level=1.1))


@settings(max_examples=60, deadline=None)
@given(mean=st.floats(1.0, 1e6), cv=st.floats(0.0, 2.0), low=st.floats(0.1, 1.0),
       width=st.floats(0.01, 1.5), factor=st.floats(0.05, 5.0))
def test_level_invariants(mean, cv, low, width, factor):
    """For any per-entity lognormal and positive level: the mean is E[L] x the base mean, the
    variance is at least the base variance scaled by E[L]^2 (the level only adds spread),
    ``at_level(f)`` is f x X with no level left, and stress scaling keeps the level."""
    level = Pert(low=low, mode=low + width / 2, high=low + width)
    d = LogNormal(mean=mean, sd=cv * mean, level=level)
    assert d.mean == pytest.approx(level.mean * mean, rel=1e-9)
    assert d.variance >= level.mean**2 * d.base_variance * (1 - 1e-9)
    at = d.at_level(factor)
    assert at.level is None and at.mean == pytest.approx(factor * mean, rel=1e-9)
    assert d.scaled(factor).level == level
