"""Field types shared by every part of the scenario format.

``Param`` (drawn once per seed when given as a distribution), ``Prob`` and
``NonNeg`` (bounded ``Param``), ``Draw`` (drawn per entity), the ``Strict`` base
model (unknown keys and non-finite numbers are errors), ``limited`` (a size
capped by ``sim.scenario.limits``) and ``LocatedError`` (an error that knows its
key path below the model that raised it).

A bound is checked on everything a field can take: a number, or the whole
support of a distribution (``Dist.support``), not only its mean.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict

from sim.scenario.distributions import Dist
from sim.scenario.limits import LIMITS, limit_message

__all__ = ["Draw", "LocatedError", "NonNeg", "Param", "PerEntity", "PerSeed", "Prob", "ROLES",
           "RoleName", "SELLING_ROLES", "Strict", "limited", "mean_of"]


class LocatedError(ValueError):
    """A validation error that knows which key, below the model, it is about."""

    def __init__(self, loc: tuple[str | int, ...], message: str):
        super().__init__(message)
        self.loc = loc


class PerSeed:
    """Marker: a distribution on this field is drawn once per seed."""


class PerEntity:
    """Marker: a distribution on this field is drawn for every entity."""


def _bounded(low: float | None, high: float | None, what: str) -> Any:
    """A number inside [low, high]; a distribution whose whole support is inside it."""
    lo_b = -math.inf if low is None else low
    hi_b = math.inf if high is None else high

    def check(v: Any) -> Any:
        if isinstance(v, int | float):
            if not lo_b <= v <= hi_b:
                raise ValueError(f"expected {what}, got {v:g}")
            return v
        support = getattr(v, "support", None)
        if support is None:
            return v
        lo, hi = support
        if lo < lo_b or hi > hi_b:
            raise ValueError(f"expected {what}: this {v.dist} distribution takes values from "
                             f"{_fmt(lo)} to {_fmt(hi)}, outside [{_fmt(lo_b)}, {_fmt(hi_b)}]; "
                             f"{_hint(lo_b, hi_b)}")
        return v

    return AfterValidator(check)


def _fmt(x: float) -> str:
    return "infinity" if x == math.inf else "-infinity" if x == -math.inf else f"{x:g}"


def _hint(low: float, high: float) -> str:
    if math.isfinite(high):
        return (f"use a distribution bounded inside it (beta, uniform, triangular or pert "
                f"with low >= {_fmt(low)} and high <= {_fmt(high)})")
    return (f"use one that cannot go below {_fmt(low)} (lognormal, exponential, normal (cut at "
            f"0), or uniform, triangular, pert, beta with low >= {_fmt(low)})")


def limited(key: str) -> Any:
    """A size at most ``LIMITS[key]`` (a distribution: its largest value)."""
    cap = LIMITS[key].value

    def check(v: Any) -> Any:
        top = v if isinstance(v, int | float) else getattr(v, "support", (0.0, 0.0))[1]
        if top > cap:
            raise ValueError(limit_message(key, top))
        return v

    return AfterValidator(check)


def _no_level(v: Any) -> Any:
    """A per-seed parameter's distribution is already its uncertainty: no level on top."""
    if getattr(v, "level", None) is not None:
        raise ValueError("a level is for per-entity quantities (durations, ACVs, seats); this "
                         "parameter is drawn once per seed already: widen its distribution instead")
    return v


_PER_SEED = AfterValidator(_no_level)
Param = Annotated[float | Dist, PerSeed(), _PER_SEED]
Prob = Annotated[float | Dist, PerSeed(), _PER_SEED,
                 _bounded(0.0, 1.0, "a probability between 0 and 1")]
NonNeg = Annotated[float | Dist, PerSeed(), _PER_SEED, _bounded(0.0, None, "a value >= 0")]
Draw = Annotated[float | Dist, PerEntity(), _bounded(0.0, None, "a value >= 0")]

ROLES = ("founder", "sdr", "ae", "se", "csm", "partner_manager")
SELLING_ROLES = ("founder", "sdr", "ae", "se", "partner_manager")
RoleName = Literal["founder", "sdr", "ae", "se", "csm", "partner_manager"]


class Strict(BaseModel):
    """Unknown keys are errors; every number must be finite (no .nan, .inf or 1e400)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def mean_of(v: Any) -> float:
    """A parameter's value, or its distribution's mean."""
    return float(v) if isinstance(v, int | float) else float(v.mean)
