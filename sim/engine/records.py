"""Compact columnar records a run accumulates (leads, customers).

A ``Table`` is a set of numpy columns that grows by doubling; the event loop
writes single cells, blocks of rows are appended with numpy, and the ledger,
the forecast and the metrics read whole columns at the end. Nothing on the
per-event path builds a Python object per lead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["Table", "OPEN", "WON", "LOST"]

OPEN, WON, LOST = 0, 1, 2


class Table:
    def __init__(self, spec: dict[str, tuple[Any, tuple[int, ...], Any]], capacity: int = 1024):
        """``spec``: column -> (dtype, trailing shape, fill value)."""
        self._spec = spec
        self.n = 0
        self._cap = capacity
        self._cols: dict[str, np.ndarray] = {
            name: np.full((capacity, *shape), fill, dtype=dtype)
            for name, (dtype, shape, fill) in spec.items()
        }
        for name, arr in self._cols.items():
            setattr(self, name, arr)

    def __getattr__(self, name: str) -> np.ndarray:
        # columns are set as attributes (fast on the event path); this tells type
        # checkers so, and gives a clear error for a column that does not exist
        cols = self.__dict__.get("_cols", {})
        if name in cols:
            return cols[name]
        raise AttributeError(f"no column {name!r}")

    def _grow(self, need: int) -> None:
        cap = self._cap
        while cap < need:
            cap *= 2
        for name, (dtype, shape, fill) in self._spec.items():
            new = np.full((cap, *shape), fill, dtype=dtype)
            new[: self.n] = self._cols[name][: self.n]
            self._cols[name] = new
            setattr(self, name, new)
        self._cap = cap

    def append(self, count: int, **values: Any) -> slice:
        """Add ``count`` rows; columns not given keep their fill value."""
        if self.n + count > self._cap:
            self._grow(self.n + count)
        rows = slice(self.n, self.n + count)
        for name, v in values.items():
            self._cols[name][rows] = v
        self.n += count
        return rows

    def column(self, name: str) -> np.ndarray:
        """The filled part of a column (a view)."""
        return self._cols[name][: self.n]

    def frozen(self) -> dict[str, np.ndarray]:
        """Every column, trimmed to the rows filled (copies)."""
        return {name: arr[: self.n].copy() for name, arr in self._cols.items()}
