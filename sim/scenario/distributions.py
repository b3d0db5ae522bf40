"""Probability distributions a scenario can name.

Each distribution is a small immutable pydantic model with ``sample(rng, size)``
and an analytic ``mean`` (and ``variance``), so tests can compare simulated
moments with theory. A scenario writes one as a mapping with a ``dist`` key,
``{dist: lognormal, mean: 45, sd: 20}``; a plain number means ``fixed``.

For residual life (the time left in a stage a deal has been in for ``e``
days) a distribution also gives its ``cdf``, ``sf`` and ``ppf`` (its scipy.stats
law, from ``laws.py``) and ``residual_cdf``.

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
from abc import abstractmethod
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.scenario.laws import scipy_law

__all__ = [
    "Beta",
    "Dist",
    "Distribution",
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


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @property
    def support(self) -> tuple[float, float]:
        """The smallest and largest value a draw can take (infinite when unbounded)."""
        return 0.0, math.inf

    level: float | Dist | None = Field(
        default=None,
        description="per-entity quantities only: a factor on the whole distribution, drawn once "
        "per seed (uncertainty about the level, e.g. the typical ACV, beside the deal-to-deal "
        "spread); 1 is the distribution as written")

    @model_validator(mode="after")
    def _level(self) -> _Base:
        lv = self.level
        if lv is None:
            return self
        if isinstance(lv, _Base) and lv.level is not None:
            raise ValueError("a level cannot have a level of its own")
        low = lv if isinstance(lv, int | float) else getattr(lv, "low", None)
        if (low is not None and low < 0) or _level_mean(lv) <= 0:
            raise ValueError("level must be a positive factor (1 is the distribution as written)")
        return self

    @abstractmethod
    def sample(self, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
        """``size`` independent draws (a 0-d array when ``size`` is None), at level 1:
        ``sim.engine.params.realize`` resolves a level (``at_level``) before any draw."""

    @property
    @abstractmethod
    def base_mean(self) -> float:
        """The analytic mean at level 1."""

    @property
    @abstractmethod
    def base_variance(self) -> float:
        """The analytic variance at level 1."""

    @property
    def mean(self) -> float:
        """The analytic mean, over the level's uncertainty too (E[L X] = E[L] E[X])."""
        return self.base_mean * _level_mean(self.level)

    @property
    def variance(self) -> float:
        """The analytic variance, over the level's uncertainty too (L independent of X)."""
        if self.level is None:
            return self.base_variance
        m, v = self.base_mean, self.base_variance
        lm, lv = _level_mean(self.level), _level_variance(self.level)
        return (lv + lm * lm) * (v + m * m) - (lm * m) ** 2

    @abstractmethod
    def _scaled(self, factor: float) -> Dist:
        """The distribution of ``factor * X`` at level 1."""

    def scaled(self, factor: float) -> Dist:
        """The distribution of ``factor * X`` (used by stress levers); the level is kept."""
        out = self._scaled(factor)
        return out.model_copy(update={"level": self.level}) if self.level is not None else out

    def at_level(self, factor: float) -> Dist:
        """This distribution with its level drawn as ``factor``: ``factor * X``, no level left."""
        return self._scaled(factor)

    def _law(self) -> Any:
        """The distribution as a frozen ``scipy.stats`` object, or a float for a point mass."""
        return scipy_law(self)

    def cdf(self, x: np.ndarray | float) -> np.ndarray:
        """P(X <= x)."""
        law, x = self._law(), np.asarray(x, dtype=float)
        return (x >= law).astype(float) if isinstance(law, float) else np.asarray(law.cdf(x))

    def sf(self, x: np.ndarray | float) -> np.ndarray:
        """P(X > x), accurate in the far tail (not ``1 - cdf``)."""
        law, x = self._law(), np.asarray(x, dtype=float)
        return (x < law).astype(float) if isinstance(law, float) else np.asarray(law.sf(x))

    def ppf(self, q: np.ndarray | float) -> np.ndarray:
        """The quantile function: the least x with P(X <= x) >= q."""
        law, q = self._law(), np.asarray(q, dtype=float)
        return np.full(q.shape, law) if isinstance(law, float) else np.asarray(law.ppf(q), float)

    def residual_cdf(self, elapsed: np.ndarray | float, t: np.ndarray | float) -> np.ndarray:
        """P(X - e <= t | X > e): the chance that what is left after ``e`` is at most ``t``.

        Broadcasts ``elapsed`` against ``t``. For ``e >= 0`` and ``t >= 0`` it is the
        same for ``max(X, 0)`` (how the engine draws a duration). Where ``X > e`` is
        impossible (``e`` past every value ``X`` takes, as after a wait in a queue)
        nothing is left: the result is 1 for ``t >= 0``. It is 0 for ``t < 0``.
        """
        e, t = np.asarray(elapsed, dtype=float), np.asarray(t, dtype=float)
        alive = self.sf(e)
        with np.errstate(divide="ignore", invalid="ignore"):
            p = (alive - self.sf(e + np.maximum(t, 0.0))) / alive
        p = np.where(alive > 0, np.clip(p, 0.0, 1.0), 1.0)
        return np.where(t < 0, 0.0, p)

    def sample_residual(
        self, rng: np.random.Generator, elapsed: np.ndarray, tries: int = 64
    ) -> np.ndarray:
        """Remaining life ``X - e`` given ``X > e``, for each elapsed ``e``.

        Used for deals already open when a run starts: the time left in their
        stage is drawn from the stage's duration conditioned on the time already
        spent. Rejection sampling; where ``X > e`` is too rare to hit in
        ``tries`` rounds the remaining time falls back to an exponential tail
        with the distribution's mean, which is the memoryless limit.
        """
        elapsed = np.asarray(elapsed, dtype=float)
        out = np.full(elapsed.shape, np.nan)
        todo = np.arange(elapsed.size)
        for _ in range(tries):
            if todo.size == 0:
                break
            x = self.sample(rng, todo.size)
            ok = x > elapsed[todo]
            out[todo[ok]] = x[ok] - elapsed[todo[ok]]
            todo = todo[~ok]
        if todo.size:
            out[todo] = rng.exponential(max(self.base_mean, 1e-9), todo.size)
        return out


class Fixed(_Base):
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

    def _scaled(self, factor: float) -> Dist:
        return Fixed(value=self.value * factor)


class Uniform(_Base):
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

    def _scaled(self, factor: float) -> Dist:
        return Uniform(low=self.low * factor, high=self.high * factor)


class Triangular(_Base):
    dist: Literal["triangular"] = "triangular"
    low: float
    mode: float
    high: float

    @model_validator(mode="after")
    def _order(self) -> Triangular:
        if not (self.low <= self.mode <= self.high) or self.low == self.high:
            raise ValueError("triangular needs low <= mode <= high and low < high")
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

    def _scaled(self, factor: float) -> Dist:
        return Triangular(low=self.low * factor, mode=self.mode * factor, high=self.high * factor)


class Pert(_Base):
    """Beta-PERT on [low, high] with the given mode (shape parameter 4)."""

    dist: Literal["pert"] = "pert"
    low: float
    mode: float
    high: float

    @model_validator(mode="after")
    def _order(self) -> Pert:
        if not (self.low <= self.mode <= self.high) or self.low == self.high:
            raise ValueError("pert needs low <= mode <= high and low < high")
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

    def _scaled(self, factor: float) -> Dist:
        return Pert(low=self.low * factor, mode=self.mode * factor, high=self.high * factor)


# A normal is cut at 0 by resampling: at least this share of it must lie above 0,
# or the cut distribution is nothing like the one written (and resampling never ends).
MIN_NORMAL_MASS = 0.01


class Normal(_Base):
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

    def _scaled(self, factor: float) -> Dist:
        return Normal(mean=self.mu * factor, sd=self.sd * factor)


class LogNormal(_Base):
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

    def _scaled(self, factor: float) -> Dist:
        return LogNormal(mean=self.mu * factor, sd=self.sd * factor)


class Exponential(_Base):
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

    def _scaled(self, factor: float) -> Dist:
        return Exponential(mean=self.mu * factor)


class Beta(_Base):
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

    def _scaled(self, factor: float) -> Dist:
        return Beta(a=self.a, b=self.b, low=self.low * factor, high=self.high * factor)


class Poisson(_Base):
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

    def _scaled(self, factor: float) -> Dist:
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


def _level_mean(level: float | _Base | None) -> float:
    if level is None:
        return 1.0
    return float(level) if isinstance(level, int | float) else level.base_mean


def _level_variance(level: float | _Base | None) -> float:
    return 0.0 if level is None or isinstance(level, int | float) else level.base_variance


for _cls in (_Base, Fixed, Uniform, Triangular, Pert, Normal, LogNormal, Exponential, Beta, Poisson):
    _cls.model_rebuild()


Distribution = _Base  # the base class every distribution derives from (for isinstance)


def as_dist(value: float | _Base) -> _Base:
    """A plain number is a fixed distribution."""
    if isinstance(value, _Base):
        return value
    return Fixed(value=float(value))
