"""Seeds, common random numbers, executors and the results folder."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sim import load_scenario, simulate
from sim.metrics import METRICS
from sim.runner.results import Results

SCENARIO = "scenarios/sales_led.yaml"


@pytest.fixture(scope="module")
def small():
    sc = load_scenario(SCENARIO, seeds=6)
    return sc.model_copy(update={"horizon_months": 18})


def test_same_seed_same_result_different_seed_different(small):
    a = simulate(small, workers=1)
    b = simulate(small, workers=1)
    pd.testing.assert_frame_equal(a.runs, b.runs)
    pd.testing.assert_frame_equal(a.monthly, b.monthly)
    other = simulate(small.model_copy(update={"seed": small.seed + 1}), workers=1)
    assert not np.allclose(a.runs["bookings_total"], other.runs["bookings_total"])


def test_one_worker_equals_two_workers_and_any_chunking(small):
    one = simulate(small, workers=1)
    two = simulate(small, workers=2, chunk_size=2)
    pd.testing.assert_frame_equal(one.runs, two.runs)
    pd.testing.assert_frame_equal(one.monthly, two.monthly)
    pd.testing.assert_frame_equal(one.forecast, two.forecast)


def test_common_random_numbers_pair_motions(small):
    """Two identical motions under different names give identical draws seed by seed."""
    twin = small.motions[0].model_copy(update={"name": "twin"})
    sc = small.model_copy(update={"motions": [small.motions[0], twin]})
    r = simulate(sc, workers=1).runs
    a = r[r.motion == small.motions[0].name].reset_index(drop=True)
    b = r[r.motion == "twin"].reset_index(drop=True)
    pd.testing.assert_frame_equal(a.drop(columns="motion"), b.drop(columns="motion"))


def test_results_have_every_metric_and_one_row_per_motion_seed(small):
    res = simulate(small, workers=1)
    assert list(res.runs.columns[:2]) == ["motion", "seed"]
    assert set(METRICS) <= set(res.runs.columns)
    assert len(res.runs) == small.seeds * len(small.motions)
    assert len(res.monthly) == small.seeds * len(small.motions) * small.horizon_months
    s = res.summary()
    assert set(s.columns) >= {"motion", "metric", "mean", "ci_low", "ci_high", "sd", "p10",
                              "p50", "p90"}
    row = s[(s.motion == "sales_led") & (s.metric == "bookings_total")].iloc[0]
    x = res.runs.loc[res.runs.motion == "sales_led", "bookings_total"]
    assert row["mean"] == pytest.approx(x.mean())
    assert row["p50"] == pytest.approx(x.median())
    assert row["ci_low"] < row["mean"] < row["ci_high"]


def test_save_and_load_round_trip(tmp_path, small):
    res = simulate(small, workers=1)
    path = res.save(tmp_path / "out")
    names = {p.name for p in path.iterdir()}
    assert {"manifest.json", "runs.parquet", "monthly.parquet", "forecast.parquet",
            "summary.csv"} <= names
    manifest = json.loads((path / "manifest.json").read_text())
    for key in ("scenario", "scenario_hash", "root_seed", "seeds", "package_version", "executor",
                "workers", "wall_seconds", "command_line"):
        assert key in manifest
    back = Results.load(path)
    pd.testing.assert_frame_equal(back.runs, res.runs)
    assert not list(tmp_path.glob(".*writing*"))
    with pytest.raises(FileExistsError):
        res.save(path)


def test_bookings_equal_sum_of_monthly_bookings(small):
    res = simulate(small, workers=1)
    per_seed = res.monthly.groupby(["motion", "seed"], sort=False)["bookings_new"].sum()
    np.testing.assert_allclose(per_seed.to_numpy(), res.runs["bookings_total"].to_numpy())
