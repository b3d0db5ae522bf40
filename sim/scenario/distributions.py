"""Probability distributions a scenario can name: the families.

Each distribution is a small immutable pydantic model with ``sample(rng, size)``
and an analytic ``mean`` (and ``variance``), so tests can compare simulated
moments with theory. A scenario writes one as a mapping with a ``dist`` key,
``{dist: lognormal, mean: 45, sd: 20}``; a plain number means ``fixed``.

What every family shares (the per-seed ``level``, stress scaling, ``cdf``,
``sf``, ``ppf`` from its scipy.stats law, residual life) is in ``dist_base.py``.

The same objects serve two purposes (MODEL.md "Randomness"): on a duration, an
ACV or a seat count they are drawn per entity; on a rate, probability or count
parameter they express uncertainty about the parameter and are drawn once per
seed.

A per-entity distribution may carry a ``level``: a factor on the whole
distribution drawn once per seed, ``{dist: lognormal, mean: 26000, sd: 13000,
level: {dist: pert, low: 0.75, mode: 1, high: 1.4}}``. The deal-to-deal spread
stays per deal; the level is what we do not know about the typical deal. A seed
with level ``L`` draws every entity from ``at_level(L)``, the distribution of
``L * X`` (mean and spread scale together, the shape is kept); ``mean`` and
``variance`` are those of ``L * X`` over both.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import ConfigDict, Field, model_validator

from sim.scenario.dist_base import Distribution

__all__ = [
    "Beta",
    "Dist",
    "Exponential",
    "Fixed",
    "LogNormal",
    "Normal",
    "Pert",
    "Poisson",
    "Triangular",
    "Uniform",
    "as_dist",
    "DIST_NAMES",
]


def _check_mode(name: str, low: float, mode: float, high: float) -> None:
    """A three-point distribution (triangular, PERT) needs low <= mode <= high, low < high."""
    if not (low <= mode <= high) or low == high:
        raise ValueError(f"{name} needs low <= mode <= high and low < high")


class Fixed(Distribution):
    dist: Literal["fixed"] = "fixed"
    value: float

    def sample(self, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
        return np.full(size if size is not None else (), self.value, dtype=float)

    @property
    def support(self) -> tuple[float, float]:
        return self.value, self.value

    @property
    def base_mean(self) -> float:
        return self.value

    @property
    def base_variance(self) -> float:
        return 0.0

    def at_level(self, factor: float) -> Dist:
        return Fixed(value=self.value * factor)


class Uniform(Distribution):
    dist: Literal["uniform"] = "uniform"
    low: float
    high: float

    @model_validator(mode="after")
    def _order(self) -> Uniform:
        if self.high < self.low:
            raise ValueError("uniform needs low <= high")
        return self

    def sample(self, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
        return rng.uniform(self.low, self.high, size)

    @property
    def support(self) -> tuple[float, float]:
        return self.low, self.high

    @property
    def base_mean(self) -> float:
        return (self.low + self.high) / 2

    @property
    def base_variance(self) -> float:
        return (self.high - self.low) ** 2 / 12

    def at_level(self, factor: float) -> Dist:
        return Uniform(low=self.low * factor, high=self.high * factor)


class Triangular(Distribution):
    dist: Literal["triangular"] = "triangular"
    low: float
    mode: float
    high: float

    @model_validator(mode="after")
    def _order(self) -> Triangular:
        _check_mode(self.dist, self.low, self.mode, self.high)
        return self

    def sample(self, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
        return rng.triangular(self.low, self.mode, self.high, size)

    @property
    def support(self) -> tuple[float, float]:
        return self.low, self.high

    @property
    def base_mean(self) -> float:
        return (self.low + self.mode + self.high) / 3

    @property
    def base_variance(self) -> float:
        a, c, b = self.low, self.mode, self.high
        return (a * a + b * b + c * c - a * b - a * c - b * c) / 18

    def at_level(self, factor: float) -> Dist:
        return Triangular(low=self.low * factor, mode=self.mode * factor, high=self.high * factor)


class Pert(Distribution):
    """Beta-PERT on [low, high] with the given mode (shape parameter 4)."""

    dist: Literal["pert"] = "pert"
    low: float
    mode: float
    high: float

    @model_validator(mode="after")
    def _order(self) -> Pert:
        _check_mode(self.dist, self.low, self.mode, self.high)
        return self

    def _ab(self) -> tuple[float, float]:
        r = self.high - self.low
        return 1 + 4 * (self.mode - self.low) / r, 1 + 4 * (self.high - self.mode) / r

    def sample(self, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
        a, b = self._ab()
        return self.low + (self.high - self.low) * rng.beta(a, b, size)

    @property
    def support(self) -> tuple[float, float]:
        return self.low, self.high

    @property
    def base_mean(self) -> float:
        return (self.low + 4 * self.mode + self.high) / 6

    @property
    def base_variance(self) -> float:
        a, b = self._ab()
        r = self.high - self.low
        return r * r * a * b / ((a + b) ** 2 * (a + b + 1))

    def at_level(self, factor: float) -> Dist:
        return Pert(low=self.low * factor, mode=self.mode * factor, high=self.high * factor)


# A normal is cut at 0 by resampling: at least this share of it must lie above 0,
# or the cut distribution is nothing like the one written (and resampling never ends).
MIN_NORMAL_MASS = 0.01


class Normal(Distribution):
    """Normal(mean, sd) truncated at 0 (resampled below zero).

    ``mean`` and ``variance`` are those of the truncated distribution. At least
    ``MIN_NORMAL_MASS`` of the normal must lie above 0 (checked at validation).
    """

    dist: Literal["normal"] = "normal"
    mu: float = Field(alias="mean")
    sd: float = Field(ge=0)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True,
                              allow_inf_nan=False)

    @model_validator(mode="after")
    def _mass(self) -> Normal:
        above = 0.5 * math.erfc(-self.mu / (self.sd * math.sqrt(2))) if self.sd > 0 else (
            1.0 if self.mu >= 0 else 0.0)
        if above < MIN_NORMAL_MASS:
            share = f"only {above:.1%}" if above >= 0.001 else "almost none (under 0.1%)"
            raise ValueError(f"a normal here is cut at 0, and {share} of normal(mean "
                             f"{self.mu:g}, sd {self.sd:g}) lies above 0 (at least "
                             f"{MIN_NORMAL_MASS:.0%} is needed); give a mean above "
                             f"{-2.33 * self.sd:g} or another distribution")
        return self

    def sample(self, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
        n = 1 if size is None else size
        if self.sd == 0:
            out = np.full(n, max(self.mu, 0.0))
            return out.reshape(()) if size is None else out
        out = rng.normal(self.mu, self.sd, n)
        bad = out < 0
        while bad.any():
            out[bad] = rng.normal(self.mu, self.sd, int(bad.sum()))
            bad = out < 0
        return out.reshape(()) if size is None else out

    def _trunc(self) -> tuple[float, float]:
        if self.sd == 0:
            return max(self.mu, 0.0), 0.0
        alpha = -self.mu / self.sd
        pdf = math.exp(-alpha * alpha / 2) / math.sqrt(2 * math.pi)
        z = 1 - 0.5 * (1 + math.erf(alpha / math.sqrt(2)))
        lam = pdf / z
        mean = self.mu + self.sd * lam
        var = self.sd**2 * (1 + alpha * lam - lam * lam)
        return mean, var

    @property
    def base_mean(self) -> float:
        return self._trunc()[0]

    @property
    def base_variance(self) -> float:
        return self._trunc()[1]

    def at_level(self, factor: float) -> Dist:
        return Normal(mean=self.mu * factor, sd=self.sd * factor)


class LogNormal(Distribution):
    """Lognormal given by its own mean and standard deviation (not log-space)."""

    dist: Literal["lognormal"] = "lognormal"
    mu: float = Field(alias="mean", gt=0)
    sd: float = Field(ge=0)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True,
                              allow_inf_nan=False)

    def _log_params(self) -> tuple[float, float]:
        s2 = math.log(1 + (self.sd / self.mu) ** 2)
        return math.log(self.mu) - s2 / 2, math.sqrt(s2)

    def sample(self, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
        m, s = self._log_params()
        return rng.lognormal(m, s, size)

    @property
    def base_mean(self) -> float:
        return self.mu

    @property
    def base_variance(self) -> float:
        return self.sd**2

    def sf(self, x: np.ndarray | float) -> np.ndarray:
        if self.sd == 0:
            return super().sf(x)
        from scipy.special import ndtr  # (the hot path of the forecast: no scipy.stats call)

        m, s = self._log_params()
        x = np.asarray(x, dtype=float)
        with np.errstate(divide="ignore"):
            z = (np.log(np.maximum(x, 0.0)) - m) / s
        return np.asarray(ndtr(-z))

    def at_level(self, factor: float) -> Dist:
        return LogNormal(mean=self.mu * factor, sd=self.sd * factor)


class Exponential(Distribution):
    dist: Literal["exponential"] = "exponential"
    mu: float = Field(alias="mean", gt=0)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True,
                              allow_inf_nan=False)

    def sample(self, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
        return rng.exponential(self.mu, size)

    @property
    def base_mean(self) -> float:
        return self.mu

    @property
    def base_variance(self) -> float:
        return self.mu**2

    def sf(self, x: np.ndarray | float) -> np.ndarray:
        return np.exp(-np.maximum(np.asarray(x, dtype=float), 0.0) / self.mu)

    def at_level(self, factor: float) -> Dist:
        return Exponential(mean=self.mu * factor)


class Beta(Distribution):
    """Beta(a, b), optionally stretched onto [low, high] (default [0, 1])."""

    dist: Literal["beta"] = "beta"
    a: float = Field(gt=0)
    b: float = Field(gt=0)
    low: float = 0.0
    high: float = 1.0

    @model_validator(mode="after")
    def _order(self) -> Beta:
        if not self.low < self.high:
            raise ValueError("beta needs low < high")
        return self

    @property
    def support(self) -> tuple[float, float]:
        return self.low, self.high

    def sample(self, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
        return self.low + (self.high - self.low) * rng.beta(self.a, self.b, size)

    @property
    def base_mean(self) -> float:
        return self.low + (self.high - self.low) * self.a / (self.a + self.b)

    @property
    def base_variance(self) -> float:
        s = self.a + self.b
        return (self.high - self.low) ** 2 * self.a * self.b / (s * s * (s + 1))

    def at_level(self, factor: float) -> Dist:
        return Beta(a=self.a, b=self.b, low=self.low * factor, high=self.high * factor)


class Poisson(Distribution):
    dist: Literal["poisson"] = "poisson"
    lam: float = Field(alias="mean", ge=0)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True,
                              allow_inf_nan=False)

    def sample(self, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
        return rng.poisson(self.lam, size).astype(float)

    @property
    def base_mean(self) -> float:
        return self.lam

    @property
    def base_variance(self) -> float:
        return self.lam

    def at_level(self, factor: float) -> Dist:
        return Poisson(mean=self.lam * factor)


Dist = Annotated[
    Fixed | Uniform | Triangular | Pert | Normal | LogNormal | Exponential | Beta | Poisson,
    Field(discriminator="dist"),
]

DIST_NAMES = (
    "fixed",
    "uniform",
    "triangular",
    "pert",
    "normal",
    "lognormal",
    "exponential",
    "beta",
    "poisson",
)

for _cls in (Distribution, Fixed, Uniform, Triangular, Pert, Normal, LogNormal, Exponential,
             Beta, Poisson):
    _cls.model_rebuild()


def as_dist(value: float | Distribution) -> Distribution:
    """A plain number is a fixed distribution."""
    if isinstance(value, Distribution):
        return value
    return Fixed(value=float(value))
