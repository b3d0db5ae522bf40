"""Generated invalid scenarios are rejected as a ScenarioError naming the key, never a crash."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sim.scenario.errors import ScenarioError
from sim.scenario.loader import scenario_from_yaml_text
from sim.scenario.templates import load_template, template_names

BAD_VALUES = st.sampled_from(["lots", -1.5, 7.0, [1, 2], {"dist": "nope"}, {"mean": 1},
                              True, None, {"dist": "lognormal", "mean": -3, "sd": 1}])


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append((*prefix, k))
            if "dist" not in node:
                out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def broken(draw):
    tpl = draw(st.sampled_from(template_names()))
    motion = {"template": tpl, **load_template(tpl)}
    motion.pop("description", None)
    paths = [p for p in _paths(motion) if p[0] != "template"]
    path = draw(st.sampled_from(paths))
    kind = draw(st.sampled_from(["value", "unknown_key"]))
    m = copy.deepcopy(motion)
    node = m
    for part in path[:-1]:
        node = node[part]
    if kind == "unknown_key" and isinstance(node, dict):
        node[f"{path[-1]}_typo"] = 1
    else:
        node[path[-1]] = draw(BAD_VALUES)
    return {"name": "broken", "motions": [m]}


@settings(max_examples=120, deadline=None)
@given(broken())
def test_invalid_scenarios_raise_scenario_errors_only(data):
    from io import StringIO

    from ruamel.yaml import YAML

    buf = StringIO()
    YAML().dump(data, buf)
    try:
        scenario_from_yaml_text(buf.getvalue(), "gen.yaml")
    except ScenarioError as e:
        assert e.problems
        for p in e.problems:
            assert p.file == "gen.yaml" and p.message
            assert p.line is not None or p.path  # every problem is placed in the file
    # some mutations are valid (a number swapped for another in range, a null where
    # null means "off"): those must simply load


# --- non-finite values and out-of-support distributions: always refused -------------

NON_FINITE = st.sampled_from([".nan", ".inf", "-.inf", "1e400", "-1e400"])


def _numeric_paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths of every number in a template, distribution parameters included."""
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _numeric_paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _numeric_paths(v, (*prefix, i))
    elif isinstance(node, int | float) and not isinstance(node, bool):
        out.append(prefix)
    return out


def _set(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    node: Any = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def _yaml_text(motion: dict[str, Any], marker: str, literal: str) -> str:
    from io import StringIO

    from ruamel.yaml import YAML

    buf = StringIO()
    YAML().dump({"name": "broken", "motions": [motion]}, buf)
    return buf.getvalue().replace(f"'{marker}'", literal).replace(marker, literal)


@settings(max_examples=80, deadline=None)
@given(st.data(), NON_FINITE)
def test_a_non_finite_number_anywhere_is_refused_at_its_key(data, literal):
    tpl = data.draw(st.sampled_from(template_names()))
    motion = {"template": tpl, **load_template(tpl)}
    motion.pop("description", None)
    path = data.draw(st.sampled_from(_numeric_paths(motion)))
    _set(motion, path, "NONFINITE")
    text = _yaml_text(motion, "NONFINITE", literal)
    try:
        scenario_from_yaml_text(text, "gen.yaml")
    except ScenarioError as e:
        keys = [str(k) for k in path]
        assert any(all(k in p.path for k in keys[-1:]) for p in e.problems), (path, e)
        return
    raise AssertionError(f"{literal} at {path} of template {tpl} was accepted")


def _prob_check() -> Any:
    from sim.scenario.schema_types import Param, Prob

    # Prob's own bound: every per-seed type shares Param's validators (no level on them)
    shared = [m for m in Param.__metadata__ if hasattr(m, "func")]
    return next(m for m in Prob.__metadata__
                if hasattr(m, "func") and not any(m is s for s in shared))


def _prob_paths(model: Any, node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths in a template's data of the fields typed ``Prob`` (a probability or share)."""
    from typing import get_args

    from pydantic import BaseModel

    check = _prob_check()
    out = []
    if not isinstance(node, dict):
        return out
    for k, v in node.items():
        info = model.model_fields.get(k)
        if info is None:
            continue
        if any(m is check for m in info.metadata):
            out.append((*prefix, k))
            continue
        kinds = [info.annotation, *get_args(info.annotation)]
        sub = next((t for t in kinds if isinstance(t, type) and issubclass(t, BaseModel)), None)
        if sub is not None:
            out += _prob_paths(sub, v, (*prefix, k))
        elif isinstance(v, list):
            inner = [a for t in kinds for a in get_args(t)]
            item = next((t for t in inner if isinstance(t, type) and issubclass(t, BaseModel)),
                        None)
            if item is not None:
                for i, x in enumerate(v):
                    out += _prob_paths(item, x, (*prefix, k, i))
    return out


OUT_OF_SUPPORT = st.sampled_from([
    {"dist": "uniform", "low": -0.5, "high": 0.6},
    {"dist": "beta", "a": 2, "b": 2, "low": -3, "high": 4},
    {"dist": "normal", "mean": 0.5, "sd": 0.1},
    {"dist": "triangular", "low": 0.2, "mode": 0.9, "high": 1.3},
    {"dist": "lognormal", "mean": 0.2, "sd": 0.1},
    {"dist": "poisson", "mean": 0.3},
])


@settings(max_examples=80, deadline=None)
@given(st.data(), OUT_OF_SUPPORT)
def test_a_distribution_reaching_outside_a_probability_is_refused(data, dist):
    from sim.scenario.schema import Motion

    tpl = data.draw(st.sampled_from(template_names()))
    motion = {"template": tpl, **load_template(tpl)}
    motion.pop("description", None)
    paths = _prob_paths(Motion, motion)
    assert paths, tpl
    path = data.draw(st.sampled_from(paths))
    _set(motion, path, dist)
    text = _yaml_text(motion, "unused-marker", "")
    try:
        scenario_from_yaml_text(text, "gen.yaml")
    except ScenarioError as e:
        assert any(str(path[-1]) in p.path and "between 0 and 1" in p.message
                   for p in e.problems), (path, e)
        return
    raise AssertionError(f"{dist} at {path} of template {tpl} was accepted")
