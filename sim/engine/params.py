"""Per-seed realisation of a motion's uncertain inputs, into one record.

A ``Param`` given as a distribution is uncertainty about that parameter: it is
drawn once per seed. ``draw_inputs`` draws every uncertain input of a motion
(``sim.scenario.inputs.uncertain_inputs``) into one record ``{key path: value}``;
``realize_motion`` then builds the seed's motion from that record, so every
engine component reads its values from the realised motion and the same record
leaves the engine (``SeedRun.inputs``, the ``inputs.parquet`` table, the
drivers of the spread).

Streams. An input not named in ``correlations:`` is drawn from its own ``param``
stream named by its positional path (``stages[2].advance``), as it always was,
so adding an uncertain parameter does not move the others. The inputs of a
motion named in ``correlations:`` are drawn together through a Gaussian copula:
one standard normal per input from its own ``copula`` stream, correlated by the
Cholesky factor of the normal-score matrix, mapped to uniforms by the normal CDF
and to values by each distribution's inverse CDF (its marginal is unchanged).
Both kinds are *input* streams: a luck replicate (``Streams.luck``) leaves them
alone.

``Draw`` fields (durations, ACVs) keep their distributions: they are drawn per
entity by the engine. A ``Draw`` with a ``level`` (uncertainty about the typical
entity, e.g. the mean ACV) has the level as an input of its own, ``<path>.level``,
drawn with the others, and is handed on as ``at_level(level)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from pydantic import BaseModel

from sim.engine.rng import Streams
from sim.scenario.dist_base import Distribution
from sim.scenario.distributions import Fixed
from sim.scenario.inputs import (
    UncertainInput,
    copula_matrix,
    is_per_seed,
    phase_inputs,
    uncertain_inputs,
)
from sim.scenario.schema import Motion, Scenario

__all__ = ["SeedInputs", "draw_inputs", "num", "realize", "realize_motion", "seed_inputs"]

M = TypeVar("M", bound=BaseModel)


def _copula_factor(c: np.ndarray) -> np.ndarray:
    """A matrix ``L`` with ``L @ L.T == c`` (Cholesky; an eigen factor when ``c`` is singular)."""
    try:
        return np.linalg.cholesky(c)
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(c)
        return np.asarray(v * np.sqrt(np.clip(w, 0.0, None)))


def draw_inputs(inputs: list[UncertainInput], streams: Streams,
                pairs: list[tuple[str, str, float]] | None = None) -> dict[str, float]:
    """One seed's value of each input, ``{key: value}`` (``pairs``: (a, b, rank) correlations)."""
    record: dict[str, float] = {}
    corr = sorted({k for a, b, _ in pairs or [] for k in (a, b)})
    if corr:
        from scipy.special import ndtr

        factor = _copula_factor(copula_matrix(corr, pairs or []))
        e = np.array([streams.get("copula", k).standard_normal() for k in corr])
        u = np.clip(ndtr(factor @ e), 1e-12, 1.0 - 1e-12)
        by_key = {x.key: x for x in inputs}
        for k, ui in zip(corr, u, strict=True):
            record[k] = float(by_key[k].dist.ppf(np.array([ui]))[0])
    for x in inputs:
        if x.key not in record:
            record[x.key] = float(x.dist.sample(streams.get("param", x.stream)))
    return {x.key: record[x.key] for x in inputs}  # in the motion's field order


def _realize_value(value: Any, path: str, values: dict[str, float], per_seed: bool) -> Any:
    if isinstance(value, Distribution):
        if not per_seed:  # drawn per entity by the engine; its level, once per seed
            lv = value.level
            if lv is None:
                return value
            if isinstance(lv, Distribution) and not isinstance(lv, Fixed):
                return value.at_level(values[f"{path}.level"])
            return value.at_level(float(lv.value if isinstance(lv, Fixed) else lv))
        if isinstance(value, Fixed):
            return value.value
        return values[path]
    if isinstance(value, BaseModel):
        return realize(value, values, path)
    if isinstance(value, list):
        return [_realize_value(v, f"{path}[{i}]", values, per_seed) for i, v in enumerate(value)]
    return value


def realize(model: M, values: dict[str, float], path: str = "") -> M:
    """A copy of ``model`` with every per-seed distribution replaced by its value in
    ``values`` (keyed by stream path) and every fixed one by its number."""
    updates: dict[str, Any] = {}
    for field in type(model).model_fields:
        if field == "phases":
            continue
        value = getattr(model, field)
        sub = f"{path}.{field}" if path else field
        new = _realize_value(value, sub, values, is_per_seed(type(model), field))
        if new is not value:
            updates[field] = new
    return model.model_copy(update=updates) if updates else model


def realize_motion(motion: Motion, inputs: list[UncertainInput],
                   record: dict[str, float], prefix: str = "") -> Motion:
    """The motion with each uncertain input set to its value in ``record``."""
    return realize(motion, {x.stream: record[prefix + x.key] for x in inputs})


@dataclass
class SeedInputs:
    """A seed's uncertain inputs: the record, and the motion of each phase built from it."""

    record: dict[str, float]  # key path -> value; a phase's own inputs as phases.j.<key>
    motion: Motion  # the realised motion
    phases: list[Motion]  # the realised motion of each phase (phases[j])


def seed_inputs(scenario: Scenario, motion: Motion, seed_index: int) -> SeedInputs:
    """Draw the seed's inputs once and realise the motion and its phases from them.

    A phase's motion takes the motion's value for every input it shares with the
    same distribution; an input a phase writes anew is drawn from a fresh set of
    the seed's streams (so it is the same draw whenever that phase starts) and
    recorded as ``phases.j.<key>``.
    """
    streams = Streams(scenario.seed, seed_index)
    inputs = uncertain_inputs(motion)
    # a lever can turn an input into a fixed value (a probability scaled past 1): its
    # correlations no longer apply
    keys = {x.key for x in inputs}
    pairs = [(*c.between, c.rank) for c in scenario.correlations
             if c.motion == motion.name and set(c.between) <= keys]
    record = draw_inputs(inputs, streams, pairs)
    realised = realize_motion(motion, inputs, record)
    phases: list[Motion] = []
    for j, items in enumerate(phase_inputs(motion)):
        own = [x for x, is_own in items if is_own]
        record.update(draw_inputs(own, Streams(scenario.seed, seed_index)))
        phases.append(realize(motion.phase_motions[j], {x.stream: record[x.key] for x, _ in items}))
    return SeedInputs(record, realised, phases)


def num(value: Any) -> float:
    """A realised parameter as a float (a fixed distribution counts as its value)."""
    if isinstance(value, Distribution):
        return float(value.mean)
    return float(value)
