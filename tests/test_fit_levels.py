"""revsim fit: what the data does not pin down about durations and deal size.

A stage's duration and the deal size are drawn per deal; the fitted scenario gives
each a per-seed ``level`` (a lognormal factor of mean 1) whose standard deviation is
the bootstrap's standard deviation of the fitted mean relative to the mean. On a
synthetic company with a known truth the truth lies within 4 of those standard
deviations of the fit, a seed's motion has its durations and deal size at its own
level, and with four times the deals the level is about half as wide (1/sqrt(4)).
The companies here have no stale deals: a lost deal nobody closed looks like an
open one until it is twice as old as the longest stay, which lengthens the fitted
durations (a bias, not sampling error: tests/test_fit.py covers exports with them).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.engine.params import seed_inputs
from sim.fit.fitter import fit_export
from sim.fit.io import Mapping, read_export
from sim.fit.motion_fit import FitOptions, MotionFit
from sim.fit.synthetic import SyntheticMotion, synthetic_company
from sim.fit.writer import scenario_data, scenario_yaml
from sim.scenario.distributions import LogNormal
from sim.scenario.loader import load_scenario
from sim.scenario.schema import Scenario

B = 40  # bootstrap replicates: the sd of a level is known to within 1/sqrt(2(B-1)) = 11%
STAGES = ("discovery", "proposal", "negotiation")


def _fit(tmp: Path, leads: float, seed: int, history: bool = True) -> tuple[object, MotionFit]:
    c = synthetic_company(SyntheticMotion(months=24, leads_per_month=leads, stale_share=0.0),
                          seed=seed)
    files = c.write(tmp)
    mapping = Mapping() if history else Mapping(stages=list(STAGES))
    ex = read_export(files["deals"], mapping, files["history"] if history else None)
    return c, fit_export(ex, c.export_date, FitOptions(bootstrap=B, seed=3))


def _scenario(f: MotionFit, tmp: Path) -> Scenario:
    path = tmp / "fitted.yaml"
    path.write_text(scenario_yaml(scenario_data(f, "fitted", 12, "sales_led", seeds=10)))
    return load_scenario(path)


def _levels(sc: Scenario) -> dict[str, LogNormal]:
    m = sc.motions[0]
    out = {f"{s.name}.duration_mean": s.duration.level for s in m.stages}
    out["acv_mean"] = m.deal.acv.level
    assert all(isinstance(lv, LogNormal) and lv.mean == 1.0 for lv in out.values()), out
    return out


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("levels")
    c, f = _fit(tmp, 50, seed=11)
    return c, f, _scenario(f, tmp)


def test_levels_are_the_bootstrap_sd_of_the_mean_and_cover_the_truth(small) -> None:  # type: ignore[no-untyped-def]
    c, f, sc = small
    point = f.point()
    m = sc.motions[0]
    for s in m.stages:  # the per-deal distribution is the fitted one, its mean unchanged
        assert s.duration.base_mean == pytest.approx(point[f"{s.name}.duration_mean"], rel=1e-3)
        assert s.duration.mean == pytest.approx(s.duration.base_mean, rel=1e-12)
    assert m.deal.acv.base_mean == pytest.approx(point["acv_mean"], rel=1e-3)
    for name, level in _levels(sc).items():
        reps = f.uncertainty.replicates[name]
        rel_sd = float(np.std(reps, ddof=1)) / point[name]
        assert level.sd == pytest.approx(rel_sd, rel=1e-3), name  # 4 significant digits
        # the truth within 4 of the level's standard deviations of the fit
        assert abs(c.truth[name] / point[name] - 1) <= 4 * level.sd, \
            (name, c.truth[name], point[name], level.sd)


def test_a_seed_draws_its_durations_and_deal_size_at_its_own_level(small) -> None:  # type: ignore[no-untyped-def]
    _, _, sc = small
    m = sc.motions[0]
    n = 400
    drawn = [seed_inputs(sc, m, i) for i in range(n)]
    for k, s in enumerate(m.stages):
        key = f"stages.{s.name}.duration.level"
        levels = np.array([d.record[key] for d in drawn])
        means = np.array([d.motion.stages[k].duration.mean for d in drawn])
        assert np.allclose(means, levels * s.duration.base_mean, rtol=1e-9)
        sd = s.duration.level.sd
        assert abs(levels.mean() - 1) <= 4 * sd / math.sqrt(n)
        assert np.std(levels, ddof=1) == pytest.approx(sd, rel=4 / math.sqrt(2 * (n - 1)))
    acv = np.array([d.record["deal.acv.level"] for d in drawn])
    assert np.allclose([d.motion.deal.acv.mean for d in drawn], acv * m.deal.acv.base_mean)
    # the deal-to-deal spread is kept at every level (the shape of the distribution)
    cv = m.deal.acv.base_variance ** 0.5 / m.deal.acv.base_mean
    assert np.allclose([d.motion.deal.acv.sd / d.motion.deal.acv.mean for d in drawn], cv)


def test_four_times_the_deals_halve_the_levels(small, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The standard error of a mean falls as 1/sqrt(n): 4x the deals, half the width."""
    c1, _, sc1 = small
    c4, f4 = _fit(tmp_path, 200, seed=11)
    assert len(c4.deals) == pytest.approx(4 * len(c1.deals), rel=0.05)
    a, b = _levels(sc1), _levels(_scenario(f4, tmp_path))
    log_ratio = np.array([math.log(b[k].sd / a[k].sd) for k in a])
    # each sd from B replicates: log sd has standard error 1/sqrt(2(B-1)); a ratio sqrt(2) that
    se_mean = math.sqrt(2 / (2 * (B - 1))) / math.sqrt(log_ratio.size)
    assert abs(log_ratio.mean() - math.log(0.5)) <= 4 * se_mean, np.exp(log_ratio)
    assert (log_ratio < 0).all(), np.exp(log_ratio)  # every one narrower


def test_without_history_the_stages_share_one_level(tmp_path: Path) -> None:
    """The won cycle is split evenly over the stages: one factor for all of them."""
    _, f = _fit(tmp_path, 50, seed=11, history=False)
    text_path = tmp_path / "snap.yaml"
    text_path.write_text(scenario_yaml(scenario_data(f, "snap", 12, "sales_led", seeds=10)))
    sc = load_scenario(text_path)
    keys = [f"stages.{s}.duration.level" for s in STAGES]
    assert {tuple(c.between) for c in sc.correlations} == {(keys[0], keys[1]), (keys[0], keys[2]),
                                                           (keys[1], keys[2])}
    reps = f.uncertainty.replicates["cycle.won_days_mean"]
    rel_sd = float(np.std(reps, ddof=1)) / f.point()["cycle.won_days_mean"]
    m = sc.motions[0]
    assert m.stages[0].duration.level.sd == pytest.approx(rel_sd, rel=1e-3)
    for i in range(20):
        rec = seed_inputs(sc, m, i).record
        assert rec[keys[1]] == pytest.approx(rec[keys[0]], rel=1e-9)
        assert rec[keys[2]] == pytest.approx(rec[keys[0]], rel=1e-9)
    assert len({seed_inputs(sc, m, i).record[keys[0]] for i in range(5)}) == 5


def test_an_open_deal_without_history_beside_a_stale_stay(tmp_path: Path) -> None:
    """A deal with no history row stays in the open pipeline when another deal's stay is
    found stale by its stage (longer than twice the longest completed stay there)."""
    from sim.fit.events import LOST, build_episodes

    d = tmp_path / "d.csv"
    d.write_text("id,created,closed,stage,amount\n"
                 "a,2023-10-01,2024-01-06,won,10\n"
                 "b,2024-01-01,,s1,10\n"
                 "c,2024-01-20,,s1,10\n")
    h = tmp_path / "h.csv"
    h.write_text("id,timestamp,stage\na,2024-01-01,s1\na,2024-01-06,won\nb,2024-01-01,s1\n")
    ex = read_export(d, Mapping(stages=["s1"]), h)
    eps = build_episodes(ex, ex.day(pd.Timestamp("2024-01-25")))
    # b: 24 days in s1 > 2 x 5 days (a's stay), though younger than twice a's 97-day cycle:
    # stale by its stage, lost at an unknown time; c (no history) is open since 5 days
    assert eps.stale_days == 2 * 97
    assert eps.stale == 1 and eps.event.tolist() == [1, LOST]
    assert [(int(o.deal), o.stage, o.age_days) for o in eps.open_deals] == [(2, 0, 5.0)]
    assert math.isnan(eps.open_deals[0].days_in_stage)


def test_the_report_table_says_how_each_parameter_is_drawn(small) -> None:  # type: ignore[no-untyped-def]
    from sim.fit.report import parameter_rows

    _, f, sc = small
    rows = {r["name"]: r for r in parameter_rows(f)}
    for name, level in _levels(sc).items():
        assert rows[name]["per_seed"] == f"level, sd {level.sd:.1%}", rows[name]
        assert rows[name]["ci"] != "–"
    assert rows["proposal.advance"]["per_seed"] == "beta"
    assert rows["leads_per_month"]["per_seed"] == "lognormal"
    assert rows["win_rate"]["per_seed"] == "–"  # a product of the stages' draws, reported
