"""Motion templates: YAML data files in ``sim/templates/``, one per motion.

A template is the body of a motion (sources, stages, team, deal, ...) with
calibrated defaults and a comment per parameter giving its meaning and the
benchmark it comes from. It is data, never code: a new motion is a new file.
"""

from __future__ import annotations

import copy
from functools import cache
from importlib import resources
from typing import Any

from ruamel.yaml import YAML

__all__ = ["load_template", "template_names", "template_text", "template_fragment"]


def _dir() -> Any:
    return resources.files("sim.templates")


@cache
def template_names() -> tuple[str, ...]:
    return tuple(sorted(p.name[:-5] for p in _dir().iterdir() if p.name.endswith(".yaml")))


def template_text(name: str) -> str:
    return (_dir() / f"{name}.yaml").read_text(encoding="utf-8")


@cache
def _load(name: str) -> dict[str, Any]:
    from sim.scenario.merge import to_plain

    data = to_plain(YAML(typ="rt").load(template_text(name)))
    if not isinstance(data, dict):
        raise ValueError(f"template {name} is not a mapping")
    return data


def load_template(name: str) -> dict[str, Any]:
    """The template's defaults as plain data (a fresh copy)."""
    return copy.deepcopy(_load(name))


def template_description(name: str) -> str:
    return str(_load(name).get("description", "")).strip()


def template_fragment(name: str) -> str:
    """The template as a valid scenario fragment, comments included."""
    body = "\n".join(("    " + ln) if ln.strip() else "" for ln in template_text(name).splitlines())
    return (
        f"# Defaults of the '{name}' motion template, as a scenario you can copy and edit.\n"
        f"# Keep only the keys you change: the rest come from the template.\n"
        f"name: {name}-defaults\n"
        f"horizon_months: 36\n"
        f"motions:\n"
        f"  - template: {name}\n"
        f"{body}\n"
    )
