"""Levers: named, motion-independent knobs for stress tests and sensitivity.

A phased motion's phases take the same shocks as the motion they change.

A lever governs a list of parameter paths; a factor multiplies every one of them
that the motion has (``win_rate=0.8`` multiplies the last stage's advance and the
PQL conversion by 0.8). Distributions are scaled (``Dist.scaled``); probabilities
are capped at 1; hiring months and lags are stretched and rounded to whole
months. A lever that governs nothing in a motion leaves it unchanged.
"""

from __future__ import annotations

import math
from typing import Any

from sim.scenario.dist_base import Distribution
from sim.scenario.distributions import Fixed
from sim.scenario.lever_names import LEVERS, PROBABILITIES, SHOCK_SETS
from sim.scenario.schema import Motion, Scenario

__all__ = ["LEVERS", "SHOCK_SETS", "apply_levers", "governed_paths", "shock_scenario"]

def _scale(value: Any, factor: float, key: str) -> Any:
    if value is None:
        return None
    if key == "hires":
        return {int(round(int(m) * factor)): c for m, c in value.items()}
    if isinstance(value, Distribution):
        scaled = value.scaled(factor)
        if key in PROBABILITIES and scaled.mean > 1:
            return Fixed(value=1.0)
        if key in PROBABILITIES and scaled.support[1] > 1:
            return _capped_at_one(scaled)
        return scaled
    x = float(value) * factor
    if key == "backfill_lag_months":
        return float(round(x))
    return min(x, 1.0) if key in PROBABILITIES else x


def _capped_at_one(d: Distribution) -> Distribution:
    """A scaled probability whose range passes 1 (its mean does not): its bounds cut at 1,
    so the lever saturates at certainty rather than describing an impossible rate."""
    bounds = {f: min(float(getattr(d, f)), 1.0) for f in ("low", "mode", "high")
              if hasattr(d, f)}
    if not bounds or bounds.get("low", 0.0) >= 1.0:
        return Fixed(value=1.0)
    return d.model_copy(update=bounds)


def _expand(motion: dict[str, Any], path: str) -> list[tuple[Any, ...]]:
    """Concrete key paths of ``path`` present (and not null) in the motion's data."""
    out: list[tuple[Any, ...]] = []

    def walk(node: Any, parts: list[str], prefix: tuple[Any, ...]) -> None:
        if node is None:
            return
        if not parts:
            out.append(prefix)
            return
        head, rest = parts[0], parts[1:]
        if head.startswith("stages["):
            stages = node.get("stages") or []
            sel = head[len("stages["):-1]
            names = [st["name"] for st in stages]
            qual = (node.get("qualification") or {}).get("stage")
            q = names.index(qual) if qual in names else 0
            idx = {"*": range(len(stages)), "-1": [len(stages) - 1], "q": [q]}[sel]
            for i in idx:
                walk(stages[i], rest, (*prefix, "stages", i))
        elif head == "*":
            for k, v in (node or {}).items():
                walk(v, rest, (*prefix, k))
        elif isinstance(node, dict) and head in node:
            walk(node[head], rest, (*prefix, head))

    walk(motion, path.split("."), ())
    return out


def governed_paths(motion: Motion, lever: str) -> list[tuple[Any, ...]]:
    data = motion.model_dump(by_alias=True, round_trip=True)
    return [p for path in LEVERS[lever] for p in _expand(data, path)]


def apply_levers(motion: Motion, shocks: dict[str, float]) -> Motion:
    """The motion with every governed parameter multiplied by its lever's factor."""
    if all(math.isclose(f, 1.0) for f in shocks.values()):
        return motion
    data = motion.model_dump(by_alias=True, round_trip=True)
    objects: dict[tuple[Any, ...], Any] = {}
    for lever, factor in shocks.items():
        for path in governed_paths(motion, lever):
            node: Any = motion
            for part in path:
                node = node[part] if isinstance(part, int) else getattr(node, part)
            objects[path] = _scale(objects.get(path, node), factor, str(path[-1]))
    for path, value in objects.items():
        target: Any = data
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
    shocked = Motion.model_validate(data)
    # each phase's motion takes the same shocks (what a phase writes is shocked too)
    shocked._phase_motions = [apply_levers(pm, shocks) for pm in motion.phase_motions]
    return shocked


def shock_scenario(scenario: Scenario, shocks: dict[str, float]) -> Scenario:
    unknown = [k for k in shocks if k not in LEVERS]
    if unknown:
        raise KeyError(", ".join(unknown))
    motions = [apply_levers(m, shocks) for m in scenario.motions]
    return scenario.model_copy(update={"motions": motions})
