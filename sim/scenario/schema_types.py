"""Field types shared by every part of the scenario format.

``Param`` (drawn once per seed when given as a distribution), ``Prob`` and
``NonNeg`` (bounded ``Param``), ``Draw`` (drawn per entity), the ``Strict`` base
model (unknown keys are errors) and ``LocatedError`` (an error that knows its
key path below the model that raised it).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict

from sim.scenario.distributions import Dist

__all__ = ["Draw", "LocatedError", "NonNeg", "Param", "PerEntity", "PerSeed", "Prob", "ROLES",
           "RoleName", "SELLING_ROLES", "Strict", "mean_of"]


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
    def check(v: Any) -> Any:
        x = v if isinstance(v, int | float) else getattr(v, "mean", None)
        if x is None:
            return v
        if (low is not None and x < low) or (high is not None and x > high):
            shown = "a distribution with mean " if not isinstance(v, int | float) else ""
            raise ValueError(f"expected {what}, got {shown}{x:g}")
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
    model_config = ConfigDict(extra="forbid", frozen=True)


def mean_of(v: Any) -> float:
    """A parameter's value, or its distribution's mean."""
    return float(v) if isinstance(v, int | float) else float(v.mean)
