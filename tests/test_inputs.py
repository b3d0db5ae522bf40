"""The per-seed record of uncertain inputs, luck replicates, --luck-only and the copula.

Tolerances: a rank correlation estimated from n draws has a Fisher-z standard
error of about sqrt(1.06 / (n - 3)) (Fieller, Hartley and Pearson 1957); a
marginal is checked with a Kolmogorov-Smirnov test against the distribution's
own CDF at the 1e-4 level (about 4 SE).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import make_scenario
from helpers import assert_moments
from scipy import stats

from sim import load_scenario, simulate
from sim.drivers import drivers_of
from sim.engine.model import simulate_seed
from sim.engine.params import draw_inputs, seed_inputs
from sim.engine.rng import Streams
from sim.scenario.distributions import (
    Beta,
    Exponential,
    LogNormal,
    Normal,
    Pert,
    Poisson,
    Triangular,
    Uniform,
)
from sim.scenario.inputs import (
    UncertainInput,
    central_scenario,
    phase_inputs,
    rank_to_normal,
    uncertain_inputs,
)
from sim.scenario.loader import deep_merge, scenario_from_dict

STAGES = [
    {"name": "qualify", "duration": 5, "advance": 0.165},
    {"name": "discovery", "owner": "ae", "duration": 20, "advance": 0.6},
    {"name": "proposal", "owner": "ae", "duration": 25, "advance": 0.63},
    {"name": "negotiation", "owner": "ae", "duration": 20,
     "advance": {"dist": "uniform", "low": 0.5, "high": 0.8}},
]


def _fixed(template: str, **motion: object) -> dict:
    """A motion of ``template`` with every input the template makes uncertain fixed at its
    central value, then ``motion`` merged on top: the only uncertain inputs are the ones a
    test gives."""
    sc = central_scenario(scenario_from_dict({"name": "fixed", "horizon_months": 12,
                                              "motions": [{"template": template}]}))
    base = sc.motions[0].model_dump(mode="json", by_alias=True, exclude_none=True)
    base.pop("based_on", None)
    return deep_merge(base, motion)


def _scenario(**top: object) -> dict:
    return {
        "name": "inputs", "horizon_months": 12, "seeds": 20, "seed": 11,
        "motions": [
            _fixed("sales_led",
                   sources={"inbound": {"leads_per_month": {"dist": "pert", "low": 150,
                                                            "mode": 220, "high": 300}}},
                   stages=STAGES,
                   retention={"monthly_churn": {"dist": "uniform", "low": 0.008, "high": 0.016},
                              "early_churn": 0.03}),
            _fixed("sales_led", name="other",
                   retention={"monthly_churn": {"dist": "uniform", "low": 0.008,
                                                "high": 0.016}}),
        ],
        **top,
    }


def test_the_bare_test_motion_has_no_uncertain_input() -> None:
    """conftest.BARE fixes every input its template draws per seed."""
    assert uncertain_inputs(make_scenario().motions[0]) == []


def test_record_keys_are_readable_paths_and_fixed_values_are_left_out() -> None:
    sc = scenario_from_dict(_scenario())
    keys = [u.key for u in uncertain_inputs(sc.motions[0])]
    assert keys == ["sources.inbound.leads_per_month", "stages.negotiation.advance",
                    "retention.monthly_churn"]
    streams = [u.stream for u in uncertain_inputs(sc.motions[0])]
    assert streams[1] == "stages[3].advance"


def test_record_values_are_the_param_stream_draws_and_feed_the_motion() -> None:
    """Without correlations each input is the first draw of its own stream (as before)."""
    sc = scenario_from_dict(_scenario())
    m = sc.motions[0]
    for seed in range(3):
        run = simulate_seed(sc, m, seed)
        for u in uncertain_inputs(m):
            expect = float(u.dist.sample(Streams(sc.seed, seed).get("param", u.stream)))
            assert run.inputs[u.key] == expect
        assert run.motion.stages[3].advance == run.inputs["stages.negotiation.advance"]
        assert run.motion.retention.monthly_churn == run.inputs["retention.monthly_churn"]
        assert run.motion.retention.early_churn == 0.03


def test_common_inputs_across_motions() -> None:
    sc = scenario_from_dict(_scenario())
    a = seed_inputs(sc, sc.motions[0], 4).record
    b = seed_inputs(sc, sc.motions[1], 4).record
    assert a["retention.monthly_churn"] == b["retention.monthly_churn"]
    assert list(b) == ["retention.monthly_churn"]


def test_phase_inputs_get_a_phase_prefix_and_carry_over() -> None:
    data = {"name": "ph", "horizon_months": 24, "seeds": 3, "seed": 2, "motions": [_fixed(
        "founder_led",
        retention={"monthly_churn": {"dist": "uniform", "low": 0.005, "high": 0.015}},
        phases=[
            {"start_month": 6, "retention": {"early_churn": {"dist": "uniform", "low": 0.05,
                                                             "high": 0.1}}},
            {"start_month": 12, "deal": {"acv": 60000}},
        ])]}
    sc = scenario_from_dict(data)
    m = sc.motions[0]
    own = [[(u.key, is_own) for u, is_own in items] for items in phase_inputs(m)]
    assert own[0] == [("phases.0.retention.early_churn", True),
                      ("retention.monthly_churn", False)]
    assert own[1] == [("phases.0.retention.early_churn", False),
                      ("retention.monthly_churn", False)]
    run = simulate_seed(sc, m, 1)
    assert set(run.inputs) == {"retention.monthly_churn", "phases.0.retention.early_churn"}
    churn = [pm.retention.monthly_churn for pm in run.phase_motions]
    assert churn == [run.inputs["retention.monthly_churn"]] * 3
    assert run.phase_motions[2].retention.early_churn == run.inputs[
        "phases.0.retention.early_churn"]


def test_inputs_table_one_row_per_motion_and_seed() -> None:
    res = simulate(scenario_from_dict(_scenario()), seeds=6, workers=1, luck_seeds=0)
    tab = res.inputs
    assert list(tab.columns) == ["motion", "seed", "sources.inbound.leads_per_month",
                                 "stages.negotiation.advance", "retention.monthly_churn"]
    assert len(tab) == 12
    other = tab[tab.motion == "other"]
    assert other["stages.negotiation.advance"].isna().all()
    assert (other["retention.monthly_churn"].to_numpy()
            == tab[tab.motion == "sales_led"]["retention.monthly_churn"].to_numpy()).all()


def test_luck_replicate_keeps_inputs_and_changes_luck() -> None:
    sc = scenario_from_dict(_scenario())
    m = sc.motions[0]
    base = simulate_seed(sc, m, 2)
    zero = simulate_seed(sc, m, 2, luck=0)
    again = simulate_seed(sc, m, 2, luck=1)
    assert base.inputs == zero.inputs == again.inputs
    assert np.array_equal(base.leads["t_arrive"], zero.leads["t_arrive"])
    assert not np.array_equal(base.leads["t_arrive"][:50], again.leads["t_arrive"][:50])
    # the luck streams of replicate 0 are the streams a seed always had
    s0, s = Streams(5, 3), Streams(5, 3, luck=0)
    assert s0.get("arrivals", "inbound").random() == s.get("arrivals", "inbound").random()
    s1 = Streams(5, 3, luck=1)
    assert Streams(5, 3).get("param", "x").random() == s1.get("param", "x").random()
    assert Streams(5, 3).get("stage").random() != s1.get("stage").random()


def test_simulate_with_luck_replicate() -> None:
    sc = scenario_from_dict(_scenario())
    a = simulate(sc, seeds=4, workers=1, luck_seeds=0)
    b = simulate(sc, seeds=4, workers=1, luck=1, luck_seeds=0)
    assert a.inputs.equals(b.inputs)
    assert not a.runs["arr_end"].equals(b.runs["arr_end"])
    assert b.manifest["luck"] == 1


def test_luck_only_sets_every_input_to_its_mean() -> None:
    sc = scenario_from_dict(_scenario())
    c = central_scenario(sc)
    assert all(not uncertain_inputs(m) for m in c.motions)
    assert c.motions[0].stages[3].advance == pytest.approx(0.65)
    assert c.motions[0].sources.inbound.leads_per_month == pytest.approx((150 + 4 * 220 + 300) / 6)
    assert c.motions[0].stages[1].duration == sc.motions[0].stages[1].duration  # per deal: kept
    res = simulate(sc, seeds=4, workers=1, luck_only=True)
    assert res.manifest["luck_only"] is True
    assert list(res.inputs.columns) == ["motion", "seed"]
    assert res.luck_runs.empty
    d = drivers_of(res)
    assert set(d.driver) == {"luck"}
    assert (d[d.metric == "arr_end"].share == 1.0).all()


def test_luck_only_fixes_phase_inputs() -> None:
    data = {"name": "ph", "horizon_months": 24, "seeds": 3, "seed": 2, "motions": [{
        "template": "founder_led",
        "phases": [{"start_month": 6, "retention": {
            "early_churn": {"dist": "uniform", "low": 0.05, "high": 0.1}}}]}]}
    c = central_scenario(scenario_from_dict(data))
    assert c.motions[0].phase_motions[0].retention.early_churn == pytest.approx(0.075)
    assert all(not own for items in phase_inputs(c.motions[0]) for _, own in items)


# -- the copula ------------------------------------------------------------------------


def _draws(inputs: list[UncertainInput], pairs: list[tuple[str, str, float]],
           n: int) -> dict[str, np.ndarray]:
    rows = [draw_inputs(inputs, Streams(99, i), pairs) for i in range(n)]
    return {u.key: np.array([r[u.key] for r in rows]) for u in inputs}


DISTS = {
    "a": Pert(low=150, mode=220, high=300),
    "b": Uniform(low=0.5, high=0.8),
    "c": LogNormal(mean=3, sd=1.5),
    "d": Triangular(low=0, mode=1, high=4),
}


def _inputs() -> list[UncertainInput]:
    return [UncertainInput(k, k, (k,), d) for k, d in DISTS.items()]


def test_copula_reproduces_rank_correlations_and_keeps_marginals() -> None:
    n = 2000
    pairs = [("a", "b", 0.6), ("a", "c", -0.4), ("b", "d", 0.3)]
    x = _draws(_inputs(), pairs, n)
    se = math.sqrt(1.06 / (n - 3))
    want = {("a", "b"): 0.6, ("a", "c"): -0.4, ("b", "d"): 0.3, ("a", "d"): 0.0,
            ("b", "c"): 0.0, ("c", "d"): 0.0}  # a pair not given is uncorrelated
    for (p, q), r in want.items():
        rs = stats.spearmanr(x[p], x[q]).statistic
        assert abs(math.atanh(rs) - math.atanh(r)) < 4 * se, (p, q, rs)
    cdfs = {
        "a": stats.beta(1 + 4 * 70 / 150, 1 + 4 * 80 / 150, loc=150, scale=150).cdf,
        "b": stats.uniform(0.5, 0.3).cdf,
        "c": stats.lognorm(math.sqrt(math.log(1.25)), scale=3 / math.sqrt(1.25)).cdf,
        "d": stats.triang(0.25, loc=0, scale=4).cdf,
    }
    for k, cdf in cdfs.items():
        assert stats.kstest(x[k], cdf).pvalue > 1e-4, k


def test_uncorrelated_inputs_keep_their_streams() -> None:
    """Correlating a and b leaves c and d drawn exactly as without correlations."""
    free = _draws(_inputs(), [], 50)
    linked = _draws(_inputs(), [("a", "b", 0.6)], 50)
    assert np.array_equal(free["c"], linked["c"]) and np.array_equal(free["d"], linked["d"])
    assert not np.array_equal(free["a"], linked["a"])


@pytest.mark.parametrize("dist", [
    Uniform(low=1, high=3), Triangular(low=0, mode=1, high=4), Pert(low=0.1, mode=0.2, high=0.5),
    Normal(mean=1, sd=2), LogNormal(mean=3, sd=1), Exponential(mean=2), Beta(a=2, b=3),
    Poisson(mean=4),
])
def test_ppf_is_the_inverse_of_sampling(dist: object) -> None:
    """ppf of uniforms has the distribution's analytic mean and variance (4 SE)."""
    x = dist.ppf(np.random.default_rng(1).random(40_000))  # type: ignore[attr-defined]
    assert_moments(x, dist.mean, dist.variance)  # type: ignore[attr-defined]


def test_correlated_scenario_runs_and_applies_the_copula() -> None:
    corr = [{"motion": "sales_led",
             "between": ["sources.inbound.leads_per_month", "stages.negotiation.advance"],
             "rank": 0.9}]
    sc = scenario_from_dict(_scenario(correlations=corr))
    rec = [seed_inputs(sc, sc.motions[0], i).record for i in range(200)]
    a = [r["sources.inbound.leads_per_month"] for r in rec]
    b = [r["stages.negotiation.advance"] for r in rec]
    se = math.sqrt(1.06 / 197)
    assert abs(math.atanh(stats.spearmanr(a, b).statistic) - math.atanh(0.9)) < 4 * se
    c = [r["retention.monthly_churn"] for r in rec]
    assert abs(math.atanh(stats.spearmanr(a, c).statistic)) < 4 * se


def test_correlations_in_a_scenario_file(tmp_path: object) -> None:
    from pathlib import Path

    p = Path(str(tmp_path)) / "c.yaml"
    p.write_text(
        "name: c\nseeds: 5\nmotions:\n  - template: sales_led\n    sources:\n      inbound:\n"
        "        leads_per_month: {dist: pert, low: 150, mode: 220, high: 300}\n"
        "    retention:\n      monthly_churn: {dist: uniform, low: 0.008, high: 0.016}\n"
        "correlations:\n  - motion: sales_led\n"
        "    between: [sources.inbound.leads_per_month, retention.monthly_churn]\n"
        "    rank: -0.5\n")
    sc = load_scenario(p)
    assert sc.correlations[0].rank == -0.5
    assert sc.correlations[0].between == ("sources.inbound.leads_per_month",
                                          "retention.monthly_churn")


def test_rank_to_normal_score_correlation() -> None:
    """Spearman's rho of a bivariate normal with correlation r is (6/pi) asin(r/2)."""
    for rho in (-1.0, -0.3, 0.0, 0.5, 1.0):
        r = float(rank_to_normal(rho))
        assert 6 / math.pi * math.asin(r / 2) == pytest.approx(rho, abs=1e-12)


# -- levers on uncertain inputs ----------------------------------------------------------


def test_a_lever_moves_the_whole_distribution_of_an_uncertain_input() -> None:
    """win_rate x 0.8 scales each seed's draw of the last stage's advance by 0.8 (same
    stream, scaled distribution) and moves every quantile of new customers down."""
    from sim.stress import run_sensitivity, run_stress

    corr = [{"motion": "sales_led",
             "between": ["sources.inbound.leads_per_month", "stages.negotiation.advance"],
             "rank": 0.5}]
    data = _scenario(correlations=corr)
    data["motions"] = data["motions"][:1]
    sc = scenario_from_dict(data)
    res = run_stress(sc, {"win_rate": 0.8}, seeds=30, workers=1, luck_seeds=0)
    key = "stages.negotiation.advance"
    base, shocked = res.baseline.inputs, res.shocked.inputs
    np.testing.assert_allclose(shocked[key], 0.8 * base[key], rtol=1e-12)
    np.testing.assert_array_equal(shocked["retention.monthly_churn"],
                                  base["retention.monthly_churn"])
    qs = [0.1, 0.5, 0.9]
    before = res.baseline.runs["new_customers"].quantile(qs).to_numpy()
    after = res.shocked.runs["new_customers"].quantile(qs).to_numpy()
    assert (after < before).all()
    row = res.deltas.set_index("metric").loc["new_customers"]
    assert row["ci_high"] < 0  # paired: clearly fewer customers
    # a lever that pushes a probability's mean past 1 makes it fixed: its correlation lapses
    up = run_stress(sc, {"win_rate": 1.6}, seeds=3, workers=1, luck_seeds=0)
    assert key not in up.shocked.inputs.columns
    _, table = run_sensitivity(sc, "new_customers", 0.2, seeds=4, workers=1)
    assert {"win_rate", "lead_volume", "churn"} <= set(table.lever)
    assert table.swing.notna().all()


def test_cli_luck_only_run_records_it_and_says_so(tmp_path: object) -> None:
    import json
    import subprocess
    import sys
    from pathlib import Path

    import pandas as pd

    out = Path(str(tmp_path)) / "r"
    file = Path(str(tmp_path)) / "lo.yaml"
    file.write_text("name: lo\nhorizon_months: 6\nmotions:\n  - template: sales_led\n"
                    "    retention:\n      monthly_churn: {dist: uniform, low: 0.008, "
                    "high: 0.016}\n")
    p = subprocess.run([sys.executable, "-m", "sim", "run", str(file), "--seeds", "3",
                        "--workers", "1", "--quiet", "--luck-only", "--out", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["luck_only"] is True
    assert manifest["scenario"]["motions"][0]["retention"]["monthly_churn"] == pytest.approx(0.012)
    d = pd.read_csv(out / "drivers.csv")
    assert set(d.driver) == {"luck"}
    assert "This run is luck-only" in (out / "report.html").read_text()
