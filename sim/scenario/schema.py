"""The scenario format as pydantic models (INTERFACE.md is the contract).

Every model forbids unknown keys: a typo must never be silently ignored. Two
kinds of numeric field exist and their type says which:

- ``Param``: a rate, probability, count or amount. A number, or a distribution
  meaning *uncertainty about the parameter*, drawn once per seed
  (``sim.engine.params.realize``).
- ``Draw``: a per-entity quantity (a stage duration, a deal's ACV). A number
  (fixed) or a distribution drawn for every entity.

Units are in the names or the field descriptions: days, months, currency per
year for ARR and ACV, currency per month for monthly spend.

This module holds the motion (retention, costs, forecast, phases resolved), the
stress sets and the scenario; a motion's other sections have modules of their
own: ``team.py``, ``sales_path.py`` (stages, queue, qualification, deal,
handoff), ``sources.py``, ``channels.py``, ``product.py``, ``pricing.py``,
``phases.py``, and ``company.py`` (market and initial state).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from sim.scenario.company import Initial, InitialCustomers, InitialDeals, InitialReps, Market
from sim.scenario.inputs import Correlation, validate_correlations
from sim.scenario.phases import Phase
from sim.scenario.plan import PlanSpec
from sim.scenario.product import Conversion, Pilot, Pql, SelfServe
from sim.scenario.sales_path import Deal, Handoff, Qualification, Queue, Stage
from sim.scenario.schema_types import (
    ROLES,
    SELLING_ROLES,
    Draw,
    LocatedError,
    NonNeg,
    Param,
    PerEntity,
    PerSeed,
    Prob,
    Strict,
    limited,
)
from sim.scenario.sources import FounderNetwork, Inbound, Outbound, Partners, Signups, Sources
from sim.scenario.team import Team

__all__ = [
    "ROLES",
    "SELLING_ROLES",
    "Conversion",
    "Correlation",
    "Costs",
    "Draw",
    "FounderNetwork",
    "Forecast",
    "Inbound",
    "Initial",
    "InitialCustomers",
    "InitialDeals",
    "InitialReps",
    "LocatedError",
    "Market",
    "Motion",
    "Outbound",
    "Partners",
    "Pilot",
    "Pql",
    "NonNeg",
    "Param",
    "Prob",
    "PerEntity",
    "PerSeed",
    "Retention",
    "SelfServe",
    "Signups",
    "Scenario",
    "Sources",
    "StressSet",
]


# --- customers, costs, forecast ------------------------------------------------------


class Retention(Strict):
    early_churn: Prob = 0.0
    early_window_days: NonNeg = 90.0
    monthly_churn: Prob = 0.0
    expansion_rate_annual: NonNeg = 0.0
    contraction_rate_annual: Prob = 0.0
    expansion_share: Prob = Field(
        default=1.0, description="share of retained customers that expand in a year; each of "
        "them by expansion_rate_annual / share (1: every one by the rate)"
    )
    contraction_share: Prob = Field(
        default=1.0, description="share of retained customers that contract in a year; each of "
        "them by contraction_rate_annual / share (at least the rate: 1: every one by the rate)"
    )
    bad_fit_multiplier: NonNeg = 1.0
    poor_handoff_multiplier: NonNeg = 1.0
    founder_no_criteria_multiplier: NonNeg = Field(
        default=1.0, description="early churn of founder-closed deals without acceptance criteria"
    )
    partner_mis_sold_multiplier: NonNeg = Field(
        default=1.0, description="early churn of bad-fit partner referrals (mis-sold)"
    )
    accounts_per_csm: NonNeg | None = None
    overload_churn_sensitivity: NonNeg = Field(
        default=1.0, description="extra churn per unit of CS overload above 100%"
    )


class Costs(Strict):
    gross_margin: Prob = 0.8
    other_sm_per_month: NonNeg = Field(default=0.0, description="tools, events, agencies")


class Forecast(Strict):
    stage_inflation: Prob = 0.0


class Motion(Strict):
    """A motion after its template and overrides were merged."""

    template: str
    name: str
    based_on: str | None = Field(
        None, description="the motion of this file this one starts from (its template and "
                          "overrides), with this motion's overrides applied on top")
    description: str = ""
    sources: Sources = Sources()
    stages: list[Stage] = Field(min_length=1)
    team: Team = Team()
    queue: Queue = Queue()
    qualification: Qualification = Qualification()
    deal: Deal
    handoff: Handoff = Handoff()
    retention: Retention = Retention()
    costs: Costs = Costs()
    forecast: Forecast = Forecast()
    conversion: Conversion = Conversion()
    self_serve: SelfServe = SelfServe()
    pql: Pql | None = None
    pilot: Pilot | None = None
    phases: list[Phase] = Field(default_factory=list)
    _phase_motions: list[Motion] = PrivateAttr(default_factory=list)

    @model_validator(mode="after")
    def _coherent(self) -> Motion:
        if self.deal.pricing == "subscription" and self.deal.acv is None and self.pilot is None:
            raise LocatedError(("deal", "acv"),
                               "subscription pricing needs deal.acv (annual contract value)")
        names = [s.name for s in self.stages]
        for i, n in enumerate(names):
            if n in names[:i]:
                raise LocatedError(("stages", i, "name"),
                                   f"stage names must be unique: '{n}' is used twice")
        q = self.qualification.stage
        if q is not None and q not in names:
            raise LocatedError(("qualification", "stage"),
                               f"qualification.stage '{q}' is not one of the stages {names}")
        o = self.sources.outbound
        if o is not None and o.entry_stage is not None and o.entry_stage not in names:
            raise LocatedError(("sources", "outbound", "entry_stage"), f"sources.outbound."
                               f"entry_stage '{o.entry_stage}' is not one of the stages {names}")
        if self.pql is not None:
            e = self.pql.entry_stage
            if e is not None and e not in names:
                raise LocatedError(("pql", "entry_stage"),
                                   f"pql.entry_stage '{e}' is not one of the stages {names}")
            if self.sources.signups is None:
                raise LocatedError(("pql",), "pql needs sources.signups (PQLs come from product users)")
            if self.pql.acv is None and self.deal.acv is None:
                raise LocatedError(("pql", "acv"), f"pql needs an acv (deal.pricing is "
                                                   f"'{self.deal.pricing}', which has no deal.acv)")
        roles = self.team.roles()
        for i, s in enumerate(self.stages):
            if s.owner is None:
                continue
            role = roles.get(s.owner)
            if role is None:
                raise LocatedError(("stages", i, "owner"),
                                   f"stage '{s.name}' is owned by '{s.owner}' but team has no {s.owner}")
            if role.max_open_deals is None:
                raise LocatedError(("team", s.owner),
                                   f"stage '{s.name}' is owned by '{s.owner}': add max_open_deals "
                                   f"to team.{s.owner}")
        p = self.sources.partners
        if p is not None and p.partners_per_manager is not None and "partner_manager" not in roles:
            raise LocatedError(("team", "partner_manager"),
                               "sources.partners.partners_per_manager needs a team.partner_manager")
        if self.sources.outbound is not None and "sdr" not in roles:
            raise LocatedError(("team", "sdr"),
                               "sources.outbound needs a team.sdr to book the meetings (template "
                               f"'{self.template}' has outbound; remove it with "
                               "sources: {outbound: null})")
        return self

    @model_validator(mode="after")
    def _resolve_phases(self) -> Motion:
        """Each phase's motion: the previous one with the phase's overrides merged on."""
        from pydantic import ValidationError

        from sim.scenario.merge import deep_merge

        resolved: list[Motion] = []
        current = self.model_dump(exclude={"phases"}, exclude_unset=False)
        last_start = -1.0
        for j, ph in enumerate(self.phases):
            kind, at = ph.trigger()
            if kind == "start_month":
                if at <= last_start:
                    raise LocatedError(("phases", j, "start_month"),
                                       "phases must start in order: expected a month after "
                                       f"{last_start:g}, got {at:g}")
                last_start = at
            for role, body in (ph.overrides().get("team") or {}).items():
                if body is None:
                    raise LocatedError(("phases", j, "team", role),
                                       f"people carry over from phase to phase: a phase cannot "
                                       f"remove team.{role}; to stop it selling, give its stages "
                                       "another owner")
            current = deep_merge(current, ph.overrides())
            try:
                resolved.append(Motion.model_validate(current))
            except ValidationError as e:
                err = e.errors()[0]
                loc = tuple(x for x in err["loc"] if not isinstance(x, str) or x in
                            Motion.model_fields or not x.startswith(("function-", "tagged-union")))
                raise LocatedError(("phases", j, *loc), str(err["msg"]).removeprefix(
                    "Value error, ")) from None
        self._phase_motions = resolved
        return self

    @property
    def phase_motions(self) -> list[Motion]:
        """The motion in effect in each phase (``phases[j]`` resolved)."""
        return self._phase_motions

    @property
    def qualification_index(self) -> int:
        q = self.qualification.stage
        return 0 if q is None else [s.name for s in self.stages].index(q)


class StressSet(Strict):
    """A named set of shocks: lever -> factor (see sim/scenario/levers.py)."""

    name: str = Field(min_length=1)
    shocks: dict[str, float]

    @field_validator("shocks")
    @classmethod
    def _levers(cls, v: dict[str, float]) -> dict[str, float]:
        from sim.scenario.lever_names import LEVERS

        for k, f in v.items():
            if k not in LEVERS:
                raise ValueError(f"unknown lever {k!r}; expected one of: {', '.join(LEVERS)}")
            if f < 0:
                raise ValueError(f"lever {k} needs a factor >= 0, got {f}")
        return v


class Scenario(Strict):
    name: str = Field(min_length=1)
    description: str = ""
    horizon_months: Annotated[int, limited("horizon_months")] = Field(default=36, ge=1)
    seeds: Annotated[int, limited("seeds")] = Field(default=1000, ge=1)
    seed: int = Field(default=0, ge=0)
    currency: str = "USD"
    target_arr: float | None = Field(default=None, gt=0)
    market: Market = Market()
    initial: Initial = Initial()
    motions: list[Motion] = Field(min_length=1)
    stress: list[StressSet] = Field(default_factory=list)
    compare: list[tuple[str, str]] = Field(
        default_factory=list,
        description="pairs of motion names to compare (default: every pair), e.g. a phased "
                    "motion against staying in its entry motion")
    correlations: list[Correlation] = Field(
        default_factory=list,
        description="rank correlations between uncertain inputs of a motion, applied with a "
                    "Gaussian copula to the per-seed draws")
    plan: PlanSpec | None = Field(
        default=None, description="the hiring decisions `revsim plan` searches (sim/scenario/plan.py)")

    @model_validator(mode="after")
    def _coherent(self) -> Scenario:
        names = [m.name for m in self.motions]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(
                f"motion names must be unique, repeated: {dup} (give each a distinct 'name')"
            )
        for i, pair in enumerate(self.compare):
            for k, name in enumerate(pair):
                if name not in names:
                    raise LocatedError(("compare", i, k),
                                       f"no motion named {name!r}; expected one of: "
                                       f"{', '.join(names)}")
            if pair[0] == pair[1]:
                raise LocatedError(("compare", i), "a motion compared with itself")
        for m in self.motions:
            stage_names = [s.name for s in m.stages]
            for i, d in enumerate(self.initial.pipeline):
                if d.stage not in stage_names:
                    raise LocatedError(
                        ("initial", "pipeline", i, "stage"),
                        f"initial.pipeline stage '{d.stage}' is not a stage of motion "
                        f"'{m.name}' ({stage_names})",
                    )
        validate_correlations(self.correlations, self.motions)
        return self

    @model_validator(mode="after")
    def _plan_fits(self) -> Scenario:
        """The ``plan:`` block names a motion of the file, its roles, months in the horizon."""
        p = self.plan
        if p is None:
            return self
        if self.target_arr is None:
            raise LocatedError(("plan",), "a plan aims at P(ARR at the horizon >= target_arr): "
                               "set target_arr at the top level")
        names = [m.name for m in self.motions]
        if p.motion is None and len(names) > 1:
            raise LocatedError(("plan",), "the scenario has several motions: say which one's "
                               f"hiring to search with `motion:` (one of: {', '.join(names)})")
        if p.motion is not None and p.motion not in names:
            raise LocatedError(("plan", "motion"), f"no motion named {p.motion!r}; expected one "
                               f"of: {', '.join(names)}")
        motion = self.motions[names.index(p.motion) if p.motion is not None else 0]
        roles = motion.team.roles()
        for role, space in p.hires.items():
            if role not in roles:
                raise LocatedError(("plan", "hires", role), (
                    f"motion '{motion.name}' has no team.{role}; its roles are: "
                    f"{', '.join(roles) or 'none'}"))
            for k, m in enumerate(space.months):
                if m >= self.horizon_months:
                    raise LocatedError(("plan", "hires", role, "months", k), (
                        f"month {m} is not inside the {self.horizon_months}-month horizon "
                        f"(months 0 to {self.horizon_months - 1})"))
        return self
