"""revsim fit: recovery of a known motion, the naive estimators' misses, bad input.

The synthetic company is simulated by revsim with known parameters
(``sim.fit.synthetic``); a fitted parameter must lie within 4 bootstrap standard
errors of the truth, and the naive estimators must miss by more where theory
says they are biased (censoring by open deals).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from sim.cli import app
from sim.fit.fitter import fit_export
from sim.fit.io import Mapping, parse_money, read_export
from sim.fit.motion_fit import FitOptions
from sim.fit.synthetic import SyntheticMotion, synthetic_company
from sim.scenario.errors import ScenarioError
from sim.scenario.loader import load_scenario

B = 25  # bootstrap replicates in tests (users get 100)


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, dict[str, Path]]:
    c = synthetic_company(SyntheticMotion(months=24, leads_per_month=50), seed=11)
    return c, c.write(tmp_path_factory.mktemp("company"))


@pytest.fixture(scope="module")
def fitted(company):  # type: ignore[no-untyped-def]
    c, files = company
    ex = read_export(files["deals"], Mapping(), files["history"], files["subscriptions"])
    return c, fit_export(ex, c.export_date, FitOptions(bootstrap=B, seed=3))


def test_recovers_every_parameter_within_its_bootstrap_error(fitted) -> None:  # type: ignore[no-untyped-def]
    c, f = fitted
    point = f.point()
    for name, true in c.truth.items():
        reps = f.uncertainty.replicates[name]
        se = float(np.std(reps, ddof=1))
        assert se > 0, name
        assert abs(point[name] - true) <= 4 * se, (name, true, point[name], se)
        lo, hi = f.uncertainty.interval(name)
        assert lo <= point[name] <= hi or abs(point[name] - true) <= 4 * se


def test_counts_and_stale_deals(fitted) -> None:  # type: ignore[no-untyped-def]
    c, f = fitted
    n = f.counts
    assert n["deals"] == len(c.deals)
    assert n["won"] + n["lost"] + n["open"] + n["stale"] == n["deals"]
    assert n["stale"] > 0  # zombies far older than any closed cycle are found
    assert n["stale"] <= c.stale  # and only zombies: every real open deal is younger
    assert len(f.open_deals) == n["open"]


def test_naive_estimators_miss_with_many_open_deals(tmp_path: Path) -> None:
    """Early in a company's life most deals are open: lost deals close first (stage 1),
    wins last, so won/(won+lost) reads low; durations of finished stays only read short."""
    m = SyntheticMotion(stages=(("discovery", 40.0, 30.0, 0.6), ("proposal", 60.0, 45.0, 0.55),
                                ("negotiation", 50.0, 40.0, 0.7)),
                        months=6, leads_per_month=250, growth_per_month=0.0, stale_share=0.0)
    c = synthetic_company(m, seed=5)
    files = c.write(tmp_path)
    ex = read_export(files["deals"], Mapping(), files["history"], files["subscriptions"])
    f = fit_export(ex, c.export_date, FitOptions(bootstrap=B, seed=1))
    assert f.counts["open"] > 0.4 * f.counts["deals"]
    assert f.counts["stale"] == 0  # no zombies in this company, and none found
    point = f.point()
    for name in ("win_rate", "proposal.duration_mean"):
        se = float(np.std(f.uncertainty.replicates[name], ddof=1))
        true = c.truth[name]
        assert abs(point[name] - true) <= 4 * se, (name, point[name], true, se)
        assert abs(f.naive[name] - true) > 4 * se, (name, f.naive[name], true, se)
        assert abs(f.naive[name] - true) > 2 * abs(point[name] - true)


def test_cli_fit_writes_a_runnable_scenario(company, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, files = company
    out = tmp_path / "fitted.yaml"
    r = CliRunner().invoke(app, ["fit", str(files["deals"]), "--history", str(files["history"]),
                                 "--subscriptions", str(files["subscriptions"]), "--out",
                                 str(out), "--bootstrap", "10"])
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert "competing risks" in text and "stale" in text
    sc = load_scenario(out)
    m = sc.motions[0]
    assert [s.name for s in m.stages] == ["discovery", "proposal", "negotiation"]
    assert not isinstance(m.stages[0].advance, float)  # uncertainty drawn per seed
    assert sc.initial.pipeline and sc.initial.customers.accounts
    ret = pd.read_csv(tmp_path / "retention.csv")
    assert list(ret.columns) == ["tenure_years", "survival", "survival_low", "survival_high",
                                 "observed"]
    assert ret["tenure_years"].max() >= 2 * 2  # twice the observed tenure (2 years)
    assert (np.diff(ret["survival"]) <= 0).all()
    assert (ret["survival_low"] <= ret["survival"] + 1e-12).all()
    assert ret["observed"].notna().sum() >= 2
    from sim.runner.api import simulate

    res = simulate(sc, seeds=4, workers=1)
    assert (res.runs["new_customers"] > 0).all()


def test_without_history_says_what_is_template(company, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, files = company
    out = tmp_path / "snap.yaml"
    r = CliRunner().invoke(app, ["fit", str(files["deals"]), "--stages",
                                 "discovery,proposal,negotiation", "--out", str(out),
                                 "--bootstrap", "5"])
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert "No stage history" in text and "No subscriptions" in text
    load_scenario(out)


@pytest.mark.parametrize("text, value", [("1234.5", 1234.5), ("$1,234", 1234.0),
                                         ("-1,234.50 USD", -1234.5), ("EUR 12", 12.0)])
def test_money_parsed(text: str, value: float) -> None:
    assert parse_money(text) == value


@pytest.mark.parametrize("text", ["1.234,5", "12k", "$1,23", "abc"])
def test_money_refused(text: str) -> None:
    assert parse_money(text) is None


def _deals(tmp_path: Path, rows: list[str]) -> Path:
    p = tmp_path / "deals.csv"
    p.write_text("id,created,closed,stage,amount\n" + "\n".join(rows) + "\n")
    return p


GOOD = ["a,2024-01-01,2024-02-01,won,100", "b,2024-01-05,,discovery,200"]


@pytest.mark.parametrize("row, line, column, words", [
    ("c,2024-13-01,,discovery,10", 4, "created", "not a date"),
    ("c,2024-03-01,2024-02-01,lost,10", 4, "closed", "before it was created"),
    ("a,2024-03-01,,discovery,10", 4, "id", "duplicate id 'a' (first on line 2)"),
    ("c,2024-03-01,,discovery,12k", 4, "amount", "not an amount"),
    ("c,2024-03-01,,limbo,10", 4, "stage", "unknown stage value 'limbo'"),
    ("c,2024-03-01,,won,10", 4, "closed", "close date is empty"),
])
def test_bad_input_names_row_and_column(tmp_path: Path, row: str, line: int, column: str,
                                        words: str) -> None:
    deals = _deals(tmp_path, [*GOOD, row])
    out = tmp_path / "x.yaml"
    r = CliRunner().invoke(app, ["fit", str(deals), "--stages", "discovery", "--out", str(out)])
    assert r.exit_code != 0
    with pytest.raises(ScenarioError) as e:
        read_export(deals, Mapping(stages=["discovery"]))
    p = e.value.problems[0]
    assert (p.line, p.path) == (line, column) and words in p.message, str(p)
    assert not out.exists() and not (tmp_path / "retention.csv").exists()


def test_unusable_rows_are_counted_by_reason(tmp_path: Path) -> None:
    deals = _deals(tmp_path, [*GOOD, "c,,,discovery,10", ",2024-02-01,,discovery,10"])
    ex = read_export(deals, Mapping(stages=["discovery"]))
    assert ex.unusable == {"no created date": 1, "no id": 1}
    assert len(ex.deals) == 2


def test_cli_bad_input_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    import subprocess
    import sys

    deals = _deals(tmp_path, [*GOOD, "c,2024-03-01,,discovery,$12.34.5"])
    out = tmp_path / "x.yaml"
    r = subprocess.run([sys.executable, "-m", "sim", "fit", str(deals), "--stages", "discovery",
                        "--out", str(out)], capture_output=True, text=True)
    assert r.returncode == 2
    assert "deals.csv:4: amount: not an amount" in r.stderr
    assert "Traceback" not in r.stderr
    assert not out.exists()


def test_missing_column_says_how_to_map(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    p.write_text("Deal,Created On,Stage\nx,2024-01-01,won\n")
    with pytest.raises(ScenarioError) as e:
        read_export(p, Mapping())
    msg = str(e.value)
    assert "--map id=COLUMN" in msg and "--map created=COLUMN" in msg
    ex = read_export(p, Mapping(columns={"id": "Deal", "created": "Created On", "stage": "Stage"},
                                stages=["a"]))
    assert len(ex.deals) == 1 and math.isnan(ex.deals["closed"][0])


@pytest.mark.parametrize("preset", ["salesforce", "hubspot", "pipedrive"])
def test_presets_read_their_crm_format_like_the_generic_one(company, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                            preset: str) -> None:
    from sim.fit.api import ExportSpec, load_export
    from sim.fit.synthetic import write_preset

    c, files = company
    generic = fit_export(load_export(ExportSpec(files["deals"], files["history"])),
                         c.export_date, FitOptions(bootstrap=0))
    paths = write_preset(c, preset, tmp_path)
    ex = load_export(ExportSpec(paths["deals"], paths.get("history"), preset=preset))
    f = fit_export(ex, c.export_date, FitOptions(bootstrap=0))
    assert f.counts == generic.counts
    assert f.stage_names == generic.stage_names
    for name, v in generic.point().items():
        assert f.point()[name] == pytest.approx(v, rel=1e-6), name


def test_preset_error_names_the_original_file_and_column(tmp_path: Path) -> None:
    from sim.fit.api import ExportSpec, load_export

    p = tmp_path / "Opportunity.csv"
    p.write_text("Id,CreatedDate,StageName\n006A,2024-01-01,Prospecting\n006B,not a day,Closed Won\n")
    with pytest.raises(ScenarioError) as e:
        load_export(ExportSpec(p, preset="salesforce", stages="Prospecting"))
    prob = e.value.problems[0]
    assert "Opportunity.csv (salesforce preset)" in prob.file and prob.line == 3
    q = tmp_path / "deals.csv"
    q.write_text("Name,Created\nx,2024-01-01\n")
    with pytest.raises(ScenarioError) as e:
        load_export(ExportSpec(q, preset="hubspot"))
    assert "hubspot preset expects a column 'Record ID'" in str(e.value)


def test_excel_sheet_reads_like_csv(company, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    c, files = company
    xlsx = tmp_path / "deals.xlsx"
    c.deals.head(300).to_excel(xlsx, index=False)
    a = read_export(xlsx, Mapping(stages=["discovery", "proposal", "negotiation"]))
    csv = tmp_path / "deals.csv"
    c.deals.head(300).to_csv(csv, index=False)
    b = read_export(csv, Mapping(stages=["discovery", "proposal", "negotiation"]))
    pd.testing.assert_frame_equal(a.deals, b.deals)


def test_episodes_by_hand(tmp_path: Path) -> None:
    """Skipped stage: a zero-length advance; backward move: ignored; open: censored at as-of."""
    from sim.fit.events import ADVANCED, LOST, OPEN, build_episodes

    d = tmp_path / "d.csv"
    d.write_text("id,created,closed,stage,amount\n"
                 "z,2023-12-01,2023-12-05,lost,10\n"  # the export's first close: its window
                 "a,2024-01-01,2024-01-31,won,10\n"
                 "b,2024-01-01,2024-01-21,lost,10\n"
                 "c,2024-01-01,,s2,10\n")
    h = tmp_path / "h.csv"
    h.write_text("id,timestamp,stage\n"
                 "a,2024-01-01,s1\na,2024-01-11,s3\na,2024-01-16,s2\na,2024-01-31,won\n"
                 "b,2024-01-01,s1\nb,2024-01-21,lost\n"
                 "c,2024-01-01,s1\nc,2024-01-03,s2\nz,2023-12-01,s1\nz,2023-12-05,lost\n")
    ex = read_export(d, Mapping(stages=["s1", "s2", "s3"]), h)
    eps = build_episodes(ex, ex.day(pd.Timestamp("2024-02-10")))
    got = sorted(zip(ex.deals["id"].to_numpy()[eps.deal], eps.stage.tolist(), eps.days.tolist(),
                     eps.event.tolist(), strict=True))
    assert got == [("a", 0, 10.0, ADVANCED), ("a", 1, 0.0, ADVANCED), ("a", 2, 20.0, ADVANCED),
                   ("b", 0, 20.0, LOST), ("c", 0, 2.0, ADVANCED), ("c", 1, 38.0, OPEN),
                   ("z", 0, 4.0, LOST)]
    assert eps.backward_moves == 1
    assert [(o.stage, o.days_in_stage) for o in eps.open_deals] == [(1, 38.0)]


def test_left_truncated_export_still_recovers(tmp_path: Path) -> None:
    """Deals closed before the window are missing; those open across it are conditioned."""
    c = synthetic_company(SyntheticMotion(months=24, leads_per_month=50, window_months=8,
                                          stale_share=0.0), seed=4)
    files = c.write(tmp_path)
    ex = read_export(files["deals"], Mapping(), files["history"])
    f = fit_export(ex, c.export_date, FitOptions(bootstrap=B, seed=2))
    assert f.counts["left_truncated"] > 20
    point = f.point()
    for k in ("discovery.advance", "proposal.advance", "negotiation.advance",
              "discovery.duration_mean", "proposal.duration_mean", "negotiation.duration_mean",
              "leads_per_month"):
        se = float(np.std(f.uncertainty.replicates[k], ddof=1))
        assert abs(point[k] - c.truth[k]) <= 4 * se, (k, point[k], c.truth[k], se)


def test_bootstrap_replicates_do_not_depend_on_the_workers(company, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Replicate r draws from its own stream (seed, r): one worker or three, the same."""
    import sim.fit.uncertainty as unc

    monkeypatch.setattr(unc, "PARALLEL_MIN_WORK", 0)  # fork workers even for a small fit
    c, files = company
    ex = read_export(files["deals"], Mapping(), files["history"])
    one = fit_export(ex, c.export_date, FitOptions(bootstrap=7, seed=5, workers=1))
    three = fit_export(ex, c.export_date, FitOptions(bootstrap=7, seed=5, workers=3))
    assert one.uncertainty.replicates.keys() == three.uncertainty.replicates.keys()
    for k, v in one.uncertainty.replicates.items():
        assert np.array_equal(v, three.uncertainty.replicates[k], equal_nan=True), k
    n = len(ex.deals)
    w = unc.replicate_weights(n, 5, 2)
    assert w.sum() == n and np.array_equal(w, unc.replicate_weights(n, 5, 2))
    assert not np.array_equal(w, unc.replicate_weights(n, 5, 3))
