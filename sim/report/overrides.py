"""The inputs a motion changes: from its template, or from another motion.

``template_overrides`` lists every input of a motion that differs from its
template's default (the report's "What was assumed"); ``motion_differences``
the inputs in which two motions differ (what drives the gap in a comparison).
Values are written as a reader reads them: distributions, hiring plans, sections.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sim.report.wording import num

__all__ = ["motion_differences", "template_overrides"]

_SKIP_OVERRIDE = {"name", "template", "description", "based_on"}
_LEAF_MAPPINGS = {"hires"}


def _fmt_input(v: Any) -> str:
    """An input value as a reader reads it: distributions, hiring plans, sections."""
    if v is None:
        return "none (off)"
    if isinstance(v, dict):
        if "dist" in v:
            args = ", ".join(f"{k}={_fmt_input(x) if isinstance(x, dict) else num(x)}"
                             for k, x in v.items() if k != "dist")
            return f"{v['dist']}({args})"
        if not v:
            return "{}"
        if all(isinstance(k, int) or str(k).isdigit() for k in v):
            return ", ".join(f"month {k}: {num(x)}" for k, x in
                             sorted(v.items(), key=lambda kv: int(kv[0])))
        return "{" + ", ".join(f"{k}: {_fmt_input(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        if v and all(isinstance(x, dict) and "name" in x for x in v):
            return ", ".join(str(x["name"]) for x in v)
        return "[" + ", ".join(_fmt_input(x) for x in v) + "]"
    return num(v)


@cache
def _template_defaults(template: str) -> dict[str, Any]:
    from sim.scenario.loader import scenario_from_dict

    sc = scenario_from_dict({"name": "x", "motions": [{"template": template}]})
    return sc.motions[0].model_dump(by_alias=True)


def _diff(value: Any, default: Any, path: str, out: list[dict[str, str]]) -> None:
    leaf_key = path.rsplit(".", 1)[-1]
    if (isinstance(value, dict) and isinstance(default, dict) and "dist" not in value
            and "dist" not in default and leaf_key not in _LEAF_MAPPINGS):
        for k in list(default) + [k for k in value if k not in default]:
            if not path and k in _SKIP_OVERRIDE:
                continue
            _diff(value.get(k), default.get(k), f"{path}.{k}" if path else str(k), out)
        return
    if (isinstance(value, list) and isinstance(default, list) and len(value) == len(default)
            and all(isinstance(x, dict) for x in value + default)):
        for i, (a, b) in enumerate(zip(value, default, strict=True)):
            _diff(a, b, f"{path}[{i}]", out)
        return
    if value != default:
        out.append({"path": path, "value": _fmt_input(value), "default": _fmt_input(default)})


def template_overrides(motion: Any) -> list[dict[str, str]]:
    """Every input of ``motion`` that differs from its template: path, value, default."""
    try:
        default = _template_defaults(motion.template)
    except Exception:  # noqa: BLE001 - a template that no longer loads: show nothing to diff
        return []
    out: list[dict[str, str]] = []
    _diff(motion.model_dump(by_alias=True), default, "", out)
    return out


def motion_differences(a: Any, b: Any) -> list[dict[str, str]]:
    """Every input in which motion ``a`` differs from motion ``b``: path, value in a, in b.

    The same walk as ``template_overrides``, with ``b`` in place of the template, so a
    reader of a comparison sees what drives the gap between two motions.
    """
    out: list[dict[str, str]] = []
    _diff(a.model_dump(by_alias=True), b.model_dump(by_alias=True), "", out)
    return [{"path": o["path"], "a": o["value"], "b": o["default"]} for o in out]
