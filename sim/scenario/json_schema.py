"""JSON Schema of scenario *files* (``revsim schema``), for editors.

In a file a motion names its template (or the motion it is ``based_on``) and
overrides any part of it, so the motion's sections are optional there; lists (``stages``) replace the template's
and keep their required keys.
"""

from __future__ import annotations

from typing import Any

from sim.scenario.schema import Scenario
from sim.scenario.templates import template_names

__all__ = ["scenario_json_schema"]

_OVERRIDABLE = ("Motion", "Deal")


def scenario_json_schema() -> dict[str, Any]:
    schema = Scenario.model_json_schema(by_alias=True)
    defs = schema.get("$defs", {})
    for name in _OVERRIDABLE:
        if name in defs:
            defs[name].pop("required", None)
    motion = defs.get("Motion", {})
    # a motion starts from a template or from another motion of the file
    motion.pop("required", None)
    motion["oneOf"] = [{"required": ["template"]}, {"required": ["based_on", "name"]}]
    props = motion.get("properties", {})
    if "template" in props:
        props["template"] = {"type": "string", "enum": list(template_names()),
                             "description": "the motion template whose defaults this motion starts from"}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "revsim scenario"
    return schema
