"""What a fit is: its options, its result (``MotionFit``) and the uncertainty of each parameter.

Data only, shared by the fitter (``sim.fit.fitter``), the bootstrap and curvature
(``sim.fit.uncertainty``), the scenario writer and the reports, so none of them imports
another for a type.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.fit.acv import AcvFit
from sim.fit.arrivals import ArrivalsFit
from sim.fit.churn import ChurnFit, Tenures
from sim.fit.events import Episodes, OpenDeal
from sim.fit.io import Export
from sim.fit.stages import StageFit

__all__ = ["FitOptions", "MotionFit", "Uncertainty", "point_values"]


@dataclass
class Uncertainty:
    method: str
    replicates: dict[str, np.ndarray]

    @classmethod
    def empty(cls) -> Uncertainty:
        return cls("none", {})

    def interval(self, name: str, level: float = 0.90) -> tuple[float, float]:
        r = self.replicates.get(name)
        if r is None or not np.isfinite(r).any():
            return (math.nan, math.nan)
        lo = (1 - level) / 2
        return (float(np.nanquantile(r, lo)), float(np.nanquantile(r, 1 - lo)))

    @property
    def size(self) -> int:
        return max((r.size for r in self.replicates.values()), default=0)


@dataclass
class FitOptions:
    bootstrap: int = 100  # replicates (over deals; over customers for churn)
    seed: int = 0
    max_bootstrap_deals: int = 10_000  # above: the likelihood's curvature instead
    by_owner: bool = False
    workers: int = 0  # processes for the bootstrap over deals (0: one per core)


@dataclass
class MotionFit:
    export: Export
    as_of: float  # days since the export's origin
    as_of_date: pd.Timestamp
    stage_names: list[str]
    stages: list[StageFit] | None  # per stage (with history)
    cycle: StageFit | None  # created to close (without history; also reported with it)
    arrivals: ArrivalsFit
    acv: AcvFit | None
    churn: ChurnFit | None
    tenures: Tenures | None
    open_deals: list[OpenDeal]
    episodes: Episodes | None
    counts: dict[str, int]
    naive: dict[str, float]
    uncertainty: Uncertainty
    owners: dict[str, tuple[float, int]] = field(default_factory=dict)
    unusable: Counter[str] = field(default_factory=Counter)

    def point(self) -> dict[str, float]:
        """Every fitted parameter by name (the names of ``uncertainty``)."""
        return point_values(self)

    @property
    def win_rate(self) -> float:
        if self.stages:
            return math.prod(s.p for s in self.stages)
        return self.cycle.p if self.cycle else math.nan


def point_values(f: MotionFit) -> dict[str, float]:
    out: dict[str, float] = {}
    if f.stages:
        for name, s in zip(f.stage_names, f.stages, strict=True):
            m, sd = s.duration_mean_sd
            out[f"{name}.advance"] = s.p
            out[f"{name}.duration_mean"] = m
            out[f"{name}.duration_sd"] = sd
    if f.cycle is not None:
        out["cycle.win"] = f.cycle.p
        out["cycle.won_days_mean"] = f.cycle.duration_mean_sd[0]
    out["win_rate"] = f.win_rate
    out["leads_per_month"] = f.arrivals.leads_per_month
    out["growth_per_month"] = f.arrivals.growth_per_month
    if f.acv is not None:
        out["acv_mean"], out["acv_sd"] = f.acv.mean, f.acv.sd
    if f.churn is not None:
        out["early_churn"] = f.churn.early_churn
        out["renewal_churn"] = f.churn.renewal_churn
        out["sbg_a"], out["sbg_b"] = f.churn.a, f.churn.b
    return out
