"""What ``revsim fit`` does, as functions: read the export, fit it, write the scenario.

``load_export`` turns the command's options into a checked ``Export`` (a preset's
mapping and reshaping first, ``sim.fit.presets``); ``write_fit`` writes the
scenario YAML and ``retention.csv`` beside it, only once everything is ready
(written to temporary names and renamed, so a failure leaves nothing behind).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sim.fit.fitter import fit_export
from sim.fit.io import Export, Mapping, TableSource, parse_map, read_export
from sim.fit.motion_fit import FitOptions, MotionFit
from sim.fit.presets import apply_preset
from sim.fit.writer import retention_table, scenario_data, scenario_yaml
from sim.scenario.errors import Problem, ScenarioError

__all__ = ["ExportSpec", "default_as_of", "load_export", "parse_date", "run_fit", "write_fit"]


@dataclass
class ExportSpec:
    deals: Path
    history: Path | None = None
    subscriptions: Path | None = None
    maps: list[str] = field(default_factory=list)
    won: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    stages: str | None = None
    preset: str | None = None


def parse_date(text: str, option: str) -> pd.Timestamp:
    try:
        t = pd.Timestamp(text)
    except (ValueError, TypeError):
        t = pd.NaT
    if pd.isna(t):
        raise ScenarioError([Problem(option, None, "", f"not a date: {text!r} (expected e.g. "
                                     "2025-06-30)")])
    return pd.Timestamp(t.tz_localize(None) if t.tzinfo else t)


def load_export(spec: ExportSpec, as_of: pd.Timestamp | None = None) -> Export:
    mapping = Mapping()
    deals: TableSource = spec.deals
    history: TableSource | None = spec.history
    if spec.preset:
        mapping, deals, history = apply_preset(spec.preset, spec.deals, spec.history)
    mapping.columns.update(parse_map(spec.maps))
    if spec.won:
        mapping.won = list(spec.won)
    if spec.lost:
        mapping.lost = list(spec.lost)
    if spec.stages:
        mapping.stages = [s.strip() for s in spec.stages.split(",") if s.strip()]
    return read_export(deals, mapping, history, spec.subscriptions, as_of)


def default_as_of(export: Export) -> pd.Timestamp:
    """The export's own date: the day after the last date it records."""
    d = export.deals
    last = max(float(d["created"].max()), float(d["closed"].max(skipna=True))
               if d["closed"].notna().any() else -1e18)
    if export.history is not None and len(export.history):
        last = max(last, float(export.history["t"].max()))
    return export.date(last).normalize() + pd.Timedelta(days=1)


def run_fit(spec: ExportSpec, as_of: pd.Timestamp | None, options: FitOptions) -> MotionFit:
    export = load_export(spec, as_of)
    if not len(export.deals):
        raise ScenarioError([Problem(str(spec.deals), None, "", "no usable deals (" + ", ".join(
            f"{n} {why}" for why, n in export.unusable.items()) + ")")])
    when = as_of if as_of is not None else default_as_of(export)
    return fit_export(export, when, options)


def _atomic(path: Path, text: str) -> Path:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return Path(tmp)


def write_fit(fit: MotionFit, out: Path, horizon_months: int, template: str,
              seeds: int = 1000) -> list[Path]:
    """The scenario at ``out`` and, with subscriptions, ``retention.csv`` beside it."""
    name = out.stem.replace("_", "-") or "fitted"
    text = scenario_yaml(scenario_data(fit, name, horizon_months, template, seeds))
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = [(_atomic(out, text), out)]
    table = retention_table(fit)
    if table is not None:
        staged.append((_atomic(out.parent / "retention.csv", table.to_csv(index=False)),
                       out.parent / "retention.csv"))
    for tmp, final in staged:
        os.replace(tmp, final)
    return [final for _, final in staged]
