"""pydantic's validation errors in the words of a scenario's author.

Each error is mapped back to the key path of the user's own text (pydantic's
union-branch markers dropped, motions renumbered to the file's indices), to its
line in the file (``yaml_io.line_of``), and to a message a strategist reads: the
parameters a distribution takes, the bound a value broke, the template a value
came from.
"""

from __future__ import annotations

from typing import Any, get_args

from pydantic import ValidationError

from sim.scenario.distributions import DIST_NAMES, Dist
from sim.scenario.errors import Problem, format_path
from sim.scenario.schema_types import LocatedError
from sim.scenario.yaml_io import line_of, node_at

__all__ = ["problems_from_validation"]


def _describe(err: dict[str, Any], loc: tuple[Any, ...] = (), node: Any = None) -> str:
    """A pydantic error in words a strategist reads (``node``: the user's parent mapping)."""
    kind = err["type"]
    last = loc[-1] if loc else None
    dist = node.get("dist") if isinstance(node, dict) else None
    if dist in _DIST_PARAMS and kind in ("extra_forbidden", "missing"):
        takes = ", ".join(_DIST_PARAMS[dist])
        if kind == "extra_forbidden":
            return f"unknown parameter '{last}' for a {dist} distribution; {dist} takes {takes}"
        return f"a {dist} distribution needs '{last}' ({dist} takes {takes})"
    if last == "hires" and kind in ("dict_type", "model_type"):
        return "hires are month: count pairs, e.g. {6: 1, 12: 2} (month 6: one hire, month 12: two)"
    got = err.get("input")
    ctx = err.get("ctx") or {}
    shown = repr(got) if not isinstance(got, dict | list) else type(got).__name__
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; see `revsim templates show` for valid keys)"
    if kind == "missing":
        return "required key is missing"
    if kind == "finite_number":
        return (f"expected a finite number, got {shown} (.nan and .inf are not numbers, and a "
                "literal past about 1.8e308 reads as infinity)")
    if kind in ("float_parsing", "float_type"):
        return f"expected a number, got {shown}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"expected a whole number, got {shown}"
    if kind in ("bool_parsing", "bool_type"):
        return f"expected true or false, got {shown}"
    if kind in ("string_type",):
        return f"expected text, got {shown}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        op = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<",
              "less_than_equal": "<="}[kind]
        bound = next(iter(ctx.values()), "?")
        return f"expected a value {op} {bound}, got {shown}"
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected', '?')}, got {shown}"
    if kind == "union_tag_invalid":
        return (f"unknown distribution {ctx.get('tag')!r}; expected one of: "
                + ", ".join(DIST_NAMES))
    if kind == "union_tag_not_found":
        return "a distribution needs a 'dist' key, e.g. {dist: lognormal, mean: 45, sd: 20}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping of keys, got {shown}"
    if kind == "list_type":
        return f"expected a list, got {shown}"
    if kind == "too_short":
        return "expected at least one entry"
    if kind == "value_error":
        return str(ctx.get("error", err.get("msg", "invalid value")))
    return str(err.get("msg", kind))


def _dist_params() -> dict[str, tuple[str, ...]]:
    out = {}
    for cls in get_args(get_args(Dist)[0]):
        fields = cls.model_fields
        name = fields["dist"].default
        # ``level`` (every distribution's optional per-seed factor) is not listed
        out[name] = tuple((f.alias or k) for k, f in fields.items() if k not in ("dist", "level"))
    return out


_DIST_PARAMS = _dist_params()

_UNION_TAGS = ("float", "function-after", "tagged-union", "int", "none", "str")


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop pydantic's union-branch markers from an error location."""
    out: list[Any] = []
    for part in loc:
        if isinstance(part, str) and (
            part.startswith(_UNION_TAGS) and ("[" in part or part in _UNION_TAGS)
        ):
            continue
        if isinstance(part, str) and part in DIST_NAMES and out and out[-1] != "dist":
            # the branch of a tagged union: the field path continues without it
            continue
        out.append(part)
    return tuple(out)


def problems_from_validation(
    e: ValidationError, file: str, root: Any, motion_templates: dict[int, str],
    motion_index: list[int],
) -> list[Problem]:
    """Each of pydantic's errors as a ``Problem`` at the user's line and key path.

    ``root`` is the parsed file, ``motion_templates`` the template of each motion (by
    the user's index), ``motion_index`` the user's index of each motion validated
    (motions that failed before validation were left out).
    """
    errs: list[dict[str, Any]] = [dict(x) for x in e.errors()]
    for err in errs:
        loc: list[Any] = list(err["loc"])
        located = (err.get("ctx") or {}).get("error")
        if isinstance(located, LocatedError):
            loc += list(located.loc)
        if (len(loc) >= 2 and loc[0] == "motions" and isinstance(loc[1], int)
                and loc[1] < len(motion_index)):
            loc[1] = motion_index[loc[1]]
        err["loc"] = tuple(loc)
    # float | distribution: pydantic reports one error per branch; keep the most telling.
    by_loc: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for err in errs:
        by_loc.setdefault(_clean_loc(tuple(err["loc"])), []).append(err)
    # a mapping the user meant as a distribution: drop the "not a number" branch
    deeper = {loc[:i] for loc in by_loc for i in range(1, len(loc))}
    problems: list[Problem] = []
    for where, group in by_loc.items():
        kinds = {g["type"] for g in group}
        if where in deeper:
            group = [g for g in group if g["type"] not in
                     ("float_type", "float_parsing", "dict_type", "model_attributes_type")]
            if not group:
                continue
            kinds = {g["type"] for g in group}
        if {"float_parsing", "float_type"} & kinds and (
            {"model_attributes_type", "dict_type", "model_type"} & kinds
        ):
            msg = (
                f"expected a number or a distribution such as {{dist: lognormal, mean: 45, sd: 20}}, "
                f"got {group[0].get('input')!r}"
            )
        else:
            # prefer the error of the distribution branch when the user wrote a mapping
            group.sort(key=lambda g: g["type"] in ("float_type", "float_parsing"))
            msg = _describe(group[0], where, node_at(root, where[:-1]))
        tpl = motion_templates.get(where[1]) if len(where) >= 2 and where[0] == "motions" else None
        if "revsim templates show`" in msg and tpl:
            msg = msg.replace("revsim templates show`", f"revsim templates show {tpl}`")
        line, found = line_of(root, where)
        if found < len(where) and tpl and found <= 2:
            msg += f" (the value comes from template '{tpl}')"
        problems.append(Problem(file, line, format_path(where), msg))
    return sorted(problems, key=lambda p: (p.line or 0, p.path))
