"""Motions in sequence: phases switch at the right month or trigger and lose nothing."""

from __future__ import annotations

import numpy as np
import pytest

from sim.engine.ledger import funnel, monthly_series
from sim.engine.records import LOST, OPEN, WON
from sim.engine.team import MONTH_DAYS
from tests.conftest import make_scenario, run_one

FIELD_STAGES = [
    {"name": "discovery", "owner": "ae", "duration": 20, "advance": 0.6},
    {"name": "close", "owner": "ae", "duration": 30, "advance": 0.5},
]
BASE = {"sources": {"inbound": {"leads_per_month": 30}},
        "stages": [{"name": "work", "owner": "ae", "duration": 15, "advance": 0.5}]}


def _run(phase: dict, months: int = 24, seed: int = 0, **motion: object):
    sc = make_scenario({**BASE, "phases": [phase], **motion}, horizon_months=months)
    run = run_one(sc, seed)
    return sc, run, monthly_series(run)


def test_start_month_switches_new_leads_to_the_phase_path() -> None:
    _, run, mo = _run({"start_month": 9, "stages": FIELD_STAGES,
                       "deal": {"acv": 50000}})
    L = run.leads
    start = 9 * MONTH_DAYS
    assert run.extras["phase_starts"] == pytest.approx([0.0, start])
    assert (L["t_arrive"][L["phase"] == 0] < start).all()
    assert (L["t_arrive"][L["phase"] == 1] >= start).all()
    assert (mo["phase"][:9] == 0).all() and (mo["phase"][9:] == 1).all()
    # the new path's stages and deal size
    late = L["phase"] == 1
    assert np.isnan(L["entry"][~late, 1]).all()  # the first path had one stage
    assert (L["acv"][late] == 50000).all() and (L["acv"][~late] == 12000).all()
    names = list(funnel(run)["stage"])
    assert names == ["work", "discovery", "close"]


def test_nothing_is_lost_at_the_switch() -> None:
    # long stages: deals of the first path are still open when the phase starts
    _, run, mo = _run({"start_month": 6, "stages": FIELD_STAGES},
                      stages=[{"name": "work", "owner": "ae", "duration": 60, "advance": 0.5}])
    L = run.leads
    assert set(np.unique(L["outcome"])) <= {OPEN, WON, LOST}
    first_won_late = (L["phase"] == 0) & (L["outcome"] == WON) & (L["t_end"] >= 6 * MONTH_DAYS)
    assert first_won_late.sum() > 0  # deals in flight finish on the path they started on
    C = run.customers
    assert C["start"].size == (L["outcome"] == WON).sum()  # every win is one customer
    # every customer points at its own lead (rows renumbered across paths)
    assert (L["outcome"][C["lead"]] == WON).all()
    assert np.allclose(L["t_end"][C["lead"]], C["start"])
    assert mo["new_customers"].sum() == C["start"].size


def test_after_customers_starts_the_month_after_the_trigger() -> None:
    for seed in range(3):
        _, run, mo = _run({"after_customers": 40, "deal": {"acv": 30000}}, seed=seed)
        starts = run.extras["phase_starts"]
        reached = np.flatnonzero(mo["customers"] >= 40)
        assert reached.size
        assert starts[1] == pytest.approx((reached[0] + 1) * MONTH_DAYS)


def test_after_arr_starts_the_month_after_the_trigger() -> None:
    _, run, mo = _run({"after_arr": 400_000, "deal": {"acv": 30000}})
    reached = np.flatnonzero(mo["arr"] >= 400_000)
    assert run.extras["phase_starts"][1] == pytest.approx((reached[0] + 1) * MONTH_DAYS)


def test_a_trigger_never_met_leaves_the_motion_as_it_was() -> None:
    _, run, mo = _run({"after_arr": 1e12, "deal": {"acv": 30000}})
    assert run.extras["phase_starts"].size == 1
    assert (mo["phase"] == 0).all()


def test_same_draws_as_the_entry_motion_until_the_phase_starts() -> None:
    sc_stay = make_scenario(BASE, horizon_months=24)
    for seed in range(3):
        stay = monthly_series(run_one(sc_stay, seed))
        _, run, mo = _run({"after_customers": 40, "deal": {"acv": 30000},
                           "sources": {"inbound": {"leads_per_month": 60}}}, seed=seed)
        k = int(round(run.extras["phase_starts"][1] / MONTH_DAYS))
        for col in ("leads", "wins", "arr", "revenue", "customers"):
            assert np.array_equal(stay[col][:k], mo[col][:k]), col
        assert mo["leads"][k:].sum() > stay["leads"][k:].sum()  # the phase doubled inbound


def test_phase_hires_count_from_the_phase_start() -> None:
    ae = {"hires": {0: 2, 6: 3}}
    _, run, mo = _run({"start_month": 5, "team": {"ae": ae}}, months=18)
    hc = mo["headcount_ae"]
    assert (hc[:5] == 1).all()
    assert (hc[5:11] == 3).all()
    assert (hc[11:] == 6).all()


def test_a_role_the_phase_creates_starts_with_its_start_count() -> None:
    sdr = {"start": 2, "cost_per_year": 60000, "max_open_deals": None}
    _, run, mo = _run({"start_month": 4, "team": {"sdr": sdr},
                       "sources": {"outbound": {"meetings_per_sdr_month": 10}}}, months=12)
    assert (mo["headcount_sdr"][:4] == 0).all() and (mo["headcount_sdr"][4:] == 2).all()
    assert mo["leads_outbound"][:4].sum() == 0 and mo["leads_outbound"][4:].sum() > 0
    # salaries from the phase start: 2 x 60,000 a year
    salaries = mo["sm_spend"] - mo["marketing_spend"] - mo["commission"]
    assert salaries[5] == pytest.approx(2 * 60000 / 12, rel=1e-9)
    assert (salaries[:4] == 0).all()


def test_a_phase_can_change_how_customers_pay() -> None:
    outcome = {"pricing": "outcome", "acv": None,
               "outcome": {"workload_per_month": 1000, "price_per_outcome": 1.0}}
    _, run, mo = _run({"start_month": 6, "deal": outcome})
    C = run.customers
    late = C["phase"] == 1
    assert late.any() and (~late).any()
    assert C["resolves"][late].all() and not C["resolves"][~late].any()
    assert (C["start"][late] >= 6 * MONTH_DAYS).all()


def test_people_carry_over_a_phase_cannot_remove_a_role() -> None:
    from sim.scenario.errors import ScenarioError

    with pytest.raises(ScenarioError, match="carry over"):
        make_scenario({**BASE, "phases": [{"start_month": 3, "team": {"ae": None}}]})


def test_levers_shock_every_phase() -> None:
    from sim.scenario.levers import shock_scenario

    sc = make_scenario({**BASE, "phases": [{"start_month": 6, "deal": {"acv": 50000},
                                            "sources": {"inbound": {"leads_per_month": 80}}}]})
    shocked = shock_scenario(sc, {"acv": 0.5, "lead_volume": 0.25}).motions[0]
    pm = shocked.phase_motions[0]
    assert pm.deal.acv == 25000 and pm.sources.inbound.leads_per_month == 20
    assert shocked.deal.acv == 6000 and shocked.sources.inbound.leads_per_month == 7.5


def test_a_phased_scenario_round_trips_through_its_manifest() -> None:
    from sim.scenario.schema import Scenario

    sc = make_scenario({**BASE, "phases": [{"name": "field", "after_arr": 5e5,
                                            "deal": {"acv": 50000}}]})
    again = Scenario.model_validate(sc.model_dump(mode="json", by_alias=True))
    assert again == sc
    assert again.motions[0].phase_motions[0].deal.acv == 50000


def test_route_keeps_the_other_sources_on_their_path() -> None:
    # outbound leads take the phase's field path; inbound keeps the first path
    phase = {"start_month": 4, "route": ["outbound"], "stages": FIELD_STAGES,
             "deal": {"acv": 90000},
             "sources": {"outbound": {"meetings_per_sdr_month": 20}},
             "team": {"sdr": {"start": 2, "max_open_deals": None}}}
    _, run, _ = _run(phase, months=12)
    L = run.leads
    from sim.engine.sources import SOURCE_ID

    inbound = L["source"] == SOURCE_ID["inbound"]
    outbound = L["source"] == SOURCE_ID["outbound"]
    assert outbound.sum() > 0 and (L["phase"][outbound] == 1).all()
    assert (L["phase"][inbound] == 0).all()
    assert (L["acv"][inbound] == 12000).all() and (L["acv"][outbound] == 90000).all()
    assert (L["t_arrive"][inbound] >= 4 * MONTH_DAYS).any()  # inbound kept flowing after the switch


def test_route_names_known_sources() -> None:
    from sim.scenario.errors import ScenarioError

    with pytest.raises(ScenarioError, match="unknown source 'outbund'"):
        make_scenario({**BASE, "phases": [{"start_month": 3, "route": ["outbund"]}]})
