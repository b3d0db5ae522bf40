"""Results of a run: DataFrames for notebooks, and the results folder on disk.

The runner writes the folder's tables (INTERFACE.md "Results folder") into a
staging folder; the report and other files are added by the layers above, and
one rename publishes it (``sim.runner.output``), so a folder that exists is whole.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from sim.metrics import summarize
from sim.runner.output import OutputClaim, safe_name
from sim.runner.parts import PartStore, quantiles
from sim.scenario.schema import Scenario

__all__ = ["Results", "scenario_hash", "assemble"]


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 of the resolved scenario (templates merged), seeds count excluded."""
    data = scenario.model_dump(mode="json", by_alias=True, exclude={"seeds"})
    blob = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()


@dataclass(init=False, repr=False, eq=False)
class Results:
    """The tables of a run. ``runs`` (one row per motion and seed) is always in memory;
    ``monthly``, ``forecast`` and ``funnel`` are read from the run's Parquet parts (or
    the saved folder) the first time they are asked for, so a run that is only saved
    never holds them whole in memory. A dataclass, so ``dataclasses.replace`` works."""

    scenario: Scenario
    runs: pd.DataFrame
    monthly: pd.DataFrame  # properties below: read when first asked for
    forecast: pd.DataFrame
    funnel: pd.DataFrame
    inputs: pd.DataFrame  # one row per (motion, seed): each uncertain input's value
    manifest: dict[str, Any]
    parts: PartStore | None
    part_indices: list[int]
    luck_runs: pd.DataFrame  # runs of the first seeds again: same inputs, fresh luck

    def __init__(self, scenario: Scenario, runs: pd.DataFrame,
                 monthly: pd.DataFrame | None = None, forecast: pd.DataFrame | None = None,
                 funnel: pd.DataFrame | None = None, manifest: dict[str, Any] | None = None,
                 parts: PartStore | None = None, part_indices: list[int] | None = None,
                 inputs: pd.DataFrame | None = None, luck_runs: pd.DataFrame | None = None):
        self.scenario = scenario
        self.runs = runs
        self.luck_runs = pd.DataFrame() if luck_runs is None else luck_runs
        self._drivers: pd.DataFrame | None = None
        self.manifest = {} if manifest is None else manifest
        self._tables: dict[str, pd.DataFrame] = {
            k: v for k, v in (("monthly", monthly), ("forecast", forecast), ("funnel", funnel),
                              ("inputs", inputs)) if v is not None}
        self.parts = parts
        self.part_indices = list(part_indices or [])
        self._saved: Path | None = None

    def _table(self, name: str) -> pd.DataFrame:
        if name not in self._tables:
            if self._saved is not None:
                path = self._saved / f"{name}.parquet"  # (inputs: absent from older folders)
                self._tables[name] = pd.read_parquet(path) if path.is_file() else pd.DataFrame()
            elif self.parts is not None:
                self._tables[name] = self.parts.read(name, self.part_indices, self.motions())
            else:
                self._tables[name] = pd.DataFrame()
        return self._tables[name]

    @property  # type: ignore[no-redef]
    def monthly(self) -> pd.DataFrame:
        return self._table("monthly")

    @property  # type: ignore[no-redef]
    def forecast(self) -> pd.DataFrame:
        return self._table("forecast")

    @property  # type: ignore[no-redef]
    def funnel(self) -> pd.DataFrame:
        return self._table("funnel")

    @property  # type: ignore[no-redef]
    def inputs(self) -> pd.DataFrame:
        return self._table("inputs")

    @property
    def drivers(self) -> pd.DataFrame | None:
        """What drives the spread, ``motion, metric, driver, share``, once estimated
        (``sim.drivers.drivers_of`` estimates it; a saved folder holds drivers.csv)."""
        if self._drivers is None and self._saved is not None and (
                self._saved / "drivers.csv").is_file():
            self._drivers = pd.read_csv(self._saved / "drivers.csv")
        return self._drivers

    def set_drivers(self, table: pd.DataFrame) -> None:
        self._drivers = table

    def summary(self) -> pd.DataFrame:
        """Per (motion, metric): mean with 95% CI, sd, P10, P50, P90 across seeds."""
        return summarize(self.runs)

    def motions(self) -> list[str]:
        return [m.name for m in self.scenario.motions]

    def monthly_quantiles(self, column: str, qs: tuple[float, ...] = (0.1, 0.5, 0.9),
                          interpolation: str = "linear") -> pd.DataFrame:
        """Exact quantiles of a monthly ``column`` across seeds, per (motion, month).

        Columns motion, month, p10, p50, p90 (for the default ``qs``): the numbers
        ``monthly.groupby(["motion", "month"])[column].quantile(q)`` gives, read one
        column at a time, so the whole monthly table need not be in memory.
        """
        values = self.monthly_columns(["motion", "month", column])
        if column not in values:  # (a results folder from before the column existed)
            return pd.DataFrame(columns=["motion", "month"] + [f"p{round(q * 100):d}" for q in qs])
        return quantiles(values, "month", column, qs, interpolation)

    def monthly_columns(self, cols: list[str]) -> pd.DataFrame:
        """Some columns of the monthly table, read without loading the rest."""
        if "monthly" in self._tables:
            have = [c for c in cols if c in self._tables["monthly"]]
            return self._tables["monthly"][have]
        if self._saved is not None:
            import pyarrow.parquet as pq

            names = set(pq.read_schema(self._saved / "monthly.parquet").names)
            return pd.read_parquet(self._saved / "monthly.parquet",
                                   columns=[c for c in cols if c in names])
        if self.parts is not None:
            return self.parts.read("monthly", self.part_indices, self.motions(), cols)
        return pd.DataFrame(columns=cols)

    def _write_table(self, name: str, dest: Path) -> None:
        if name in self._tables:
            self._tables[name].to_parquet(dest, index=False)
        elif self._saved is not None:
            shutil.copyfile(self._saved / f"{name}.parquet", dest)
        elif self.parts is not None:
            self.parts.write(name, dest, self.part_indices, self.motions())
        else:
            pd.DataFrame().to_parquet(dest, index=False)

    def write_tables(self, folder: Path) -> None:
        """Write the tables, summary and manifest into ``folder`` (an empty staging folder,
        see ``sim.runner.output``); from then on the tables are read from there.

        The Parquet tables are assembled from the run's parts one part at a time.
        The report and other files are composed by the layers above the runner."""
        self.runs.to_parquet(folder / "runs.parquet", index=False)
        for name in ("monthly", "forecast", "funnel", "inputs"):
            self._write_table(name, folder / f"{name}.parquet")
        self.luck_runs.to_parquet(folder / "luck.parquet", index=False)
        self._saved = folder
        self.summary().to_csv(folder / "summary.csv", index=False)
        manifest = dict(self.manifest)
        manifest["scenario"] = self.scenario.model_dump(mode="json", by_alias=True)
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))

    def moved_to(self, folder: Path) -> None:
        """The folder the tables were written to was renamed to ``folder``."""
        self._saved = folder

    def save(self, directory: str | Path, tables_only: bool = False) -> Path:
        """Write a new results folder, atomically (``sim.runner.output``): what ``revsim
        run`` writes, report included, when the package installed its publisher (importing
        ``sim`` does: ``sim.publish.save_results``); else, or with ``tables_only``, the
        tables, summary and manifest. The runner never imports the report itself."""
        final = Path(directory)
        if final.exists():
            raise FileExistsError(f"{final} already exists")
        if PUBLISHER and not tables_only:
            return PUBLISHER[0](self, final)
        claim = OutputClaim.claim(final, what=str(final))
        before = self._saved
        try:
            self.write_tables(claim.staging())
            self.moved_to(claim.publish())
        except BaseException:
            self._saved = before
            claim.abandon()
            raise
        return final

    @classmethod
    def load(cls, directory: str | Path) -> Results:
        d = Path(directory)
        manifest = json.loads((d / "manifest.json").read_text())
        scenario = Scenario.model_validate(manifest["scenario"])
        luck = d / "luck.parquet"
        res = cls(scenario=scenario, runs=pd.read_parquet(d / "runs.parquet"),
                  manifest=manifest,
                  luck_runs=pd.read_parquet(luck) if luck.is_file() else None)
        res._saved = d  # the other tables are read when first asked for
        return res


# How a whole results folder is written (the layer above the report registers it).
PUBLISHER: list[Callable[[Results, Path], Path]] = []


def default_results_dir(scenario: Scenario, root: str | Path = "results") -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path(root) / safe_name(scenario.name) / f"{stamp}-{scenario_hash(scenario)[:8]}"


def assemble(scenario: Scenario, parts: PartStore, indices: list[int],
             manifest: dict[str, Any], luck_indices: list[int] | None = None) -> Results:
    """Results over the chunks ``indices`` of ``parts``: the per-seed table in memory,
    the others read from the parts when needed; ``luck_indices``: the chunks of the
    luck re-run (``luck_runs``)."""
    motions = [m.name for m in scenario.motions]
    runs = parts.read("runs", indices, motions)
    luck = parts.read("runs", luck_indices, motions) if luck_indices else None
    if luck is not None and not luck.empty:
        luck = luck[luck["seed"] < scenario.seeds].reset_index(drop=True)
    return Results(scenario, runs, manifest=manifest, parts=parts, part_indices=indices,
                   luck_runs=luck)
