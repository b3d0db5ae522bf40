"""Each motion of a file merged onto what it starts from: its template, or ``based_on``.

Mappings merge and lists (such as ``stages``) replace (``merge.deep_merge``). A
motion ``based_on`` another of the file starts from that motion as merged, so an
option is a change to one company; bases are resolved whatever their order in
the file, and a cycle, an unknown base or a repeated name is a ``Problem`` at
its line.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from sim.scenario.errors import Problem, ScenarioError
from sim.scenario.merge import deep_merge, to_plain
from sim.scenario.templates import load_template, template_names

__all__ = ["merge_motions"]


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


def merge_motions(
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
