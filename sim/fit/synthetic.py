"""A synthetic company: a known motion simulated by revsim, exported like a CRM.

``synthetic_company`` runs one replication of a motion whose every parameter
is known, then writes what a CRM would hold at the export date: one row per
deal (open, won, lost), the stage history, and the subscriptions of the
customers won. It adds what real exports have: *stale* deals (a share of the
lost deals that nobody closed in the CRM: still open in the stage they were
lost in) and, optionally, a window (a deal closed before ``window_months`` is
not in the export: deals created earlier are left-truncated). The fit, its
recovery test, the back-test and the benchmark all start from it.

The truth is the motion's nominal parameters, and the engine applies them
unmodified: every lead is a good fit (no bad-fit factor), the acceptance
criteria cost nothing (``criteria_win_factor`` 1), the stages have no owner (no
rep ramp, capacity or queue), there is no outbound (no AI penalty) and no
initial pipeline, so each lead's advance probability in each stage is exactly
the nominal one and its days there exactly its lognormal draw (tested).
``realised`` is what this one run happened to draw (the share of the stays
ended by the export date that advanced, the mean days drawn for the stays that
advance):
a fit that reads the export faithfully sits next to it; the nominal truth is
away from it by the luck of the run, which the fit's interval covers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.engine.model import simulate_seed
from sim.engine.records import LOST, OPEN, WON
from sim.engine.team import MONTH_DAYS
from sim.scenario.loader import scenario_from_dict
from sim.scenario.schema import Scenario

__all__ = ["SyntheticCompany", "SyntheticMotion", "realised", "synthetic_company", "write_preset"]

OWNERS = ("Avery", "Blake", "Casey", "Devon", "Emery")
SOURCES = ("web", "event", "referral")


@dataclass(frozen=True)
class SyntheticMotion:
    """The known motion (the truth the fit should recover)."""

    stages: tuple[tuple[str, float, float, float], ...] = (
        ("discovery", 20.0, 10.0, 0.6),  # name, mean days, sd days, advance
        ("proposal", 30.0, 15.0, 0.55),
        ("negotiation", 25.0, 12.0, 0.7),
    )
    leads_per_month: float = 60.0
    growth_per_month: float = 0.02
    acv_mean: float = 30_000.0
    acv_sd: float = 15_000.0
    early_churn: float = 0.05
    monthly_churn: float = 0.012
    months: int = 30
    stale_share: float = 0.04  # of lost deals, never closed in the CRM
    window_months: float = 0.0  # deals closed before this month are not exported
    start: str = "2023-01-01"

    def truth(self) -> dict[str, float]:
        # the fit reads the lead rate at the export date (the first simulated month)
        out: dict[str, float] = {"leads_per_month": self.leads_per_month *
                                 (1 + self.growth_per_month) ** self.months,
                                 "growth_per_month": self.growth_per_month,
                                 "acv_mean": self.acv_mean, "acv_sd": self.acv_sd,
                                 "early_churn": self.early_churn,
                                 "renewal_churn": 1 - (1 - self.monthly_churn) ** 12}
        for name, m, s, p in self.stages:
            out[f"{name}.advance"] = p
            out[f"{name}.duration_mean"] = m
            out[f"{name}.duration_sd"] = s
        out["win_rate"] = math.prod(p for *_, p in self.stages)
        return out

    def scenario(self, seed: int) -> Scenario:
        motion: dict[str, Any] = {
            "template": "sales_led", "name": "synthetic",
            "sources": {"inbound": {"leads_per_month": self.leads_per_month,
                                    "growth_per_month": self.growth_per_month, "fit_rate": 1.0,
                                    "cost_per_lead": 100.0},
                        "outbound": None},
            "stages": [{"name": n, "duration": {"dist": "lognormal", "mean": m, "sd": s},
                        "advance": p} for n, m, s, p in self.stages],
            "handoff": {"criteria_win_factor": 1.0},
            "deal": {"acv": {"dist": "lognormal", "mean": self.acv_mean, "sd": self.acv_sd}},
            "retention": {"early_churn": self.early_churn, "monthly_churn": self.monthly_churn,
                          "expansion_rate_annual": 0.0, "contraction_rate_annual": 0.0,
                          "bad_fit_multiplier": 1.0},
        }
        return scenario_from_dict({"name": "synthetic-company", "horizon_months": self.months,
                                   "seeds": 1, "seed": seed, "motions": [motion]})


@dataclass
class SyntheticCompany:
    motion: SyntheticMotion
    deals: pd.DataFrame  # id, created, closed, stage, amount, owner, source, segment
    history: pd.DataFrame  # id, timestamp, stage
    subscriptions: pd.DataFrame  # customer, start, end, arr
    export_date: pd.Timestamp
    stale: int
    truth: dict[str, float] = field(default_factory=dict)
    realised: dict[str, float] = field(default_factory=dict)  # this run's draws (docstring)

    def write(self, folder: Path) -> dict[str, Path]:
        """The generic format: deals.csv, history.csv, subscriptions.csv."""
        folder.mkdir(parents=True, exist_ok=True)
        out = {"deals": folder / "deals.csv", "history": folder / "history.csv",
               "subscriptions": folder / "subscriptions.csv"}
        self.deals.to_csv(out["deals"], index=False)
        self.history.to_csv(out["history"], index=False)
        self.subscriptions.to_csv(out["subscriptions"], index=False)
        return out


def synthetic_company(motion: SyntheticMotion | None = None, seed: int = 7) -> SyntheticCompany:
    """Simulate ``motion`` once with revsim and export it as a CRM would hold it."""
    motion = motion or SyntheticMotion()
    sc = motion.scenario(seed)
    run = simulate_seed(sc, sc.motions[0], 0)
    L, C = run.leads, run.customers
    horizon = run.horizon
    names = [s[0] for s in motion.stages]
    rng = np.random.default_rng(seed + 1)
    n = L["t_arrive"].size
    keep = np.isfinite(L["t_arrive"])
    outcome = L["outcome"].copy()
    t_end = L["t_end"].copy()
    lost = np.flatnonzero(keep & (outcome == LOST))
    stale = rng.random(lost.size) < motion.stale_share
    zombie = np.zeros(n, dtype=bool)
    zombie[lost[stale]] = True
    window = motion.window_months * MONTH_DAYS
    exported = keep & ~((outcome != OPEN) & ~zombie & (t_end < window))
    origin = pd.Timestamp(motion.start)

    def date(days: np.ndarray) -> np.ndarray:
        stamps = pd.Series(origin + pd.to_timedelta(np.asarray(days, dtype=float), unit="D"))
        return stamps.dt.strftime("%Y-%m-%d %H:%M:%S").fillna("").to_numpy()

    rows = np.flatnonzero(exported)
    ids = np.array([f"D{i:06d}" for i in range(n)])
    stage_idx = L["stage"]
    closed_at = np.where((outcome[rows] != OPEN) & ~zombie[rows], t_end[rows], np.nan)
    status = np.where(zombie[rows] | (outcome[rows] == OPEN),
                      np.array(names)[np.clip(stage_idx[rows], 0, len(names) - 1)],
                      np.where(outcome[rows] == WON, "won", "lost"))
    deals = pd.DataFrame({
        "id": ids[rows], "created": date(L["t_arrive"][rows]), "closed": date(closed_at),
        "stage": status, "amount": np.round(L["acv"][rows], 2),
        "owner": rng.choice(OWNERS, rows.size), "source": rng.choice(SOURCES, rows.size),
        "segment": "mid-market",
    })
    hist_id, hist_t, hist_s = [], [], []
    entry = L["entry"]
    for k, name in enumerate(names):
        e = entry[rows, k]
        ok = np.isfinite(e) & (e <= horizon)
        hist_id.append(ids[rows][ok])
        hist_t.append(e[ok])
        hist_s.append(np.full(int(ok.sum()), name))
    closed_ok = np.isfinite(closed_at)
    hist_id.append(ids[rows][closed_ok])
    hist_t.append(closed_at[closed_ok])
    hist_s.append(np.where(outcome[rows][closed_ok] == WON, "won", "lost"))
    t_all = np.concatenate(hist_t)
    history = pd.DataFrame({"id": np.concatenate(hist_id), "t": t_all,
                            "stage": np.concatenate(hist_s)})
    history = history.sort_values(["id", "t"], kind="stable")
    history = pd.DataFrame({"id": history["id"], "timestamp": date(history["t"].to_numpy()),
                            "stage": history["stage"]}).reset_index(drop=True)
    sales = C["lead"] >= 0
    cust_end = np.where(np.isfinite(C["end"][sales]) & (C["end"][sales] <= horizon),
                        C["end"][sales], np.nan)
    subs = pd.DataFrame({"customer": ids[C["lead"][sales]], "start": date(C["start"][sales]),
                         "end": date(cust_end), "arr": np.round(C["arr0"][sales], 2)})
    return SyntheticCompany(motion, deals.reset_index(drop=True), history, subs,
                            origin + pd.Timedelta(days=horizon), int(zombie[rows].sum()),
                            motion.truth(), realised(L, names))


def realised(L: dict[str, np.ndarray], names: list[str]) -> dict[str, float]:
    """The engine's own record of one run: per stage, the share advancing among the stays
    that ended by the horizon, and the mean days drawn for the stays that advance or will
    (those open at the horizon included: their days are known to the engine, censored in
    the export; completed stays alone would be short)."""
    entry, outcome, dur = L["entry"], L["outcome"], L["dur"]
    out: dict[str, float] = {}
    win = 1.0
    for k, name in enumerate(names):
        entered = np.isfinite(entry[:, k])
        advanced = entered & (np.isfinite(entry[:, k + 1]) if k + 1 < len(names)
                              else outcome == WON)
        lost = entered & (outcome == LOST) & (L["stage"] == k)
        share = int(advanced.sum()) / max(int((advanced | lost).sum()), 1)
        out[f"{name}.advance"] = share
        goes = entered & (L["u"][:, k] < L["p"][:, k])
        out[f"{name}.duration_mean"] = float(dur[goes, k].mean()) if goes.any() else math.nan
        win *= share
    out["win_rate"] = win
    return out


def write_preset(company: SyntheticCompany, preset: str, folder: Path) -> dict[str, Path]:
    """The company as a CRM would export it (``salesforce``, ``hubspot``, ``pipedrive``)."""
    folder.mkdir(parents=True, exist_ok=True)
    d, h = company.deals, company.history
    closed = d["stage"].isin(["won", "lost"])
    if preset == "salesforce":
        name = {"won": "Closed Won", "lost": "Closed Lost"}
        # an open opportunity's CloseDate is its expected close: the fit must ignore it
        expected = (pd.to_datetime(d["created"]) + pd.Timedelta(days=90)).dt.strftime("%Y-%m-%d")
        opp = pd.DataFrame({
            "Id": d["id"], "CreatedDate": d["created"],
            "CloseDate": d["closed"].where(closed, expected), "StageName": d["stage"].replace(name),
            "Amount": d["amount"].map(lambda a: f"${a:,.2f}"),
            "IsClosed": closed.map({True: "true", False: "false"}),
            "IsWon": (d["stage"] == "won").map({True: "true", False: "false"}),
            "OwnerId": d["owner"], "LeadSource": d["source"], "Type": d["segment"]})
        hist = pd.DataFrame({"OpportunityId": h["id"], "CreatedDate": h["timestamp"],
                             "StageName": h["stage"].replace(name)})
        out = {"deals": folder / "Opportunity.csv", "history": folder / "OpportunityHistory.csv"}
        opp.to_csv(out["deals"], index=False)
        hist.to_csv(out["history"], index=False)
        return out
    if preset == "hubspot":
        name = {"won": "Closed Won", "lost": "Closed Lost"}
        deals = pd.DataFrame({
            "Record ID": d["id"], "Deal Name": "deal " + d["id"], "Create Date": d["created"],
            "Close Date": d["closed"], "Deal Stage": d["stage"].replace(name),
            "Amount": d["amount"], "Deal owner": d["owner"], "Original Source Type": d["source"]})
        first = h.groupby(["id", "stage"], sort=False)["timestamp"].min().unstack("stage")
        for stage in [*[s[0] for s in company.motion.stages], "won", "lost"]:
            col = first[stage] if stage in first.columns else pd.Series(dtype=str)
            deals[f'Date entered "{name.get(stage, stage)}" (Sales Pipeline)'] = \
                d["id"].map(col).fillna("").to_numpy()
        out = {"deals": folder / "hubspot-deals.csv"}
        deals.to_csv(out["deals"], index=False)
        return out
    if preset == "pipedrive":
        status = np.where(d["stage"].isin(["won", "lost"]), d["stage"], "open")
        last_open = h[~h["stage"].isin(["won", "lost"])].groupby("id")["stage"].last()
        deals = pd.DataFrame({
            "Deal - ID": d["id"], "Deal - Title": "deal " + d["id"],
            "Deal - Deal created": d["created"],
            "Deal - Won time": np.where(status == "won", d["closed"], ""),
            "Deal - Lost time": np.where(status == "lost", d["closed"], ""),
            "Deal - Stage": np.where(status == "open", d["stage"],
                                     d["id"].map(last_open).fillna("")),
            "Deal - Status": status, "Deal - Value": d["amount"], "Deal - Owner": d["owner"],
            "Deal - Source": d["source"]})
        flow = h[~h["stage"].isin(["won", "lost"])]
        flow = pd.DataFrame({"Deal ID": flow["id"], "Update time": flow["timestamp"],
                             "Stage": flow["stage"]})
        out = {"deals": folder / "pipedrive-deals.csv", "history": folder / "deal-flow.csv"}
        deals.to_csv(out["deals"], index=False)
        flow.to_csv(out["history"], index=False)
        return out
    raise ValueError(f"unknown preset {preset!r}")
