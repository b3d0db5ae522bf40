"""A motion's uncertain inputs, and the scenario's ``correlations:`` between them.

An *uncertain input* is a per-seed parameter (``Param``, ``Prob``, ``NonNeg``)
given as a distribution that is not ``fixed``: it is drawn once per seed
(``sim.engine.params``). Each has a readable key path, with stages and other
named list items called by their name (``stages.negotiation.advance``,
``sources.inbound.leads_per_month``, ``team.ae.ramp_months``); that key is the
column of ``inputs.parquet``, the ``driver`` of ``drivers.csv`` and the name a
``correlations:`` entry uses. Its random stream keeps the positional name it
always had (``stages[2].advance``), so the draws of a scenario without
correlations do not change.

``correlations:`` (scenario top level) is a list of pairwise rank (Spearman)
correlations between uncertain inputs of one motion::

    correlations:
      - motion: sales_led
        between: [sources.inbound.leads_per_month, stages.negotiation.advance]
        rank: 0.6

The pairs of a motion form its rank-correlation matrix (unit diagonal, zero
where no pair is given). The engine applies it with a Gaussian copula whose
normal-score correlation is ``2 sin(pi * rank / 6)`` (the exact relation between
Spearman's rho and Pearson's r for a bivariate normal), so the marginal
distribution of every input is unchanged.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cache
from typing import Any, get_args

import numpy as np
from pydantic import BaseModel, Field

from sim.scenario.dist_base import Distribution
from sim.scenario.distributions import Fixed, as_dist
from sim.scenario.schema_types import LocatedError, PerEntity, Strict

__all__ = [
    "Correlation",
    "UncertainInput",
    "central_scenario",
    "central_value",
    "copula_matrix",
    "is_per_seed",
    "phase_inputs",
    "rank_to_normal",
    "uncertain_inputs",
    "validate_correlations",
]


@dataclass(frozen=True)
class UncertainInput:
    """One uncertain per-seed parameter of a motion."""

    key: str  # readable key path: stages.negotiation.advance
    stream: str  # name of its random stream: stages[2].advance
    loc: tuple[str | int, ...]  # attribute / index path inside the motion
    dist: Any  # the distribution (a ``Dist``)


def _has_marker(annotation: Any, marker: type) -> bool:
    if any(isinstance(m, marker) for m in getattr(annotation, "__metadata__", ())):
        return True
    return any(_has_marker(a, marker) for a in get_args(annotation))


@cache
def is_per_seed(model: type[BaseModel], field: str) -> bool:
    """True unless the field is a per-entity ``Draw``."""
    info = model.model_fields[field]
    if any(isinstance(m, PerEntity) for m in info.metadata):
        return False
    return not _has_marker(info.annotation, PerEntity)


def _walk(value: Any, loc: tuple[str | int, ...], key: str, stream: str, per_seed: bool,
          out: list[UncertainInput]) -> None:
    if isinstance(value, Distribution):  # a distribution
        if per_seed and not isinstance(value, Fixed):
            out.append(UncertainInput(key, stream, loc, value))
        elif (not per_seed and isinstance(value.level, Distribution)
              and not isinstance(value.level, Fixed)):
            # a per-entity distribution's level: the typical entity, uncertain per seed
            out.append(UncertainInput(f"{key}.level", f"{stream}.level", (*loc, "level"),
                                      value.level))
        return
    if isinstance(value, BaseModel):
        for field in type(value).model_fields:
            if field == "phases":
                continue  # phases are motions of their own (``phase_inputs``)
            _walk(getattr(value, field), (*loc, field), f"{key}.{field}" if key else field,
                  f"{stream}.{field}" if stream else field, is_per_seed(type(value), field), out)
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            name = getattr(item, "name", None)
            part = name if isinstance(name, str) and name else str(i)
            _walk(item, (*loc, i), f"{key}.{part}", f"{stream}[{i}]", per_seed, out)


def uncertain_inputs(motion: BaseModel) -> list[UncertainInput]:
    """The motion's uncertain inputs, in the order of its fields (phases excluded)."""
    out: list[UncertainInput] = []
    _walk(motion, (), "", "", True, out)
    return out


def phase_inputs(motion: Any) -> list[list[tuple[UncertainInput, bool]]]:
    """For each phase ``j``, the uncertain inputs of the phase's motion, each as
    (input, own). An input with the distribution it had before the phase keeps the
    record key it had (``own`` False: the phase uses the same value); an input the
    phase writes anew is its own, recorded as ``phases.j.<key>``."""
    latest = {u.key: (u.dist, u.key) for u in uncertain_inputs(motion)}
    out = []
    for j, pm in enumerate(motion.phase_motions):
        items: list[tuple[UncertainInput, bool]] = []
        for u in uncertain_inputs(pm):
            prev = latest.get(u.key)
            if prev is not None and prev[0] == u.dist:
                items.append((UncertainInput(prev[1], u.stream, u.loc, u.dist), False))
            else:
                items.append((UncertainInput(f"phases.{j}.{u.key}", u.stream, u.loc, u.dist), True))
        latest = {u.key: (u.dist, x.key)
                  for u, (x, _) in zip(uncertain_inputs(pm), items, strict=True)}
        out.append(items)
    return out


class Correlation(Strict):
    """A rank correlation between two uncertain inputs of one motion."""

    motion: str = Field(min_length=1, description="the motion's name")
    between: tuple[str, str] = Field(
        description="two uncertain inputs of the motion, by key path "
                    "(e.g. sources.inbound.leads_per_month, stages.negotiation.advance)")
    rank: float = Field(ge=-1.0, le=1.0, description="Spearman rank correlation, -1..1")


def rank_to_normal(rank: float | np.ndarray) -> Any:
    """The normal-score (Pearson) correlation giving Spearman's ``rank``: 2 sin(pi r / 6)."""
    return 2.0 * np.sin(np.pi * np.asarray(rank, dtype=float) / 6.0)


def copula_matrix(keys: list[str], pairs: list[tuple[str, str, float]]) -> np.ndarray:
    """The normal-score correlation matrix over ``keys`` from (a, b, rank) pairs."""
    idx = {k: i for i, k in enumerate(keys)}
    c = np.eye(len(keys))
    for a, b, r in pairs:
        c[idx[a], idx[b]] = c[idx[b], idx[a]] = float(rank_to_normal(r))
    return c


def _not_psd(c: np.ndarray, tol: float = 1e-10) -> bool:
    return bool(np.linalg.eigvalsh(c).min() < -tol)


def _offending_block(c: np.ndarray) -> list[int]:
    """The smallest set of indices whose sub-matrix is not positive semi-definite."""
    n = c.shape[0]
    for size in range(3, min(n, 6) + 1):
        for sub in itertools.combinations(range(n), size):
            if _not_psd(c[np.ix_(sub, sub)]):
                return list(sub)
    return list(range(n))


def validate_correlations(correlations: list[Correlation], motions: list[Any]) -> None:
    """Names exist and are uncertain inputs of the motion; each pair once; the matrix of
    each motion positive semi-definite. Raises ``LocatedError`` at the entry at fault."""
    by_name = {m.name: m for m in motions}
    seen: dict[tuple[str, frozenset[str]], int] = {}
    per_motion: dict[str, list[tuple[int, str, str, float]]] = {}
    for i, c in enumerate(correlations):
        m = by_name.get(c.motion)
        if m is None:
            raise LocatedError(("correlations", i, "motion"),
                               f"no motion named {c.motion!r}; expected one of: "
                               f"{', '.join(by_name)}")
        inputs = {u.key for u in uncertain_inputs(m)}
        for k, name in enumerate(c.between):
            if name not in inputs:
                fixed = _fixed_keys(m)
                why = (f"{name} is a fixed number in motion {c.motion!r}: give it a distribution "
                       "to make it uncertain" if name in fixed else
                       f"{name} is not a parameter of motion {c.motion!r}")
                shown = ", ".join(sorted(inputs)) if inputs else "none: every parameter is fixed"
                raise LocatedError(("correlations", i, "between", k),
                                   f"{why}; its uncertain inputs are: {shown}")
        a, b = c.between
        if a == b:
            raise LocatedError(("correlations", i, "between"),
                               f"an input correlated with itself ({a}): name two inputs")
        pair = (c.motion, frozenset((a, b)))
        if pair in seen:
            raise LocatedError(("correlations", i, "between"),
                               f"the pair {a}, {b} of motion {c.motion!r} is already given in "
                               f"correlations[{seen[pair]}]: give each pair once")
        seen[pair] = i
        per_motion.setdefault(c.motion, []).append((i, a, b, c.rank))
    for motion, entries in per_motion.items():
        keys = sorted({k for _, a, b, _ in entries for k in (a, b)})
        mat = copula_matrix(keys, [(a, b, r) for _, a, b, r in entries])
        if not _not_psd(mat):
            continue
        block = [keys[j] for j in _offending_block(mat)]
        involved = [i for i, a, b, _ in entries if a in block and b in block]
        ranks = "; ".join(f"{a} ~ {b}: {r:g}" for i, a, b, r in entries if i in involved)
        raise LocatedError(("correlations", involved[-1] if involved else entries[-1][0]),
                           f"the rank correlations of motion {motion!r} between "
                           f"{', '.join(block)} cannot hold together (their matrix is not "
                           f"positive semi-definite): {ranks}; weaken one of them")


def _fixed_keys(motion: Any) -> set[str]:
    """Readable key paths of the motion's per-seed parameters given as numbers."""
    out: set[str] = set()

    def walk(value: Any, key: str, per_seed: bool) -> None:
        if isinstance(value, int | float) and not isinstance(value, bool) and per_seed or isinstance(value, Fixed) and per_seed:
            out.add(key)
        elif isinstance(value, BaseModel) and not isinstance(value, Distribution):
            for f in type(value).model_fields:
                if f != "phases":
                    walk(getattr(value, f), f"{key}.{f}" if key else f,
                         is_per_seed(type(value), f))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                name = getattr(item, "name", None)
                walk(item, f"{key}.{name if isinstance(name, str) and name else i}", per_seed)

    walk(motion, "", True)
    return out


def central_value(dist: Any) -> float:
    """The value ``--luck-only`` gives an uncertain input: its distribution's mean."""
    return float(as_dist(dist).mean)



def _set(node: Any, loc: tuple[str | int, ...], value: float) -> None:
    """Set ``node[loc...]`` if the whole path is there (a phase writes only some keys)."""
    for part in loc[:-1]:
        in_dict = isinstance(node, dict) and isinstance(node.get(part), dict | list)
        in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if not (in_dict or in_list):
            return
        node = node[part]
    last = loc[-1]
    if (isinstance(node, dict) and last in node) or (isinstance(node, list)
                                                     and isinstance(last, int)
                                                     and last < len(node)):
        node[last] = value  # type: ignore[index]


def central_scenario(scenario: Any) -> Any:
    """The scenario with every uncertain input at its central value (its distribution's
    mean) and no correlations: what ``--luck-only`` runs, so the spread left is luck."""
    data = scenario.model_dump(mode="json", by_alias=True)
    for i, m in enumerate(scenario.motions):
        md = data["motions"][i]
        for u in uncertain_inputs(m):
            _set(md, u.loc, central_value(u.dist))
        for j, items in enumerate(phase_inputs(m)):
            for u, own in items:
                if own:
                    _set(md["phases"][j], u.loc, central_value(u.dist))
    data["correlations"] = []
    return type(scenario).model_validate(data)
