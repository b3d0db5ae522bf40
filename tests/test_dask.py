"""The Dask executor gives the same numbers as local processes (same chunks, same seeds)."""

from __future__ import annotations

import pandas as pd
import pytest

from sim import load_scenario, simulate

pytest.importorskip("dask.distributed")


def test_dask_local_cluster_equals_local_processes():
    sc = load_scenario("scenarios/sales_led.yaml", seeds=6)
    sc = sc.model_copy(update={"horizon_months": 12})
    local = simulate(sc, workers=2, chunk_size=2)
    dask = simulate(sc, workers=2, chunk_size=2, executor="dask")
    pd.testing.assert_frame_equal(local.runs, dask.runs)
    pd.testing.assert_frame_equal(local.monthly, dask.monthly)
    assert dask.manifest["executor"] == "dask"
