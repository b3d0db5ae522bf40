"""Reading a CRM export: the column mapping, parsing and validation with row/column errors.

A deals table (one row per deal) with the fields ``id``, ``created``, ``closed``,
``stage``, ``amount`` and optional ``owner``, ``source``, ``product``,
``segment``; an optional stage history (``id``, ``timestamp``, ``stage``) and
optional subscriptions (``customer``, ``start``, ``end``, ``arr``). Each field
is read from the column the mapping names (``--map FIELD=COLUMN``; a preset
fills the mapping for a CRM's own export, ``sim.fit.presets``).

Anything wrong with the input is a ``ScenarioError`` naming the file, the row
(the line in the file: the header is line 1) and the column: unparseable
dates, a close before the creation, duplicate ids, amounts that are not money,
unknown stage values. Rows that cannot be used (no created date) are not
errors: they are counted by reason in ``Export.unusable`` and reported.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.scenario.errors import Problem, ScenarioError

__all__ = ["DEAL_FIELDS", "HISTORY_FIELDS", "SUBSCRIPTION_FIELDS", "Export", "Mapping",
           "NamedFrame", "TableSource", "parse_map", "read_export", "read_table"]

DEAL_FIELDS = ("id", "created", "closed", "stage", "amount", "owner", "source", "product",
               "segment")
REQUIRED_DEAL_FIELDS = ("id", "created", "stage")
HISTORY_FIELDS = ("history.id", "history.timestamp", "history.stage")
SUBSCRIPTION_FIELDS = ("subscriptions.customer", "subscriptions.start", "subscriptions.end",
                       "subscriptions.arr")
MAX_PROBLEMS = 20  # errors shown at once (the rest are counted)

_MONEY = re.compile(r"^\s*(?P<neg>-)?\s*(?:[A-Z]{3}\s*)?[$€£¥]?\s*(?P<num>\d{1,3}(?:,\d{3})+|\d+)"
                    r"(?P<dec>\.\d+)?\s*(?:[A-Z]{3})?\s*$")


@dataclass
class NamedFrame:
    """A table already in memory (a preset's reshaped export), named for messages."""

    name: str
    frame: pd.DataFrame

    def __str__(self) -> str:
        return self.name


TableSource = Path | NamedFrame


@dataclass
class Mapping:
    """Where each field is read from, and which stage values close a deal."""

    columns: dict[str, str] = field(default_factory=dict)  # field -> column
    won: list[str] = field(default_factory=lambda: ["won"])
    lost: list[str] = field(default_factory=lambda: ["lost"])
    stages: list[str] | None = None  # open stages in order (else from the history)

    def column(self, name: str) -> str:
        return self.columns.get(name, name.split(".")[-1])


@dataclass
class Export:
    """A CRM export, normalised: times in days since ``origin``; stage values as given."""

    deals: pd.DataFrame  # id, created, closed, stage, amount, status, owner, source, segment, row
    history: pd.DataFrame | None  # id, t, stage (sorted by id, t)
    subscriptions: pd.DataFrame | None  # customer, start, end, arr (end NaN while live)
    origin: pd.Timestamp
    won: list[str]
    lost: list[str]
    stages: list[str]  # open stages in order
    unusable: Counter[str]
    source_file: str

    def before(self, as_of: pd.Timestamp) -> Export:
        """What the CRM held on ``as_of``: deals created by then, history up to then."""
        t = self.day(as_of)
        keep = self.deals["created"].to_numpy(float) <= t
        if keep.all():
            return self
        unusable = Counter(self.unusable)
        deals = self.deals[keep].reset_index(drop=True)
        hist = None if self.history is None else \
            self.history[self.history["id"].isin(deals["id"].to_numpy())].reset_index(drop=True)
        subs = None if self.subscriptions is None else \
            self.subscriptions[self.subscriptions["start"] <= t].reset_index(drop=True)
        return Export(deals, hist, subs, self.origin, self.won, self.lost, self.stages, unusable,
                      self.source_file)

    def day(self, date: pd.Timestamp) -> float:
        return float((date - self.origin) / pd.Timedelta(days=1))

    def date(self, day: float) -> pd.Timestamp:
        return self.origin + pd.Timedelta(days=float(day))


def parse_map(items: list[str]) -> dict[str, str]:
    """``FIELD=COLUMN`` pairs; fields of the history and subscriptions as ``history.id`` etc."""
    known = set(DEAL_FIELDS) | set(HISTORY_FIELDS) | set(SUBSCRIPTION_FIELDS)
    out: dict[str, str] = {}
    for item in items:
        name, sep, col = item.partition("=")
        name, col = name.strip(), col.strip()
        if not sep or not name or not col:
            raise ScenarioError([Problem("--map", None, "", f"expected FIELD=COLUMN, got {item!r}")])
        if name not in known:
            raise ScenarioError([Problem("--map", None, "", f"unknown field {name!r}; expected one "
                                         f"of: {', '.join(sorted(known))}")])
        out[name] = col
    return out


def read_table(path: TableSource) -> pd.DataFrame:
    """A CSV file, or the first sheet of an Excel workbook (.xlsx), every cell as text."""
    if isinstance(path, NamedFrame):
        return _stripped(path.frame.fillna("").astype(str))
    if not path.is_file():
        raise ScenarioError([Problem(str(path), None, "", "no such file")])
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
            df = pd.read_excel(path, dtype=str, keep_default_na=False)
        else:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except ImportError:
        raise ScenarioError([Problem(str(path), None, "", "reading Excel needs openpyxl "
                                     "(pip install openpyxl), or save the sheet as CSV")]) from None
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise ScenarioError([Problem(str(path), None, "", f"not a readable table: {e}")]) from None
    df.columns = [str(c).strip() for c in df.columns]
    return _stripped(df)


def _stripped(df: pd.DataFrame) -> pd.DataFrame:
    """Every cell without leading or trailing whitespace (``str.strip``), column by column
    in Arrow: Arrow's Unicode whitespace is Python's (checked over every code point), and a
    column with nothing to strip is kept as it is."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out = df.copy()
    for j in range(df.shape[1]):
        arr = pa.array(df.iloc[:, j].to_numpy(object), type=pa.string())
        trimmed = pc.utf8_trim_whitespace(arr)
        if not trimmed.equals(arr):
            out.isetitem(j, trimmed.to_numpy(zero_copy_only=False))
    return out


class _Problems:
    def __init__(self, file: str):
        self.file = file
        self.items: list[Problem] = []
        self.more = 0

    def add(self, row: int | None, column: str, message: str) -> None:
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(Problem(self.file, row, column, message))
        else:
            self.more += 1

    def raise_any(self) -> None:
        if self.items:
            if self.more:
                self.items.append(Problem(self.file, None, "", f"... and {self.more} more"))
            raise ScenarioError(self.items)


def _lines(df: pd.DataFrame) -> np.ndarray:
    return np.arange(len(df)) + 2  # the header is line 1


def _columns(df: pd.DataFrame, mapping: Mapping, fields: tuple[str, ...], required: tuple[str, ...],
             problems: _Problems) -> dict[str, str]:
    found: dict[str, str] = {}
    for f in fields:
        col = mapping.column(f)
        if col in df.columns:
            found[f] = col
        elif f in required or f in mapping.columns:
            problems.add(None, col, f"no column {col!r} for field {f.split('.')[-1]!r} (columns: "
                         f"{', '.join(df.columns[:12])}{'...' if len(df.columns) > 12 else ''}); "
                         f"map it with --map {f}=COLUMN")
    return found


def _dates(values: pd.Series, column: str, lines: np.ndarray, problems: _Problems) -> pd.Series:
    """Dates (ISO, or what pandas reads unambiguously); empty cells are NaT."""
    blank = values == ""
    try:  # one ISO format for the whole column is the common case and 20x faster
        out = pd.to_datetime(values.where(~blank), utc=True, format="ISO8601")
    except (ValueError, TypeError):
        out = pd.to_datetime(values.where(~blank), errors="coerce", utc=True, format="mixed")
    bad = out.isna() & ~blank
    for i in np.flatnonzero(bad.to_numpy())[:MAX_PROBLEMS]:
        problems.add(int(lines[i]), column, f"not a date: {values.iloc[i]!r} (expected e.g. "
                     "2024-03-31 or 2024-03-31T14:00:00Z)")
    return out.dt.tz_localize(None)


def parse_money(text: str) -> float | None:
    """'1234.5', '$1,234', '-1,234.50 USD' -> a number; anything else -> None ('' -> NaN)."""
    if text == "":
        return float("nan")
    m = _MONEY.match(text)
    if m is None:
        return None
    x = float(m["num"].replace(",", "") + (m["dec"] or ""))
    return -x if m["neg"] else x


def _money(values: pd.Series, column: str, lines: np.ndarray, problems: _Problems,
           nonneg: bool = True) -> np.ndarray:
    plain = pd.to_numeric(values.where(values != ""), errors="coerce").to_numpy(float)
    todo = np.flatnonzero(np.isnan(plain) & (values != "").to_numpy())
    for i in todo:
        x = parse_money(values.iloc[i])
        if x is None:
            problems.add(int(lines[i]), column, f"not an amount: {values.iloc[i]!r} (expected a "
                         "number such as 1234.50, $1,234 or 1,234 USD)")
        else:
            plain[i] = x
    for i in np.flatnonzero(plain < 0)[:MAX_PROBLEMS] if nonneg else []:
        problems.add(int(lines[i]), column, f"a negative amount: {values.iloc[i]!r}")
    return plain


def read_export(deals_path: TableSource, mapping: Mapping,
                history_path: TableSource | None = None,
                subscriptions_path: TableSource | None = None, as_of: pd.Timestamp | None = None) -> Export:
    """Read, map and check the export; raise ``ScenarioError`` with every problem found."""
    raw = read_table(deals_path)
    p = _Problems(str(deals_path))
    cols = _columns(raw, mapping, DEAL_FIELDS, REQUIRED_DEAL_FIELDS, p)
    p.raise_any()
    lines = _lines(raw)
    unusable: Counter[str] = Counter()
    ids = raw[cols["id"]]
    no_id = (ids == "").to_numpy()
    dup = ids.duplicated(keep="first").to_numpy() & ~no_id
    for i in np.flatnonzero(dup)[:MAX_PROBLEMS]:
        first = int(lines[np.flatnonzero((ids == ids.iloc[i]).to_numpy())[0]])
        p.add(int(lines[i]), cols["id"], f"duplicate id {ids.iloc[i]!r} (first on line {first})")
    created = _dates(raw[cols["created"]], cols["created"], lines, p)
    closed = (_dates(raw[cols["closed"]], cols["closed"], lines, p) if "closed" in cols
              else pd.Series(pd.NaT, index=raw.index))
    amount = (_money(raw[cols["amount"]], cols["amount"], lines, p) if "amount" in cols
              else np.full(len(raw), np.nan))
    stage = raw[cols["stage"]]
    won, lost = set(mapping.won), set(mapping.lost)
    status = np.where(stage.isin(won), "won", np.where(stage.isin(lost), "lost", "open"))
    order = _stage_order(mapping, stage[(status == "open")], None)
    hist = None
    if history_path is not None:
        hist = _read_history(history_path, mapping, won | lost, ids[~no_id].to_numpy())
        order = _stage_order(mapping, stage[(status == "open")], hist)
    known = set(order) | won | lost
    for i in np.flatnonzero(~stage.isin(known).to_numpy() & (stage != "").to_numpy())[:MAX_PROBLEMS]:
        p.add(int(lines[i]), cols["stage"], f"unknown stage value {stage.iloc[i]!r}: expected one of "
              f"the stages ({', '.join(order)}) or a closed value named by --won "
              f"({', '.join(sorted(won))}) or --lost ({', '.join(sorted(lost))})")
    has_c = created.notna().to_numpy()
    closes = closed.notna().to_numpy()
    before = has_c & closes & (closed < created).to_numpy()
    for i in np.flatnonzero(before)[:MAX_PROBLEMS]:
        p.add(int(lines[i]), cols["closed"], f"closed {closed.iloc[i].date()} before it was created "
              f"{created.iloc[i].date()} ({cols['created']})")
    for i in np.flatnonzero((status != "open") & ~closes & has_c)[:MAX_PROBLEMS] if "closed" in cols else []:
        p.add(int(lines[i]), cols["closed"], f"stage {stage.iloc[i]!r} is closed but the close date "
              "is empty")
    p.raise_any()
    keep = np.ones(len(raw), dtype=bool)
    for mask, reason in ((no_id, "no id"), (~has_c, "no created date"),
                         ((stage == "").to_numpy(), "no stage")):
        bad = mask & keep
        if bad.any():
            unusable[reason] += int(bad.sum())
        keep &= ~mask
    if as_of is not None:
        later = keep & (created > as_of).to_numpy()
        if later.any():
            unusable["created after --as-of (the future of a back-test)"] += int(later.sum())
        keep &= ~later
    origin = created[keep].min() if keep.any() else pd.Timestamp("2000-01-01")
    origin = pd.Timestamp(origin.date()) if pd.notna(origin) else pd.Timestamp("2000-01-01")

    def days(s: pd.Series) -> np.ndarray:
        return ((s - origin) / pd.Timedelta(days=1)).to_numpy(float)

    deals = pd.DataFrame({
        "id": ids.to_numpy(), "created": days(created), "closed": days(closed),
        "stage": stage.to_numpy(), "amount": amount, "status": status, "row": lines,
    })
    for f in ("owner", "source", "product", "segment"):
        deals[f] = raw[cols[f]].to_numpy() if f in cols else ""
    deals = deals[keep].reset_index(drop=True)
    if hist is not None:
        hist = hist.assign(t=days(hist["t"]))
        hist = hist[hist["id"].isin(deals["id"].to_numpy())].sort_values(["id", "t"], kind="stable")
        hist = hist.reset_index(drop=True)
    subs = _read_subscriptions(subscriptions_path, mapping, origin) if subscriptions_path else None
    return Export(deals, hist, subs, origin, sorted(won), sorted(lost), order, unusable,
                  str(deals_path))


def _stage_order(mapping: Mapping, open_values: pd.Series, hist: pd.DataFrame | None) -> list[str]:
    """Open stages in order: ``--stages``, else by the median time deals first entered them."""
    if mapping.stages:
        return list(mapping.stages)
    if hist is not None and len(hist):
        closed = set(mapping.won) | set(mapping.lost)
        h = hist[~hist["stage"].isin(closed)]
        first = h.groupby(["id", "stage"], sort=False)["t"].min().reset_index()
        first["rank"] = first.groupby("id")["t"].rank(method="first")
        order = first.groupby("stage")["rank"].mean().sort_values(kind="stable")
        return [str(s) for s in order.index]
    return sorted(str(s) for s in open_values.unique() if s != "")


def _read_history(path: TableSource, mapping: Mapping, closed_values: set[str],
                  ids: np.ndarray) -> pd.DataFrame:
    raw = read_table(path)
    p = _Problems(str(path))
    cols = _columns(raw, mapping, HISTORY_FIELDS, HISTORY_FIELDS, p)
    p.raise_any()
    lines = _lines(raw)
    t = _dates(raw[cols["history.timestamp"]], cols["history.timestamp"], lines, p)
    for i in np.flatnonzero(t.isna().to_numpy())[:MAX_PROBLEMS]:
        if raw[cols["history.timestamp"]].iloc[i] == "":
            p.add(int(lines[i]), cols["history.timestamp"], "empty timestamp")
    hid = raw[cols["history.id"]]
    for i in np.flatnonzero(~hid.isin(ids).to_numpy())[:MAX_PROBLEMS]:
        p.add(int(lines[i]), cols["history.id"], f"deal {hid.iloc[i]!r} is not in the deals file")
    p.raise_any()
    return pd.DataFrame({"id": hid.to_numpy(), "t": t.to_numpy(),
                         "stage": raw[cols["history.stage"]].to_numpy(), "row": lines})


def _read_subscriptions(path: TableSource, mapping: Mapping, origin: pd.Timestamp) -> pd.DataFrame:
    raw = read_table(path)
    p = _Problems(str(path))
    need = ("subscriptions.customer", "subscriptions.start", "subscriptions.arr")
    cols = _columns(raw, mapping, SUBSCRIPTION_FIELDS, need, p)
    p.raise_any()
    lines = _lines(raw)
    start = _dates(raw[cols["subscriptions.start"]], cols["subscriptions.start"], lines, p)
    end = (_dates(raw[cols["subscriptions.end"]], cols["subscriptions.end"], lines, p)
           if "subscriptions.end" in cols else pd.Series(pd.NaT, index=raw.index))
    arr = _money(raw[cols["subscriptions.arr"]], cols["subscriptions.arr"], lines, p)
    for i in np.flatnonzero(start.isna().to_numpy())[:MAX_PROBLEMS]:
        p.add(int(lines[i]), cols["subscriptions.start"], "empty start date")
    for i in np.flatnonzero((end < start).to_numpy())[:MAX_PROBLEMS]:
        p.add(int(lines[i]), cols.get("subscriptions.end", "end"),
              f"ends {end.iloc[i].date()} before it starts {start.iloc[i].date()}")
    p.raise_any()
    d = pd.Timedelta(days=1)
    return pd.DataFrame({"customer": raw[cols["subscriptions.customer"]].to_numpy(),
                         "start": ((start - origin) / d).to_numpy(float),
                         "end": ((end - origin) / d).to_numpy(float), "arr": arr})
