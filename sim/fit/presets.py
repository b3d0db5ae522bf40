"""Presets: the column mapping (and reshaping) of common CRM exports.

- ``salesforce``: Opportunity (``Id, CreatedDate, CloseDate, StageName, Amount,
  OwnerId, LeadSource, Type``) with OpportunityHistory (``OpportunityId,
  CreatedDate, StageName``); closed stages ``Closed Won`` / ``Closed Lost``.
  ``CloseDate`` of an open opportunity is its *expected* close: it is read as
  the close date only for closed stages.
- ``hubspot``: deals (``Record ID, Create Date, Close Date, Deal Stage, Amount,
  Deal owner, Original Source Type``) with a wide ``Date entered "<stage>"``
  column per stage (or the API's ``hs_date_entered_<stage>``): the history is
  read from those columns, no history file needed. Closed stages ``Closed Won``
  / ``Closed Lost``.
- ``pipedrive``: deals (``Deal - ID, Deal - Deal created, Deal - Won time /
  Lost time, Deal - Stage, Deal - Status, Deal - Value, Deal - Owner,
  Deal - Source``) with the deal flow export (``Deal ID, Update time, Stage``
  rows, or ``Deal - ID, Changed at, New value``); status ``won`` / ``lost``
  closes a deal whatever its stage.

Each preset reshapes the tables in memory into the generic format (errors then
name the original file and the row) and returns the generic mapping of it.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from sim.fit.io import Mapping, NamedFrame, TableSource, read_table
from sim.scenario.errors import Problem, ScenarioError

__all__ = ["PRESETS", "apply_preset"]

PRESETS = ("salesforce", "hubspot", "pipedrive")


def _need(df: pd.DataFrame, cols: list[str], file: Path, preset: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ScenarioError([Problem(str(file), 1, c, f"the {preset} preset expects a column "
                                     f"{c!r} (columns: {', '.join(df.columns[:12])}); map it with "
                                     "--map FIELD=COLUMN or export it") for c in missing])


def _stash(df: pd.DataFrame, source: Path, preset: str) -> NamedFrame:
    return NamedFrame(f"{source} ({preset} preset)", df.reset_index(drop=True))


def _first(df: pd.DataFrame, *names: str) -> str | None:
    return next((n for n in names if n in df.columns), None)


def _salesforce(deals: Path, history: Path | None) -> tuple[Mapping, TableSource, TableSource | None]:
    d = read_table(deals)
    _need(d, ["Id", "CreatedDate", "StageName"], deals, "salesforce")
    closed = d["StageName"].isin(["Closed Won", "Closed Lost"])
    if "IsClosed" in d.columns:
        closed = closed | d["IsClosed"].str.lower().eq("true")
    close = d["CloseDate"] if "CloseDate" in d.columns else pd.Series("", index=d.index)
    out = pd.DataFrame({"id": d["Id"], "created": d["CreatedDate"],
                        "closed": close.where(closed, ""), "stage": d["StageName"],
                        "amount": d.get("Amount", ""), "owner": d.get("OwnerId", ""),
                        "source": d.get("LeadSource", ""), "segment": d.get("Type", "")})
    hist_path: TableSource | None = None
    if history is not None:
        h = read_table(history)
        _need(h, ["OpportunityId", "CreatedDate", "StageName"], history, "salesforce")
        hist_path = _stash(pd.DataFrame({"id": h["OpportunityId"], "timestamp": h["CreatedDate"],
                                         "stage": h["StageName"]}), history, "salesforce")
    m = Mapping(won=["Closed Won"], lost=["Closed Lost"])
    return m, _stash(out, deals, "salesforce"), hist_path


_HS_ENTERED = re.compile(r'^(?:Date entered "(?P<a>.+)"(?: \(.*\))?|hs_date_entered_(?P<b>.+))$')


def _hubspot(deals: Path, history: Path | None) -> tuple[Mapping, TableSource, TableSource | None]:
    d = read_table(deals)
    idc = _first(d, "Record ID", "hs_object_id", "Deal ID")
    cc = _first(d, "Create Date", "createdate")
    sc = _first(d, "Deal Stage", "dealstage")
    _need(d, [alt for c, alt in ((idc, "Record ID"), (cc, "Create Date"), (sc, "Deal Stage"))
              if c is None], deals, "hubspot")
    assert idc and cc and sc
    close = d[_first(d, "Close Date", "closedate") or cc].where(
        d[sc].isin(["Closed Won", "Closed Lost", "closedwon", "closedlost"]), "")
    out = pd.DataFrame({"id": d[idc], "created": d[cc], "closed": close,
                        "stage": d[sc].replace({"closedwon": "Closed Won",
                                                "closedlost": "Closed Lost"}),
                        "amount": d.get("Amount", d.get("amount", "")),
                        "owner": d.get("Deal owner", d.get("hubspot_owner_id", "")),
                        "source": d.get("Original Source Type", d.get("hs_analytics_source", "")),
                        "segment": d.get("Deal Type", d.get("dealtype", ""))})
    rows = []
    for col in d.columns:
        m = _HS_ENTERED.match(col)
        if m is None:
            continue
        stage = m["a"] or m["b"]
        stage = {"closedwon": "Closed Won", "closedlost": "Closed Lost"}.get(stage, stage)
        has = d[col] != ""
        rows.append(pd.DataFrame({"id": d[idc][has], "timestamp": d[col][has], "stage": stage}))
    hist_path: TableSource | None = None
    if rows:
        hist_path = _stash(pd.concat(rows, ignore_index=True), deals, "hubspot")
    elif history is not None:
        hist_path = history
    return (Mapping(won=["Closed Won"], lost=["Closed Lost"]), _stash(out, deals, "hubspot"),
            hist_path)


def _pipedrive(deals: Path, history: Path | None) -> tuple[Mapping, TableSource, TableSource | None]:
    d = read_table(deals)
    _need(d, ["Deal - ID", "Deal - Deal created", "Deal - Stage", "Deal - Status"], deals,
          "pipedrive")
    status = d["Deal - Status"].str.lower()
    won_t = d.get("Deal - Won time", pd.Series("", index=d.index))
    lost_t = d.get("Deal - Lost time", pd.Series("", index=d.index))
    closed = np.where(status == "won", won_t, np.where(status == "lost", lost_t, ""))
    stage = np.where(status.isin(["won", "lost"]), status, d["Deal - Stage"])
    out = pd.DataFrame({"id": d["Deal - ID"], "created": d["Deal - Deal created"],
                        "closed": closed, "stage": stage, "amount": d.get("Deal - Value", ""),
                        "owner": d.get("Deal - Owner", ""), "source": d.get("Deal - Source", ""),
                        "segment": ""})
    hist_path: TableSource | None = None
    if history is not None:
        h = read_table(history)
        idc, tc, stc = (_first(h, "Deal ID", "Deal - ID"), _first(h, "Update time", "Changed at"),
                        _first(h, "Stage", "New value"))
        _need(h, [n for n, c in (("Deal ID", idc), ("Update time", tc), ("Stage", stc))
                  if c is None], history, "pipedrive")
        assert idc and tc and stc
        flow = pd.DataFrame({"id": h[idc], "timestamp": h[tc], "stage": h[stc]})
        # the flow has stage changes only: the close is the deal's won/lost time
        ends = out[out["closed"] != ""][["id", "closed", "stage"]].rename(
            columns={"closed": "timestamp"})
        hist_path = _stash(pd.concat([flow, ends], ignore_index=True), history, "pipedrive")
    return Mapping(won=["won"], lost=["lost"]), _stash(out, deals, "pipedrive"), hist_path


def apply_preset(name: str, deals: Path, history: Path | None) -> tuple[Mapping, TableSource, TableSource | None]:
    """The preset's mapping and the paths of its tables in the generic format."""
    fn = {"salesforce": _salesforce, "hubspot": _hubspot, "pipedrive": _pipedrive}.get(name)
    if fn is None:
        raise ScenarioError([Problem("--preset", None, "", f"unknown preset {name!r}; expected "
                                     f"one of: {', '.join(PRESETS)}")])
    return fn(deals, history)
