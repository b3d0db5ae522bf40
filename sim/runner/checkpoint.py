"""Chunk checkpoints: an interrupted run resumes from the chunks it finished.

A run with a checkpoint folder writes each finished chunk there as soon as it
arrives, as the Parquet part files the results are assembled from
(``chunk-NNNNN/``, written to a temporary name and renamed, so a part that
exists is whole; see parts.py), beside ``checkpoint.json`` (scenario hash,
package version, seeds, chunk size, precision stops). On resume every part is
checked against the chunk plan: its recorded seed range and scenario hash, and
its Parquet footers; a part copied under another index, left by a run with
another chunk size (a lost checkpoint.json resumed with other --workers) or
damaged is refused, named.
Resuming reads the finished chunks, runs only the missing ones on the same chunk
plan, and so gives the numbers of an uninterrupted run. Chunks of another
scenario, seed count or package version are never mixed in.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sim.runner.chunks import Chunk
from sim.runner.parts import PartStore
from sim.runner.results import scenario_hash
from sim.scenario.errors import Problem, ScenarioError
from sim.scenario.schema import Scenario

__all__ = ["Checkpoint"]

META = "checkpoint.json"


class Checkpoint:
    def __init__(self, folder: Path, meta: dict[str, object]):
        self.folder = folder
        self.meta = meta
        self.parts = PartStore(folder, tag=str(meta["scenario_hash"]))

    @property
    def chunk_size(self) -> int:
        return int(self.meta["chunk_size"])  # type: ignore[call-overload]

    @property
    def stops(self) -> list[int]:
        """Seed counts a --precision run may stop at (chunks are cut there)."""
        stops: Any = self.meta.get("stops") or [self.meta["seeds"]]
        return [int(x) for x in stops]

    @classmethod
    def open(cls, folder: Path, scenario: Scenario, chunk_size: int,
             stops: list[int] | None = None) -> Checkpoint:
        """Open (resume) the checkpoint in ``folder`` or start a new one there."""
        from sim.version import __version__

        meta: dict[str, object] = {"scenario_hash": scenario_hash(scenario),
                                   "package_version": __version__, "seeds": scenario.seeds,
                                   "chunk_size": chunk_size, "stops": stops or [scenario.seeds],
                                   "scenario_name": scenario.name}
        path = folder / META
        if path.is_file():
            try:
                old = json.loads(path.read_text())
                int(old["chunk_size"])
            except (OSError, ValueError, KeyError, TypeError):
                raise ScenarioError([Problem(str(path), None, "", (
                    "cannot resume: the checkpoint record is damaged; start a new run "
                    "instead"))]) from None
            for key, what in (("scenario_hash", "scenario"), ("package_version", "revsim version"),
                              ("seeds", "number of seeds")):
                if old.get(key) != meta[key]:
                    raise ScenarioError([Problem(str(folder), None, "", (
                        f"cannot resume: the interrupted run had another {what} "
                        f"({old.get(key)} here, {meta[key]} now); start a new run instead"))])
            return cls(folder, old)
        folder.mkdir(parents=True, exist_ok=True)
        return cls(folder, meta)  # its record is written once the parts are checked

    def finished(self, plan: list[Chunk]) -> list[int]:
        """Indices of the chunks already finished, each part checked against ``plan`` (its
        seed range and scenario hash, its Parquet footers); raises naming any that is not."""
        by_index = {c.index: c for c in plan}
        found = self.parts.indices()
        bad = [why for i in found if (why := self.parts.check(i, by_index.get(i))) is not None]
        if bad:
            raise ScenarioError([Problem(str(self.folder), None, "", (
                f"cannot resume: {why}; remove that chunk folder to run it again, or start a "
                "new run")) for why in bad])
        path = self.folder / META
        if not path.is_file():
            tmp = self.folder / f".{META}.tmp{os.getpid()}"
            tmp.write_text(json.dumps(self.meta, indent=2))
            tmp.rename(path)
        return found

    @staticmethod
    def find(results_root: Path, scenario: Scenario) -> Path | None:
        """The newest interrupted run of this scenario under ``results_root``, if any."""
        want = scenario_hash(scenario)
        found = []
        for meta in results_root.glob(f"*/*.partial/{META}"):
            try:
                data = json.loads(meta.read_text())
            except (OSError, ValueError):
                continue
            if data.get("scenario_hash") == want and data.get("seeds") == scenario.seeds:
                found.append(meta.parent)
        return max(found, key=lambda p: p.stat().st_mtime) if found else None
