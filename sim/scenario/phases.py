"""Motions over time: the ``phases`` of a motion (MODEL.md "Motions over time and blends").

A phase is a trigger and raw motion overrides; ``Motion`` (``sim.scenario.schema``)
resolves each phase into the full motion in effect from its start, and the
engine (``sim.engine.model``) switches to it.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_serializer, model_validator

from sim.scenario.schema_types import LocatedError, Strict
from sim.scenario.sources import Sources

__all__ = ["PHASE_SECTIONS", "PHASE_TRIGGERS", "Phase"]


PHASE_TRIGGERS = ("start_month", "after_customers", "after_arr")
PHASE_SECTIONS = ("sources", "stages", "team", "queue", "qualification", "deal", "handoff",
                  "retention", "costs", "forecast", "conversion", "self_serve", "pql", "pilot")


class Phase(Strict):
    """A change of the motion from a month or a trigger on (MODEL.md "Motions over time").

    Exactly one trigger; the other keys are motion overrides, deep-merged onto the
    motion as it stands when the phase starts (the template's motion, then each
    earlier phase). ``team.<role>.hires`` in a phase count months from the phase's
    start and add people; everyone already hired carries over.
    """

    name: str | None = Field(default=None, description="label on the charts (default: phase N)")
    start_month: int | None = Field(default=None, ge=0, description="starts at this month")
    after_customers: int | None = Field(
        default=None, ge=1, description="starts the month after live customers reach this")
    after_arr: float | None = Field(
        default=None, gt=0, description="starts the month after ARR reaches this")
    route: list[str] | None = Field(
        default=None,
        description="sources whose new leads take the phase's path (default: all); the "
                    "others keep the path they were on")
    sources: dict[str, Any] | None = None
    stages: list[Any] | None = None
    team: dict[str, Any] | None = None
    queue: dict[str, Any] | None = None
    qualification: dict[str, Any] | None = None
    deal: dict[str, Any] | None = None
    handoff: dict[str, Any] | None = None
    retention: dict[str, Any] | None = None
    costs: dict[str, Any] | None = None
    forecast: dict[str, Any] | None = None
    conversion: dict[str, Any] | None = None
    self_serve: dict[str, Any] | None = None
    pql: dict[str, Any] | None = None
    pilot: dict[str, Any] | None = None

    @field_validator("route")
    @classmethod
    def _known_sources(cls, v: list[str] | None) -> list[str] | None:
        known = [s for s in Sources.model_fields if s != "signups"]
        for s in v or []:
            if s not in known:
                raise ValueError(f"unknown source {s!r} in route; expected some of: {', '.join(known)}")
        return v

    @model_validator(mode="after")
    def _one_trigger(self) -> Phase:
        given = [t for t in PHASE_TRIGGERS if getattr(self, t) is not None]
        if len(given) != 1:
            raise LocatedError((), "a phase needs exactly one of start_month, after_customers, "
                                   f"after_arr (got {', '.join(given) or 'none'})")
        return self

    @model_serializer(mode="wrap")
    def _written(self, handler: Any) -> Any:
        """Only the keys the phase writes (a section left out is not a section set to null)."""
        data = handler(self)
        return {k: v for k, v in data.items() if k in self.model_fields_set}

    def overrides(self) -> dict[str, Any]:
        """The motion sections this phase writes (a key given as null removes the section)."""
        return {k: getattr(self, k) for k in PHASE_SECTIONS if k in self.model_fields_set}

    def trigger(self) -> tuple[str, float]:
        for t in PHASE_TRIGGERS:
            v = getattr(self, t)
            if v is not None:
                return t, float(v)
        raise AssertionError("validated: one trigger")
