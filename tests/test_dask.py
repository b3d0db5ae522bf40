"""The Dask executor gives the same numbers as local processes (same chunks, same seeds)."""

from __future__ import annotations

import pandas as pd
import pytest

from sim import load_scenario, simulate
from sim.drivers import drivers_of

pytest.importorskip("dask.distributed")


def test_dask_local_cluster_equals_local_processes():
    sc = load_scenario("scenarios/sales_led.yaml", seeds=6)
    sc = sc.model_copy(update={"horizon_months": 12})
    local = simulate(sc, workers=2, chunk_size=2)
    dask = simulate(sc, workers=2, chunk_size=2, executor="dask")
    pd.testing.assert_frame_equal(local.runs, dask.runs)
    pd.testing.assert_frame_equal(local.monthly, dask.monthly)
    # the per-seed inputs, the luck re-run and what drives the spread do not depend on it
    pd.testing.assert_frame_equal(local.inputs, dask.inputs)
    pd.testing.assert_frame_equal(local.luck_runs, dask.luck_runs)
    # drivers are estimated above the runner (sim.drivers), not by simulate
    pd.testing.assert_frame_equal(drivers_of(local), drivers_of(dask))
    assert not local.inputs.empty and not local.luck_runs.empty
    assert dask.manifest["executor"] == "dask"


def test_a_dask_worker_that_dies_mid_chunk_has_its_chunk_run_again(tmp_path, monkeypatch):
    """The worker running chunk 1 exits the first time; the scheduler re-runs the chunk on
    another worker, and the manifest counts the retries. No seed is lost or counted twice."""
    from sim.runner import executors
    from sim.runner.parts import run_part

    sc = load_scenario("scenarios/sales_led.yaml", seeds=8)
    sc = sc.model_copy(update={"horizon_months": 12})
    whole = simulate(sc, workers=1, chunk_size=2)
    marker = str(tmp_path / "died")

    def dying(scenario, c):  # a closure: cloudpickle sends it to the workers by value
        import os

        if c.index == 1 and not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)  # the worker process dies mid-chunk
        return run_part(scenario, c)

    monkeypatch.setattr(executors, "run_part", dying)
    res = simulate(sc, workers=2, chunk_size=2, executor="dask", checkpoint=tmp_path / "cp")
    assert (tmp_path / "died").exists()
    assert res.manifest["retries"] >= 1  # chunks on the dead worker (running or queued)
    pd.testing.assert_frame_equal(whole.runs, res.runs)
    pd.testing.assert_frame_equal(whole.monthly, res.monthly)
    seeds = res.runs.groupby("motion")["seed"].apply(list)
    assert all(sorted(s) == list(range(8)) for s in seeds)
