"""Read scenario files: safe YAML with line numbers, template merge, validation.

The path of a scenario file into the engine:

1. ruamel.yaml's round-trip loader (safe: it builds only plain mappings, lists
   and scalars) parses the file and remembers the line of every key
   (``sim.scenario.yaml_io``).
2. Each motion's overrides are deep-merged onto its template (mappings merge,
   lists such as ``stages`` replace), or onto another motion of the file that it
   is ``based_on`` (that motion as merged; ``sim.scenario.based_on``).
3. pydantic validates the merged data (``sim.scenario.schema``).
4. Any error is mapped back to the file, the line and the key path of the
   user's own text (``sim.scenario.validation``), and raised as one
   ``ScenarioError`` listing every problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap

from sim.scenario.based_on import merge_motions
from sim.scenario.errors import Problem, ScenarioError, format_path
from sim.scenario.limits import LIMITS, limit_message
from sim.scenario.merge import deep_merge, to_plain
from sim.scenario.schema import Scenario
from sim.scenario.validation import problems_from_validation
from sim.scenario.yaml_io import check_size, line_of, new_yaml, parse_yaml

__all__ = ["load_scenario", "load_scenario_with_warnings", "scenario_from_dict",
           "scenario_from_yaml_text", "deep_merge"]

_TOP_LEVEL = set(Scenario.model_fields)


def _check_top(data: Any, file: str) -> None:
    if not isinstance(data, CommentedMap):
        raise ScenarioError(
            [Problem(file, 1, "", "a scenario file must be a mapping with name, motions, ...")]
        )


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
    merged, templates, problems = merge_motions(data, file)
    plain = to_plain(data)
    plain["motions"] = merged
    try:
        scenario = Scenario.model_validate(plain)
    except ValidationError as e:
        # motions whose template failed were left out: renumber to the user's indices
        index = sorted(templates)
        found = problems_from_validation(e, file, data, templates, index)
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
        check_size(p.stat().st_size, str(path))  # refused before it is read
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
        line, found = line_of(root, loc)
        if found == len(loc):  # what the user wrote (not a template's, or a base motion's)
            out.append(Problem(str(path), line, format_path(loc), msg))
    return sc, out


def scenario_from_dict(data: dict[str, Any], seeds: int | None = None) -> Scenario:
    """Build a scenario from plain Python data (templates are merged as from a file)."""
    from io import StringIO

    buf = StringIO()
    new_yaml().dump(data, buf)
    return scenario_from_yaml_text(buf.getvalue(), "<dict>", seeds=seeds)
