"""Per-seed realisation of a motion's parameters.

A ``Param`` given as a distribution is uncertainty about that parameter: it is
drawn once per seed, each parameter from its own stream named by its key path
(so adding an uncertain parameter does not move the others). ``Draw`` fields
(durations, ACVs) keep their distributions: they are drawn per entity by the
engine. A ``Draw`` distribution with a ``level`` (uncertainty about the typical
entity, e.g. the mean ACV) has its level drawn here, once per seed, from the
stream of ``<path>.level``, and is handed on as ``at_level(level)``.
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar, get_args

from pydantic import BaseModel

from sim.engine.rng import Streams
from sim.scenario.distributions import Fixed, _Base
from sim.scenario.schema import PerEntity

__all__ = ["realize", "num"]

M = TypeVar("M", bound=BaseModel)


def _has_marker(annotation: Any, marker: type) -> bool:
    if any(isinstance(m, marker) for m in getattr(annotation, "__metadata__", ())):
        return True
    return any(_has_marker(a, marker) for a in get_args(annotation))


@cache
def _is_per_seed(model: type[BaseModel], field: str) -> bool:
    """True unless the field is a per-entity ``Draw``."""
    info = model.model_fields[field]
    if any(isinstance(m, PerEntity) for m in info.metadata):
        return False
    return not _has_marker(info.annotation, PerEntity)


def _realize_value(value: Any, path: str, streams: Streams, per_seed: bool) -> Any:
    if isinstance(value, _Base):
        if not per_seed:
            if value.level is None:
                return value
            level = _realize_value(value.level, f"{path}.level", streams, True)
            return value.at_level(float(level))
        if isinstance(value, Fixed):
            return value.value
        return float(value.sample(streams.get("param", path)))
    if isinstance(value, BaseModel):
        return realize(value, streams, path)
    if isinstance(value, list):
        return [_realize_value(v, f"{path}[{i}]", streams, per_seed) for i, v in enumerate(value)]
    return value


def realize(model: M, streams: Streams, path: str = "") -> M:
    """A copy of ``model`` with every per-seed distribution replaced by a draw."""
    updates: dict[str, Any] = {}
    for field in type(model).model_fields:
        value = getattr(model, field)
        sub = f"{path}.{field}" if path else field
        new = _realize_value(value, sub, streams, _is_per_seed(type(model), field))
        if new is not value:
            updates[field] = new
    return model.model_copy(update=updates) if updates else model


def num(value: Any) -> float:
    """A realised parameter as a float (a fixed distribution counts as its value)."""
    if isinstance(value, _Base):
        return float(value.mean)
    return float(value)
