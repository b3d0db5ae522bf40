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
