"""Finished chunks as Parquet part files on disk, and the results tables built from them.

A worker (local pool or Dask) encodes its chunk's tables as Parquet itself and
returns the bytes; the client only writes them into ``chunk-NNNNN/`` (a
temporary name, then renamed, so a part that exists is whole), with ``part.json``
recording its chunk index, seed range and scenario hash, checked on resume. The results files are
then assembled part by part (``write``) with one chunk in memory at a time, so
the client's memory does not grow with the number of seeds.

Within a part, rows are ordered by motion (scenario order), seed and then
month / quarter / stage; the assembled tables take each motion's rows from the
parts in chunk order, which gives the same order as sorting the whole table.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sim.runner.chunks import Chunk, ChunkResult, run_chunk
from sim.scenario.schema import Scenario

__all__ = ["PART_RECORD", "TABLES", "ChunkPart", "PartStore", "encode", "run_part"]

TABLES = ("runs", "monthly", "forecast", "funnel", "inputs")
PART_RECORD = "part.json"  # a part's chunk index, seed range and scenario hash
_KEYS = ("month", "quarter", "stage_index")


@dataclass
class ChunkPart:
    """A finished chunk as it travels back to the client: Parquet bytes per table."""

    chunk: Chunk
    tables: dict[str, bytes]


def _frame(cols: dict[str, Any], order: dict[str, int]) -> pd.DataFrame:
    df = pd.DataFrame(cols)
    if df.empty:
        return df
    df["motion"] = df["motion"].astype(str)
    keys = ["_o", "seed"] + [k for k in _KEYS if k in df]
    df["_o"] = df["motion"].map(order)
    return df.sort_values(keys, kind="stable").drop(columns="_o").reset_index(drop=True)


def encode(scenario: Scenario, r: ChunkResult) -> ChunkPart:
    """Sort each table of a chunk (motion, seed, month...) and encode it as Parquet."""
    order = {m.name: i for i, m in enumerate(scenario.motions)}
    tables = {}
    for name, cols in (("runs", r.runs), ("monthly", r.monthly), ("forecast", r.forecast),
                       ("funnel", r.funnel), ("inputs", r.inputs)):
        buf = io.BytesIO()
        table = pa.Table.from_pandas(_frame(cols, order), preserve_index=False)
        pq.write_table(table, buf)
        tables[name] = buf.getvalue()
    return ChunkPart(r.chunk, tables)


def run_part(scenario: Scenario, chunk: Chunk) -> ChunkPart:
    """What a worker runs: simulate the chunk and encode it."""
    return encode(scenario, run_chunk(scenario, chunk))


class PartStore:
    """A folder of ``chunk-NNNNN/`` part folders, one Parquet file per table in each."""

    def __init__(self, folder: Path | None = None, tag: str = ""):
        self.tag = tag  # the scenario hash, recorded in each part
        self._tmp = None
        if folder is None:  # parts of a run without a checkpoint: removed with the store
            self._tmp = tempfile.TemporaryDirectory(prefix="revsim-parts-")
            folder = Path(self._tmp.name)
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def _dir(self, index: int) -> Path:
        return self.folder / f"chunk-{index:05d}"

    def indices(self) -> list[int]:
        return sorted(int(p.name.split("-")[1]) for p in self.folder.glob("chunk-*")
                      if p.is_dir() and p.name.split("-")[1].isdigit())

    def save(self, part: ChunkPart) -> None:
        final = self._dir(part.chunk.index)
        tmp = self.folder / f".{final.name}.tmp{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        for name, data in part.tables.items():
            (tmp / f"{name}.parquet").write_bytes(data)
        c = part.chunk
        (tmp / PART_RECORD).write_text(json.dumps({
            "index": c.index, "start": c.start, "stop": c.stop, "scenario_hash": self.tag}))
        if final.exists():  # a chunk re-run after a retry: same seeds, same numbers
            shutil.rmtree(final)
        tmp.rename(final)

    def check(self, index: int, chunk: Chunk | None) -> str | None:
        """What is wrong with part ``index`` against the planned ``chunk`` (None: whole):
        its record (seed range, scenario hash) and every table's Parquet footer."""
        d = self._dir(index)
        try:
            rec = json.loads((d / PART_RECORD).read_text())
        except (OSError, ValueError):
            return f"{d.name} has no readable {PART_RECORD} (its seed range is unknown)"
        if chunk is None:
            return f"{d.name} is not in this run's chunk plan (a part of another run?)"
        want = {"index": chunk.index, "start": chunk.start, "stop": chunk.stop,
                "scenario_hash": self.tag}
        have = {k: rec.get(k) for k in want}
        if have != want:
            return (f"{d.name} holds seeds {have['start']}-{have['stop']} of chunk "
                    f"{have['index']} (scenario {str(have['scenario_hash'])[:8]}), but this run "
                    f"plans seeds {chunk.start}-{chunk.stop} there (scenario {self.tag[:8]})")
        for table in TABLES:
            try:
                meta = pq.read_metadata(self.path(index, table))
            except (OSError, pa.ArrowException) as e:
                return f"{d.name}/{table}.parquet is damaged ({e})"
            if table == "runs" and meta.num_rows % max(1, chunk.stop - chunk.start):
                return f"{d.name}/runs.parquet has {meta.num_rows} rows, not a row per seed"
        return None

    def path(self, index: int, table: str) -> Path:
        return self._dir(index) / f"{table}.parquet"

    def schema(self, table: str, indices: list[int]) -> pa.Schema | None:
        """One schema for the table over all parts (a column all missing in one chunk is
        Parquet null there; it takes the type the other chunks have)."""
        schemas = [pq.read_schema(self.path(i, table)) for i in indices]
        if not schemas:
            return None
        return pa.unify_schemas(schemas)

    def pieces(self, table: str, indices: list[int], motions: list[str],
               columns: list[str] | None = None) -> Iterator[pa.Table]:
        """The table's rows in result order: each motion, then the parts in chunk order."""
        schema = self.schema(table, indices)
        if schema is None:
            return
        cols = None if columns is None else [c for c in columns if c in schema.names]
        target = schema if cols is None else pa.schema([schema.field(c) for c in cols])
        multi = len(motions) > 1
        for motion in motions:
            for i in indices:
                read = cols if cols is None or not multi or "motion" in cols else [*cols, "motion"]
                t = pq.read_table(self.path(i, table), columns=read)
                if t.num_rows == 0:
                    continue
                if multi:
                    t = t.filter(pc.equal(t["motion"], motion))
                    if cols is not None:
                        t = t.select(cols)
                    if t.num_rows == 0:
                        continue
                yield t.cast(target) if t.schema != target else t

    def write(self, table: str, dest: Path, indices: list[int], motions: list[str]) -> None:
        """Assemble ``table`` from the parts into ``dest``, one part in memory at a time."""
        schema = self.schema(table, indices)
        if schema is None:
            pd.DataFrame().to_parquet(dest, index=False)
            return
        with pq.ParquetWriter(dest, schema) as writer:
            wrote = False
            for t in self.pieces(table, indices, motions):
                writer.write_table(t)
                wrote = True
            if not wrote:
                writer.write_table(schema.empty_table())

    def read(self, table: str, indices: list[int], motions: list[str],
             columns: list[str] | None = None) -> pd.DataFrame:
        """The whole table in memory (what ``Results.monthly`` and friends return)."""
        pieces = list(self.pieces(table, indices, motions, columns))
        if not pieces:
            schema = self.schema(table, indices)
            return pd.DataFrame() if schema is None else schema.empty_table().to_pandas()
        return pa.concat_tables(pieces).to_pandas()


def quantiles(values: pd.DataFrame, by: str, col: str, qs: tuple[float, ...],
              interpolation: str) -> pd.DataFrame:
    """Quantiles of ``col`` per (motion, ``by``), exactly as pandas' groupby computes them."""
    g = values.groupby(["motion", by], sort=False)[col]
    out = pd.DataFrame({f"p{round(q * 100):d}": g.quantile(q, interpolation=interpolation)
                        for q in qs})
    return out.reset_index()

