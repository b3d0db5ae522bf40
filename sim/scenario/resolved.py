"""The resolved scenario (templates merged, defaults filled) as YAML text."""

from __future__ import annotations

from io import StringIO

from ruamel.yaml import YAML

from sim.scenario.schema import Scenario

__all__ = ["resolved_yaml"]


def resolved_yaml(scenario: Scenario) -> str:
    y = YAML(typ="safe", pure=True)
    y.default_flow_style = False
    y.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    buf = StringIO()
    y.dump(scenario.model_dump(mode="json", by_alias=True, exclude_none=True), buf)
    return buf.getvalue()
