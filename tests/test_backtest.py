"""revsim backtest on a synthetic company: calibration over rolling origins, the CLI, privacy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from sim.cli import app
from sim.fit.backtest import BACKTEST_COLUMNS, crps_ensemble, run_backtest, scores
from sim.fit.io import Mapping, read_export
from sim.fit.motion_fit import FitOptions
from sim.fit.synthetic import SyntheticMotion, synthetic_company


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    c = synthetic_company(SyntheticMotion(months=30, leads_per_month=30, stale_share=0.0),
                          seed=21)
    return c, c.write(tmp_path_factory.mktemp("bt"))


def test_crps_of_an_ensemble_matches_theory() -> None:
    """CRPS of N(0,1) at y = 0 is (sqrt 2 - 1)/sqrt(pi) = 0.2337 (Gneiting & Raftery 2007)."""
    x = np.random.default_rng(0).standard_normal(20_000)
    assert crps_ensemble(x, 0.0) == pytest.approx((np.sqrt(2) - 1) / np.sqrt(np.pi), abs=0.01)
    assert crps_ensemble(np.array([3.0]), 1.0) == 2.0  # a point forecast: its absolute error


def test_scores_by_hand() -> None:
    t = pd.DataFrame({"quarter": ["2024Q1", "2024Q2"], "metric": "wins", "actual": [10.0, 20.0],
                      "p05": 0, "p10": [8.0, 21.0], "p50": [12.0, 24.0], "p90": [14.0, 30.0],
                      "p95": 40, "weighted_pipeline": [5.0, 10.0], "origin": "x",
                      "quarters_ahead": 1, "crps": [1.0, 3.0]})
    s = scores(t).set_index("forecast")
    assert s.loc["revsim", "coverage_p10_p90"] == 0.5
    ci = stats.binomtest(1, 2).proportion_ci(0.95)
    assert s.loc["revsim", "coverage_low"] == pytest.approx(ci.low)
    assert s.loc["revsim", "wape"] == pytest.approx((2 + 4) / 30)
    assert s.loc["revsim", "bias"] == pytest.approx(6 / 30)
    assert s.loc["weighted_pipeline", "wape"] == pytest.approx(15 / 30)
    assert s.loc["weighted_pipeline", "crps"] == pytest.approx(7.5)
    assert s.loc["revsim", "crps"] == pytest.approx(2.0)


def test_rolling_origins_cover_about_80_percent(company) -> None:  # type: ignore[no-untyped-def]
    c, files = company
    ex = read_export(files["deals"], Mapping(), files["history"])
    as_of = c.export_date - pd.Timedelta(days=365 / 4 + 2)  # the last quarter complete
    bt = run_backtest(ex, as_of, quarters=1, origins=7, seeds=30,
                      options=FitOptions(bootstrap=8, seed=2))
    t = bt.table
    assert list(t.columns) == BACKTEST_COLUMNS
    assert len(t) == 16 and set(t["metric"]) == {"wins", "bookings"}
    inside = int(((t["p10"] <= t["actual"]) & (t["actual"] <= t["p90"])).sum())
    ci = stats.binomtest(inside, len(t)).proportion_ci(0.95)
    assert ci.low <= 0.8 <= ci.high, (inside, len(t))
    s = bt.scores.set_index(["metric", "forecast"])
    for m in ("wins", "bookings"):  # the simulation beats the open-pipeline-only baseline
        assert s.loc[(m, "revsim"), "wape"] < s.loc[(m, "weighted_pipeline"), "wape"]
        assert s.loc[(m, "revsim"), "crps"] < s.loc[(m, "weighted_pipeline"), "crps"]


def test_cli_backtest_writes_aggregates_only(company, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    c, files = company
    out = tmp_path / "bt"
    as_of = (c.export_date - pd.Timedelta(days=200)).date()
    r = CliRunner().invoke(app, ["backtest", str(files["deals"]), "--history",
                                 str(files["history"]), "--as-of", str(as_of), "--quarters", "2",
                                 "--seeds", "20", "--bootstrap", "4", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == ["backtest.csv", "report.html", "scores.csv"]
    t = pd.read_csv(out / "backtest.csv")
    assert list(t.columns)[:9] == ["quarter", "metric", "actual", "p05", "p10", "p50", "p90",
                                   "p95", "weighted_pipeline"]
    assert t["quarter"].str.fullmatch(r"\d{4}Q[1-4]").all()
    assert (t["p05"] <= t["p10"]).all() and (t["p10"] <= t["p50"]).all()
    html = (out / "report.html").read_text()
    for text in [*c.deals["id"].head(50), *c.deals["owner"].unique()]:
        assert text not in html and text not in (out / "backtest.csv").read_text()
    assert "Calibration" in html and "data:image/png;base64" in html
    again = CliRunner().invoke(app, ["backtest", str(files["deals"]), "--as-of", str(as_of),
                                     "--quarters", "1", "--out", str(out), "--stages", "x"])
    assert again.exit_code != 0  # the folder exists: nothing overwritten
