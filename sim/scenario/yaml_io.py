"""Scenario files as YAML: safe parsing that keeps the line of every key.

ruamel.yaml's round-trip loader builds only plain mappings, lists and scalars
(nothing is constructed from tags) and remembers where each key stands, so an
error can name the file's line. Oversized files, alias bombs, duplicate keys and
syntax errors become a ``ScenarioError`` in plain words.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from sim.scenario.errors import Problem, ScenarioError
from sim.scenario.limits import MAX_FILE_BYTES, MAX_YAML_NODES

__all__ = ["check_size", "line_of", "new_yaml", "node_at", "parse_yaml"]


def new_yaml() -> YAML:
    """ruamel's round-trip (line-keeping) parser and dumper, duplicate keys refused."""
    y = YAML(typ="rt")
    y.allow_duplicate_keys = False
    return y


def parse_yaml(text: str, file: str) -> Any:
    """Parse YAML text; syntax errors, duplicate keys, oversized text and alias bombs
    become a ScenarioError."""
    check_size(len(text.encode("utf-8", "replace")), file)
    try:
        data = new_yaml().load(text)
    except MarkedYAMLError as e:
        line, what = _yaml_problem(e)
        raise ScenarioError([Problem(file, line, "", f"not valid YAML: {what}")]) from None
    except YAMLError as e:
        raise ScenarioError([Problem(file, None, "", f"not valid YAML: {e}")]) from None
    except RecursionError:
        raise ScenarioError([Problem(file, None, "", "not valid YAML: nested too deeply")]) from None
    _check_expansion(data, file)
    return data


def check_size(n_bytes: int, file: str) -> None:
    """Refuse a file larger than ``MAX_FILE_BYTES`` (before it is read)."""
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


def line_of(root: Any, loc: tuple[Any, ...]) -> tuple[int | None, int]:
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


def node_at(root: Any, loc: tuple[Any, ...]) -> Any:
    """The value at ``loc`` in the parsed file, or None where the path leaves it."""
    node = root
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node
