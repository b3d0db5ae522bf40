"""User-facing input errors: which file, which line, which key, what was expected."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Problem", "ScenarioError", "format_path"]


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None  # 1-based; None when the problem has no place in the file
    path: str  # key path such as motions[0].team.ae.start ("" for the whole file)
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        key = f" {self.path}:" if self.path else ""
        return f"{where}:{key} {self.message}"


class ScenarioError(Exception):
    """One or more problems in user input. The CLI prints them and exits with 2."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def format_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """A key path as a reader writes it: ``motions[0].team.ae.start``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
