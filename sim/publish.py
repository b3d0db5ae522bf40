"""A whole results folder: the runner's tables, the report, and a command's own files.

The one output step of ``revsim run``, ``stress``, ``sensitivity`` and
``calibrate`` (``sim.runner.output`` says how a folder is claimed and
published): the runner writes the tables into the claim's staging folder, this
module adds the report (``sim.report``), the benchmark section
(``sim.calibration``) and the command's extra files, and one rename publishes
the folder. It sits above the report, so the layers import one way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sim.calibration import benchmark_section
from sim.drivers import drivers_of
from sim.report.html import write_report
from sim.runner.output import OutputClaim
from sim.runner.results import Results

__all__ = ["compose", "save_results"]


def compose(res: Results, claim: OutputClaim, extras: list[dict[str, Any]] | None = None,
            files: dict[str, bytes] | None = None, report: bool = True) -> Path:
    """Write every file of the results folder into the claim's staging folder, then
    publish it. ``extras``: further report sections; ``files``: relative path -> bytes
    (``stress.csv``, ``figures/tornado.png``...). A failure publishes nothing."""
    folder = claim.staging()
    res.write_tables(folder)
    drivers_of(res).to_csv(folder / "drivers.csv", index=False)
    if report:
        section = benchmark_section(res)
        write_report(res, folder, [*(extras or []), *([section] if section else [])])
    for name, data in (files or {}).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    final = claim.publish()
    res.moved_to(final)
    return final


def save_results(res: Results, directory: str | Path,
                 extras: list[dict[str, Any]] | None = None) -> Path:
    """The Python API's whole folder: what ``revsim run`` writes, for a notebook's results."""
    claim = OutputClaim.claim(Path(directory), what=str(directory))
    try:
        return compose(res, claim, extras)
    except BaseException:
        claim.abandon()
        raise
