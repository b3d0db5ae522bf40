"""How a scenario's parts are merged: YAML nodes to plain data, overrides onto a base.

Below the schema, so that the schema (phases merge onto their motion), the template
reader and the loader share one merge without importing each other.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["EXCLUSIVE", "REPLACED_MAPPINGS", "deep_merge", "to_plain"]


def to_plain(node: Any) -> Any:
    """CommentedMap/Seq -> dict/list, recursively."""
    if isinstance(node, dict):
        return {str(k) if not isinstance(k, int) else k: to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    return node


# Mappings that are values, not sections: an override replaces them whole (a hiring
# plan written in a scenario is the plan, not additions to the template's plan).
REPLACED_MAPPINGS = frozenset({"hires"})
# Keys of which a section holds at most one: writing one drops the template's other.
EXCLUSIVE = {"marketing_spend_per_month": "cost_per_lead",
             "cost_per_lead": "marketing_spend_per_month"}


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key; anything else (lists, distributions, hiring plans) replaces."""
    out = copy.deepcopy(base)
    for k, v in override.items():
        other = EXCLUSIVE.get(k)
        if other is not None and v is not None and other not in override:
            out.pop(other, None)
        base_v = out.get(k)
        if (isinstance(v, dict) and isinstance(base_v, dict) and "dist" not in v
                and "dist" not in base_v and k not in REPLACED_MAPPINGS):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out
