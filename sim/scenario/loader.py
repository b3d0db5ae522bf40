"""Read scenario files: safe YAML with line numbers, template merge, validation.

The path of a scenario file into the engine:

1. ruamel.yaml's round-trip loader (safe: it builds only plain mappings, lists
   and scalars) parses the file and remembers the line of every key.
2. Each motion's overrides are deep-merged onto its template (mappings merge,
   lists such as ``stages`` replace), or onto another motion of the file that it
   is ``based_on`` (that motion as merged).
3. pydantic validates the merged data (``sim.scenario.schema``).
4. Any error is mapped back to the file, the line and the key path of the
   user's own text, and raised as one ``ScenarioError`` listing every problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from sim.scenario.distributions import DIST_NAMES, Dist
from sim.scenario.errors import Problem, ScenarioError
from sim.scenario.limits import LIMITS, MAX_FILE_BYTES, MAX_YAML_NODES, limit_message
from sim.scenario.merge import deep_merge, to_plain
from sim.scenario.schema import LocatedError, Scenario
from sim.scenario.templates import load_template, template_names

__all__ = ["load_scenario", "load_scenario_with_warnings", "scenario_from_dict", "deep_merge",
           "format_path"]

_TOP_LEVEL = set(Scenario.model_fields)


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.allow_duplicate_keys = False
    return y


def parse_yaml(text: str, file: str) -> Any:
    """Parse YAML text; syntax errors, duplicate keys, oversized text and alias bombs
    become a ScenarioError."""
    _check_size(len(text.encode("utf-8", "replace")), file)
    try:
        data = _yaml().load(text)
    except MarkedYAMLError as e:
        line, what = _yaml_problem(e)
        raise ScenarioError([Problem(file, line, "", f"not valid YAML: {what}")]) from None
    except YAMLError as e:
        raise ScenarioError([Problem(file, None, "", f"not valid YAML: {e}")]) from None
    except RecursionError:
        raise ScenarioError([Problem(file, None, "", "not valid YAML: nested too deeply")]) from None
    _check_expansion(data, file)
    return data


def _check_size(n_bytes: int, file: str) -> None:
    if n_bytes > MAX_FILE_BYTES:
        raise ScenarioError([Problem(file, None, "", (
            f"the file is {n_bytes / 2**20:.1f} MB; a scenario file is at most "
            f"{MAX_FILE_BYTES // 2**20} MB (a page of settings is a few KB)"))])


def _check_expansion(root: Any, file: str) -> None:
    """Refuse a document whose aliases (``*name``) expand past ``MAX_YAML_NODES`` values
    or refer to themselves. The parser shares an aliased node rather than copying it, so
    sizes are counted once per distinct node (memoised) and the check is quick even on
    a bomb that would expand to billions."""
    sizes: dict[int, int] = {}
    busy: set[int] = set()

    def size(node: Any) -> int:
        if not isinstance(node, dict | list):
            return 1
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in busy:
            raise ScenarioError([Problem(file, None, "", (
                "a YAML alias (*name) refers to a mapping or list that contains it; "
                "write the values out"))])
        busy.add(key)
        children = node.values() if isinstance(node, dict) else node
        total = 1 + sum(size(c) for c in children)
        busy.discard(key)
        sizes[key] = total
        if total > MAX_YAML_NODES:
            raise ScenarioError([Problem(file, None, "", (
                f"the YAML aliases (&name, *name) expand to more than {MAX_YAML_NODES:,} keys "
                f"and values; a scenario is at most that large once expanded (aliases may "
                f"repeat a block, not multiply it)"))])
        return total

    try:
        size(root)
    except RecursionError:
        raise ScenarioError([Problem(file, None, "", "the YAML is nested too deeply")]) from None


def _yaml_problem(e: MarkedYAMLError) -> tuple[int | None, str]:
    """The line and a plain-words reading of a YAML parser error."""
    mark = e.problem_mark or e.context_mark
    line = mark.line + 1 if mark is not None else None
    problem = (e.problem or str(e)).strip()
    context = (e.context or "").strip()
    if "duplicate key" in str(e):
        return line, f"duplicate key: {problem}"
    if "'\\t'" in problem or "\t" in problem:
        return line, "a tab is used for indentation; YAML needs spaces"
    if "flow mapping" in context or "flow sequence" in context:
        opened = e.context_mark.line + 1 if e.context_mark is not None else line
        bracket = "{" if "mapping" in context else "["
        return opened, (f"a '{bracket}' opened on this line is not closed "
                        "(or a ',' is missing between its entries)")
    if "expected <block end>" in problem or "block mapping" in context:
        return line, "this line's indentation does not line up with the lines above it"
    return line, problem


def format_path(loc: tuple[Any, ...] | list[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _line_of(root: Any, loc: tuple[Any, ...]) -> tuple[int | None, int]:
    """Line (1-based) of the deepest part of ``loc`` present in the user's file.

    Returns the line and how many parts of ``loc`` were found there.
    """
    node = root
    line: int | None = None
    found = 0
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line = node.lc.key(part)[0] + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line = node.lc.item(part)[0] + 1
            node = node[part]
        else:
            break
        found += 1
    return line, found


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
    from typing import get_args

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


def _node_at(root: Any, loc: tuple[Any, ...]) -> Any:
    node = root
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _problems_from_validation(
    e: ValidationError, file: str, root: Any, motion_templates: dict[int, str],
    motion_index: list[int],
) -> list[Problem]:
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
            msg = _describe(group[0], where, _node_at(root, where[:-1]))
        tpl = motion_templates.get(where[1]) if len(where) >= 2 and where[0] == "motions" else None
        if "revsim templates show`" in msg and tpl:
            msg = msg.replace("revsim templates show`", f"revsim templates show {tpl}`")
        line, found = _line_of(root, where)
        if found < len(where) and tpl and found <= 2:
            msg += f" (the value comes from template '{tpl}')"
        problems.append(Problem(file, line, format_path(where), msg))
    return sorted(problems, key=lambda p: (p.line or 0, p.path))


def _check_top(data: Any, file: str) -> None:
    if not isinstance(data, CommentedMap):
        raise ScenarioError(
            [Problem(file, 1, "", "a scenario file must be a mapping with name, motions, ...")]
        )


def _motion_base(
    m: CommentedMap, i: int, file: str, names: dict[str, int]
) -> tuple[str | None, Problem | None]:
    """What a motion starts from: ``template: T`` or ``based_on: OTHER`` (one of the two)."""
    line = m.lc.key("based_on")[0] + 1 if "based_on" in m else None
    path = f"motions[{i}]"
    if "based_on" in m and "template" in m:
        return None, Problem(file, line, f"{path}.based_on",
                             "give either 'template' or 'based_on', not both")
    if "based_on" in m:
        base = m.get("based_on")
        others = [n for n, j in names.items() if j != i]
        if not isinstance(base, str) or base not in others:
            return None, Problem(file, line, f"{path}.based_on",
                                 f"no other motion named {base!r} in this file; expected one "
                                 f"of: {', '.join(others) or '(none)'}")
        if "name" not in m:
            return None, Problem(file, line, f"{path}.name",
                                 "a motion 'based_on' another needs its own 'name'")
        return None, None
    tpl = m.get("template")
    if tpl is None:
        return None, Problem(file, m.lc.line + 1, f"{path}.template",
                             "required key is missing (or say 'based_on: <motion name>')")
    if str(tpl) not in template_names():
        return None, Problem(file, m.lc.key("template")[0] + 1, f"{path}.template",
                             f"unknown template {tpl!r}; expected one of: "
                             f"{', '.join(template_names())}")
    return str(tpl), None


def _merge_motions(
    data: CommentedMap, file: str
) -> tuple[list[dict[str, Any]], dict[int, str], list[Problem]]:
    """Each motion merged onto its template, or onto the motion it is ``based_on``.

    A ``based_on`` motion starts from its base as merged (template plus the base's own
    overrides) and applies its own overrides on top, so an option is a change to one
    company. Bases are resolved first, whatever their order in the file; a cycle is an
    error naming the motions in it.
    """
    motions = data.get("motions")
    if not isinstance(motions, CommentedSeq):
        line = data.lc.key("motions")[0] + 1 if "motions" in data else None
        raise ScenarioError(
            [Problem(file, line, "motions", "expected a list of motions, each with a 'template'")]
        )
    problems: list[Problem] = []
    # the names users gave (or the template's name), for based_on look-ups
    names: dict[str, int] = {}
    for i, m in enumerate(motions):
        if isinstance(m, CommentedMap):
            given = m.get("name", m.get("template"))
            if isinstance(given, str) and given not in names:
                names[given] = i
    bodies: dict[int, dict[str, Any]] = {}
    templates: dict[int, str] = {}
    pending: dict[int, str] = {}
    for i, m in enumerate(motions):
        line = motions.lc.item(i)[0] + 1
        if not isinstance(m, CommentedMap):
            problems.append(Problem(file, line, f"motions[{i}]",
                                    "expected a mapping with a 'template' key"))
            continue
        tpl, problem = _motion_base(m, i, file, names)
        if problem is not None:
            problems.append(problem)
        elif tpl is not None:
            templates[i] = tpl
            body = deep_merge(load_template(tpl), to_plain(m))
            body.setdefault("name", tpl)
            bodies[i] = body
        else:
            pending[i] = str(m["based_on"])
    # based_on motions: resolve in dependency order
    while pending:
        ready = [i for i, base in pending.items() if names[base] in bodies]
        if not ready:
            stuck = [i for i, base in pending.items() if names[base] in pending]
            for i in stuck:
                m = motions[i]
                problems.append(Problem(file, m.lc.key("based_on")[0] + 1,
                                        f"motions[{i}].based_on",
                                        "motions are based on each other in a cycle: "
                                        + ", ".join(str(motions[j].get("name")) for j in stuck)))
            break
        for i in ready:
            b = names[pending.pop(i)]
            own = {k: v for k, v in to_plain(motions[i]).items() if k != "based_on"}
            body = deep_merge({k: v for k, v in bodies[b].items() if k != "name"}, own)
            body["based_on"] = str(motions[i]["based_on"])
            bodies[i] = body
            templates[i] = templates[b]
    merged: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for i in sorted(bodies):
        m, body = motions[i], bodies[i]
        name = str(body["name"])
        if name in seen:
            nl = m.lc.key("name")[0] + 1 if "name" in m else motions.lc.item(i)[0] + 1
            problems.append(
                Problem(file, nl, f"motions[{i}].name",
                        f"motion name {name!r} is already used by motions[{seen[name]}]; "
                        "give each motion a distinct 'name'")
            )
        seen[name] = i
        merged.append(body)
    return merged, templates, problems


def scenario_from_yaml_text(text: str, file: str = "<scenario>", seeds: int | None = None) -> Scenario:
    data = parse_yaml(text, file)
    _check_top(data, file)
    unknown = [k for k in data if k not in _TOP_LEVEL]
    if unknown:
        raise ScenarioError([
            Problem(file, data.lc.key(k)[0] + 1, str(k),
                    "unknown top-level key; expected one of: " + ", ".join(sorted(_TOP_LEVEL)))
            for k in unknown
        ])
    merged, templates, problems = _merge_motions(data, file)
    plain = to_plain(data)
    plain["motions"] = merged
    try:
        scenario = Scenario.model_validate(plain)
    except ValidationError as e:
        # motions whose template failed were left out: renumber to the user's indices
        index = sorted(templates)
        found = _problems_from_validation(e, file, data, templates, index)
        if problems:  # consequences of problems already reported
            found = [p for p in found if not (p.path == "motions" and "at least one" in p.message)
                     and "motion names must be unique" not in p.message]
        raise ScenarioError(sorted(problems + found, key=lambda p: (p.line or 0, p.path))) from None
    if problems:
        raise ScenarioError(problems)
    if seeds is not None:  # the file's own value was validated above; the flag replaces it
        if not 1 <= seeds <= LIMITS["seeds"].value:
            raise ScenarioError([Problem("--seeds", None, "", limit_message("seeds", seeds)
                                         if seeds > 1 else f"expected at least 1, got {seeds}")])
        scenario = scenario.model_copy(update={"seeds": int(seeds)})
    return scenario


def load_scenario(path: str | Path, seeds: int | None = None) -> Scenario:
    """Load, merge and validate one scenario file (raises ScenarioError)."""
    p = Path(path)
    if not p.is_file():
        raise ScenarioError([Problem(str(path), None, "", "no such file")])
    try:
        _check_size(p.stat().st_size, str(path))  # refused before it is read
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ScenarioError([Problem(str(path), None, "", f"cannot read the file: {e}")]) from None
    return scenario_from_yaml_text(text, str(path), seeds=seeds)


def load_scenario_with_warnings(
    path: str | Path, seeds: int | None = None
) -> tuple[Scenario, list[Problem]]:
    """``load_scenario``, and the settings written in the file that are valid but can
    have no effect (``sim.scenario.checks``), each placed at its file line."""
    from sim.scenario.checks import scenario_warnings

    sc = load_scenario(path, seeds=seeds)
    root = parse_yaml(Path(path).read_text(encoding="utf-8"), str(path))
    out = []
    for loc, msg in scenario_warnings(sc):
        line, found = _line_of(root, loc)
        if found == len(loc):  # what the user wrote (not a template's, or a base motion's)
            out.append(Problem(str(path), line, format_path(loc), msg))
    return sc, out


def scenario_from_dict(data: dict[str, Any], seeds: int | None = None) -> Scenario:
    """Build a scenario from plain Python data (templates are merged as from a file)."""
    from io import StringIO

    buf = StringIO()
    _yaml().dump(data, buf)
    return scenario_from_yaml_text(buf.getvalue(), "<dict>", seeds=seeds)
