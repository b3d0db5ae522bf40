"""Compact columnar records a run accumulates (leads, customers).

A ``Table`` is a set of numpy columns that grows by doubling (a row is
initialised when it is appended, not when its storage is); the event loop
writes single cells, blocks of rows are appended with numpy, and the ledger,
the forecast and the metrics read whole columns at the end. Nothing on the
per-event path builds a Python object per lead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["Table", "OPEN", "WON", "LOST", "LEAD_SOURCES", "SOURCE_ID", "SOURCE_NAMES", "censor",
           "merge_leads", "merge_pilots", "sum_or_none"]

# The lead table's ``source`` column: each source's code (its index here).
SOURCE_NAMES = ("inbound", "outbound", "founder_network", "partners", "signups", "pql", "initial",
                "marketplace", "open_source", "community", "hyperscaler")
# sources whose arrivals are sales leads (sign-ups are counted apart; PQLs are leads)
LEAD_SOURCES = ("inbound", "outbound", "founder_network", "partners", "pql", "marketplace",
                "open_source", "community", "hyperscaler")
SOURCE_ID = {name: i for i, name in enumerate(SOURCE_NAMES)}


OPEN, WON, LOST = 0, 1, 2


class Table:
    def __init__(self, spec: dict[str, tuple[Any, tuple[int, ...], Any]], capacity: int = 1024,
                 prefill: bool = False):
        """``spec``: column -> (dtype, trailing shape, fill value).

        Without ``prefill`` the storage past ``n`` is uninitialised and ``append``
        writes every column of the new rows (cheapest when appends give most
        columns, as blocks of leads do). With ``prefill`` the storage is filled
        when it is allocated and ``append`` writes only the columns it is given
        (cheapest for a wide table appended a few rows at a time: the customers).
        """
        self._spec = spec
        self.n = 0
        self._cap = capacity
        self._prefill = prefill
        self._cols: dict[str, np.ndarray] = {
            name: self._storage(capacity, dtype, shape, fill)
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

    def _storage(self, cap: int, dtype: Any, shape: tuple[int, ...], fill: Any) -> np.ndarray:
        if self._prefill:
            return np.full((cap, *shape), fill, dtype=dtype)
        return np.empty((cap, *shape), dtype=dtype)

    def _grow(self, need: int) -> None:
        cap = self._cap
        while cap < need:
            cap *= 2
        for name, (dtype, shape, fill) in self._spec.items():
            new = self._storage(cap, dtype, shape, fill)
            new[: self.n] = self._cols[name][: self.n]
            self._cols[name] = new
            setattr(self, name, new)
        self._cap = cap

    def append(self, count: int, **values: Any) -> slice:
        """Add ``count`` rows; columns not given keep their fill value."""
        unknown = values.keys() - self._cols.keys()
        if unknown:
            raise KeyError(f"no column {sorted(unknown)[0]!r}")
        if self.n + count > self._cap:
            self._grow(self.n + count)
        rows = slice(self.n, self.n + count)
        cols = self._cols
        if self._prefill:
            for name, v in values.items():
                cols[name][rows] = v
        else:
            for name, (_dtype, _shape, fill) in self._spec.items():
                cols[name][rows] = values.get(name, fill)
        self.n += count
        return rows

    def column(self, name: str) -> np.ndarray:
        """The filled part of a column (a view)."""
        return self._cols[name][: self.n]

    def frozen(self) -> dict[str, np.ndarray]:
        """Every column, trimmed to the rows filled: views of the storage, handed over at
        the end of a run (nothing is appended to or written in the table after it)."""
        return {name: arr[: self.n] for name, arr in self._cols.items()}


# --- a run's tables, assembled at its end ----------------------------------------


def sum_or_none(arrays: list[np.ndarray]) -> np.ndarray | None:
    return None if not arrays else np.sum(arrays, axis=0)


def merge_leads(tables: list[dict[str, np.ndarray]]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """One lead table from each path's: stage columns padded to the most stages, a
    ``phase`` column, and each path's row offset (to renumber references to leads)."""
    sizes = [t["t_arrive"].size for t in tables]
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    if len(tables) == 1:
        L = tables[0]
        L["phase"] = np.zeros(sizes[0], dtype=np.int8)
        return L, offsets
    K = max(t["u"].shape[1] for t in tables)
    out: dict[str, np.ndarray] = {}
    for name in tables[0]:
        parts = []
        for t in tables:
            col = t[name]
            if col.ndim == 2 and col.shape[1] < K:
                col = np.concatenate([col, np.full((col.shape[0], K - col.shape[1]), np.nan)], axis=1)
            parts.append(col)
        out[name] = np.concatenate(parts)
    out["phase"] = np.repeat(np.arange(len(tables), dtype=np.int8), sizes)
    return out, offsets


def merge_pilots(parts: list[tuple[dict[str, np.ndarray], int]]) -> dict[str, np.ndarray] | None:
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0][0]
    out = {k: np.concatenate([p[k] for p, _ in parts]) for k in parts[0][0]}
    out["lead"] = np.concatenate([p["lead"] + off for p, off in parts])
    return out


def censor(L: dict[str, np.ndarray], horizon: float) -> None:
    """Forget what the records know of times after the horizon.

    Leads are decided in blocks ahead of time (a lead lost at qualification has
    its loss time when it arrives), so a lead whose decision falls after the
    horizon is, at the horizon, still open in the stage it had reached.
    """
    late = L["t_end"] > horizon
    L["outcome"][late] = OPEN
    L["t_end"][late] = np.nan
    future = L["entry"] > horizon
    L["entry"][future] = np.nan
    L["created"][L["created"] > horizon] = np.nan
    # the last stage reached (-1: none), a column at a time
    entry = L["entry"]
    stage = np.full(entry.shape[0], -1, dtype=L["stage"].dtype)
    for k in range(entry.shape[1]):
        stage[np.isfinite(entry[:, k])] = k
    L["stage"] = stage
