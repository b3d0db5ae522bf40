"""Results of a run: DataFrames for notebooks, and the results folder on disk.

The folder (INTERFACE.md "Results folder") is written under a temporary name
beside its final place and renamed when complete, so a folder that exists is
whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.metrics import summarize
from sim.runner.chunks import ChunkResult
from sim.scenario.schema import Scenario

__all__ = ["Results", "scenario_hash", "assemble"]


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 of the resolved scenario (templates merged), seeds count excluded."""
    data = scenario.model_dump(mode="json", by_alias=True, exclude={"seeds"})
    blob = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()


@dataclass
class Results:
    scenario: Scenario
    runs: pd.DataFrame
    monthly: pd.DataFrame
    forecast: pd.DataFrame
    funnel: pd.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Per (motion, metric): mean with 95% CI, sd, P10, P50, P90 across seeds."""
        return summarize(self.runs)

    def motions(self) -> list[str]:
        return [m.name for m in self.scenario.motions]

    def save(self, directory: str | Path, overwrite: bool = False, report: bool = True,
             extras: list[dict[str, Any]] | None = None) -> Path:
        """Write the results folder atomically (report, figures and comparison included).

        ``extras``: further report sections (stress deltas, the sensitivity tornado).
        """
        final = Path(directory)
        if final.exists() and not overwrite:
            raise FileExistsError(f"{final} already exists")
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f".{final.name}.writing-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        try:
            self.runs.to_parquet(tmp / "runs.parquet", index=False)
            self.monthly.to_parquet(tmp / "monthly.parquet", index=False)
            self.forecast.to_parquet(tmp / "forecast.parquet", index=False)
            self.funnel.to_parquet(tmp / "funnel.parquet", index=False)
            self.summary().to_csv(tmp / "summary.csv", index=False)
            manifest = dict(self.manifest)
            manifest["scenario"] = self.scenario.model_dump(mode="json", by_alias=True)
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
            if report:
                from sim.calibration import benchmark_section
                from sim.report.html import write_report

                section = benchmark_section(self)
                write_report(self, tmp, [*(extras or []), *([section] if section else [])])
            if final.exists():
                shutil.rmtree(final)
            tmp.rename(final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final

    @classmethod
    def load(cls, directory: str | Path) -> Results:
        d = Path(directory)
        manifest = json.loads((d / "manifest.json").read_text())
        scenario = Scenario.model_validate(manifest["scenario"])
        return cls(
            scenario=scenario,
            runs=pd.read_parquet(d / "runs.parquet"),
            monthly=pd.read_parquet(d / "monthly.parquet"),
            forecast=pd.read_parquet(d / "forecast.parquet"),
            funnel=pd.read_parquet(d / "funnel.parquet"),
            manifest=manifest,
        )


def default_results_dir(scenario: Scenario, root: str | Path = "results") -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in scenario.name)
    return Path(root) / safe / f"{stamp}-{scenario_hash(scenario)[:8]}"


def assemble(scenario: Scenario, parts: list[ChunkResult], manifest: dict[str, Any]) -> Results:
    order = {m.name: i for i, m in enumerate(scenario.motions)}

    def frame(cols: dict[str, Any]) -> pd.DataFrame:
        df = pd.DataFrame(cols)
        if df.empty:
            return df
        df["motion"] = df["motion"].astype(str)
        keys = ["_o", "seed"] + [k for k in ("month", "quarter", "stage_index") if k in df]
        df["_o"] = df["motion"].map(order)
        return df.sort_values(keys, kind="stable").drop(columns="_o").reset_index(drop=True)

    runs: dict[str, list[Any]] = {}
    for p in parts:
        for k, v in p.runs.items():
            runs.setdefault(k, []).extend(v)

    def stack(attr: str) -> dict[str, np.ndarray]:
        items = [getattr(p, attr) for p in parts if getattr(p, attr)]
        return {k: np.concatenate([i[k] for i in items]) for k in items[0]} if items else {}

    return Results(scenario, frame(runs), frame(stack("monthly")), frame(stack("forecast")),
                   frame(stack("funnel")), manifest)
