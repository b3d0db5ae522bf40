"""What every scenario distribution is and gives, whatever its family.

``Distribution`` is the base of the families in ``distributions.py``: the
per-seed ``level`` (a factor on the whole distribution, its validation, and the
mean and variance over it), stress scaling, and what a distribution's
``scipy.stats`` law (``laws.py``) gives: ``cdf``, ``sf``, ``ppf`` and residual
life (the time left in a stage a deal has been in for ``e`` days).

A family gives ``sample`` (at level 1), its analytic ``base_mean`` and
``base_variance``, its ``support`` and ``at_level(factor)``, the distribution of
``factor * X``.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.scenario.laws import scipy_law

__all__ = ["Distribution"]


class Distribution(BaseModel):
    """The base class every distribution derives from (for ``isinstance``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @property
    def support(self) -> tuple[float, float]:
        """The smallest and largest value a draw can take (infinite when unbounded)."""
        return 0.0, math.inf

    # ``Dist`` (the union of the families) is resolved when ``distributions.py`` builds them
    level: float | Dist | None = Field(
        default=None,
        description="per-entity quantities only: a factor on the whole distribution, drawn once "
        "per seed (uncertainty about the level, e.g. the typical ACV, beside the deal-to-deal "
        "spread); 1 is the distribution as written")

    @model_validator(mode="after")
    def _level(self) -> Distribution:
        lv = self.level
        if lv is None:
            return self
        if isinstance(lv, Distribution) and lv.level is not None:
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
    def at_level(self, factor: float) -> Dist:
        """This distribution with its level drawn as ``factor``: ``factor * X``, no level left."""

    def scaled(self, factor: float) -> Dist:
        """The distribution of ``factor * X`` (used by stress levers); the level is kept."""
        out = self.at_level(factor)
        return out.model_copy(update={"level": self.level}) if self.level is not None else out

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


if TYPE_CHECKING:  # for the type checker, any distribution (every family derives from the base)
    Dist = Distribution


def _level_mean(level: float | Distribution | None) -> float:
    if level is None:
        return 1.0
    return float(level) if isinstance(level, int | float) else level.base_mean


def _level_variance(level: float | Distribution | None) -> float:
    return 0.0 if level is None or isinstance(level, int | float) else level.base_variance
