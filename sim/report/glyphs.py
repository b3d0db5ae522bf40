"""User text in charts whose characters the chart font has no glyph for.

The charts are set in DejaVu Sans, matplotlib's own font: Latin, Greek and Cyrillic, but
no Chinese, Japanese or Korean. Names are user text, so a chart may have to draw any
character. Nothing is downloaded; for the characters DejaVu Sans lacks:

- an installed font that has them (one matplotlib's font manager knows: a system font
  such as Noto Sans CJK, or one shipped with matplotlib) is added after DejaVu Sans as a
  fallback family, glyph by glyph;
- a name some character of which no installed font has is drawn under a neutral label
  ("motion 2", "stage 1", "phase 1"). The report prints what each neutral label stands
  for below the charts (``ChartNames.key``), the name itself in the HTML page's fonts.

Matplotlib's "Glyph ... missing" warnings are never filtered: a chart simply no longer
asks for a glyph no font has.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font
from matplotlib.text import Text
from matplotlib.ticker import FixedFormatter, FuncFormatter

if TYPE_CHECKING:
    from sim.scenario.schema import Scenario

__all__ = ["BASE_FONT", "ChartNames", "chart_names", "fallback_fonts", "has_glyphs"]

BASE_FONT = "DejaVu Sans"
# matplotlib's Last Resort font draws a placeholder for every character: not a glyph
_PLACEHOLDER_FONTS = ("Last Resort",)


@functools.cache
def _charmap(path: str) -> frozenset[int]:
    return frozenset(FT2Font(path).get_charmap())


def _drawn(text: str) -> set[int]:
    """Code points of ``text`` that need a glyph (not spaces or control characters)."""
    return {ord(ch) for ch in text
            if not ch.isspace() and not unicodedata.category(ch).startswith("C")}


@functools.cache
def _installed() -> tuple[tuple[str, str], ...]:
    """(family, file) of each upright, regular installed font, in a fixed order."""
    seen: dict[str, str] = {}
    for f in sorted(font_manager.fontManager.ttflist, key=lambda f: (f.name, f.fname)):
        if f.style != "normal" or f.weight not in (400, "normal", "regular"):
            continue
        if f.name == BASE_FONT or f.name.startswith(_PLACEHOLDER_FONTS):
            continue
        seen.setdefault(f.name, f.fname)
    return tuple(seen.items())


def _base_charmap() -> frozenset[int]:
    return _charmap(font_manager.findfont(BASE_FONT, fallback_to_default=False))


def fallback_fonts(texts: Iterable[str]) -> list[str]:
    """Installed families to draw the characters of ``texts`` DejaVu Sans lacks: the font
    with the most of them first, then the next for what is left (none if none is needed)."""
    missing = set().union(*(_drawn(t) for t in texts)) - _base_charmap()
    chosen: list[str] = []
    while missing:
        best = max(_installed(), key=lambda ff: len(missing & _charmap(ff[1])), default=None)
        if best is None or not missing & _charmap(best[1]):
            break
        chosen.append(best[0])
        missing -= _charmap(best[1])
    return chosen


def has_glyphs(text: str, families: Iterable[str] = ()) -> bool:
    """Whether DejaVu Sans and the installed ``families`` have a glyph for every character."""
    have = set(_base_charmap())
    paths = dict(_installed())
    for fam in families:
        if fam in paths:
            have |= _charmap(paths[fam])
    return _drawn(text) <= have


class ChartNames:
    """The fonts the charts use and the label each user name is drawn under.

    ``kinds`` maps a kind ("motion", "stage", "phase") to its names in order; a name
    the fonts can draw keeps itself, any other gets "<kind> <n>" (n: its place among the
    distinct names of its kind, from 1).
    """

    def __init__(self, kinds: dict[str, list[str]]):
        names = [n for ns in kinds.values() for n in ns]
        self.families = [BASE_FONT, *fallback_fonts(names)]
        self.labels: dict[str, str] = {}
        self.key: list[tuple[str, str]] = []  # (neutral label, name) for the report
        for kind, ns in kinds.items():
            for k, name in enumerate(dict.fromkeys(ns), start=1):
                if name in self.labels or has_glyphs(name, self.families[1:]):
                    continue
                self.labels[name] = f"{kind} {k}"
                self.key.append((self.labels[name], name))

    @property
    def rc(self) -> dict[str, Any]:
        """The font setting of the charts (matplotlib falls back glyph by glyph)."""
        return {"font.family": self.families}

    def text(self, s: str) -> str:
        """``s`` with each name that needs a neutral label replaced by its label."""
        for name in sorted(self.labels, key=len, reverse=True):
            if name in s:
                s = s.replace(name, self.labels[name])
        return s

    def apply(self, fig: Figure) -> None:
        """Draw ``fig``'s text (titles, legends, annotations, tick labels) with the neutral
        labels. Tick labels are made by the axis' formatter at each draw: labels given as
        strings (``set_yticks(y, names)``) live in a fixed or function formatter."""
        if not self.labels:
            return
        for t in fig.findobj(Text):
            assert isinstance(t, Text)
            s = t.get_text()
            if s and self.text(s) != s:
                t.set_text(self.text(s))
        for ax in fig.axes:
            for axis in (ax.xaxis, ax.yaxis):
                for fmt in (axis.get_major_formatter(), axis.get_minor_formatter()):
                    if isinstance(fmt, FixedFormatter):
                        fmt.seq = [self.text(str(x)) for x in fmt.seq]
                    elif isinstance(fmt, FuncFormatter):
                        fmt.func = self._relabelled(fmt.func)

    def _relabelled(self, func: Any) -> Any:
        def relabel(x: float, pos: int | None = None) -> str:
            return self.text(str(func(x, pos)))
        return relabel


def chart_names(scenario: Scenario) -> ChartNames:
    """The chart names of a scenario: its motions, their stages (a phase's too), phases."""
    stages: list[str] = []
    phases: list[str] = []
    for m in scenario.motions:
        stages += [st.name for st in m.stages]
        for ph in m.phases:
            stages += [str(st.get("name", "")) for st in (ph.stages or [])
                       if isinstance(st, dict)]
            if ph.name:
                phases.append(ph.name)
    return ChartNames({"motion": [m.name for m in scenario.motions], "stage": stages,
                       "phase": phases})
