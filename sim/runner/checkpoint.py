"""Chunk checkpoints: an interrupted run resumes from the chunks it finished.

A run with a checkpoint folder writes each finished chunk there as soon as it
arrives, as the Parquet part files the results are assembled from
(``chunk-NNNNN/``, written to a temporary name and renamed, so a part that
exists is whole; see parts.py), beside ``checkpoint.json`` (scenario hash, package version, seeds, chunk size).
Resuming reads the finished chunks, runs only the missing ones on the same chunk
plan, and so gives the numbers of an uninterrupted run. Chunks of another
scenario, seed count or package version are never mixed in.
"""

from __future__ import annotations

import json
from pathlib import Path

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
        self.parts = PartStore(folder)

    @property
    def chunk_size(self) -> int:
        return int(self.meta["chunk_size"])  # type: ignore[call-overload]

    @classmethod
    def open(cls, folder: Path, scenario: Scenario, chunk_size: int) -> Checkpoint:
        """Open (resume) the checkpoint in ``folder`` or start a new one there."""
        from sim.version import __version__

        meta: dict[str, object] = {"scenario_hash": scenario_hash(scenario),
                                   "package_version": __version__, "seeds": scenario.seeds,
                                   "chunk_size": chunk_size, "scenario_name": scenario.name}
        path = folder / META
        if path.is_file():
            old = json.loads(path.read_text())
            for key, what in (("scenario_hash", "scenario"), ("package_version", "revsim version"),
                              ("seeds", "number of seeds")):
                if old.get(key) != meta[key]:
                    raise ScenarioError([Problem(str(folder), None, "", (
                        f"cannot resume: the interrupted run had another {what} "
                        f"({old.get(key)} here, {meta[key]} now); start a new run instead"))])
            return cls(folder, old)
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(meta, indent=2))
        return cls(folder, meta)

    def finished(self) -> list[int]:
        """Indices of the chunks already finished (their parts are in the folder)."""
        return self.parts.indices()

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
