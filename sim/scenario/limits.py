"""The sizes revsim accepts, and why (docs/model.md "Limits").

A scenario beyond one of these would run out of memory or run for hours; it is
refused when it is validated, with the limit and its reason in the message. A
legal scenario that is still heavy gets a time and memory estimate before it
starts (``sim.runner.budget``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LIMITS", "Limit", "MAX_FILE_BYTES", "MAX_YAML_NODES", "limit_message"]


@dataclass(frozen=True)
class Limit:
    value: float
    what: str
    why: str


LIMITS: dict[str, Limit] = {
    "seeds": Limit(100_000, "seeds per run", "the per-seed table is held in memory (about 0.5 KB "
                   "per seed and motion), and 100,000 seeds already pin a mean to a few tenths "
                   "of a percent of its spread"),
    "horizon_months": Limit(240, "months of horizon", "twenty years is past any plan a go-to-market "
                            "model can speak to, and every month is a row per seed"),
    "reps": Limit(10_000, "people in one role", "every person is simulated one by one (hire, ramp, "
                  "attrition, backfill, capacity)"),
    "max_open_deals": Limit(1_000, "open deals per person", "each open deal holds a slot of its "
                            "owner's capacity; no seller carries more than a few dozen"),
    "leads_per_seed": Limit(2_000_000, "expected leads and sign-ups per seed and motion",
                            "each is a row of the seed's tables (about 0.2 KB) and a few events; "
                            "beyond this one seed needs gigabytes"),
    "accounts": Limit(1_000_000, "initial customers or deals", "each is a row of the seed's "
                      "tables"),
}

# A scenario file is a page of settings: 5 MB is far past any real one and parses in a second.
MAX_FILE_BYTES = 5 * 1024 * 1024
# Keys, list items and values after YAML aliases are expanded (an alias bomb expands to billions).
MAX_YAML_NODES = 200_000


def limit_message(key: str, got: float) -> str:
    lim = LIMITS[key]
    return (f"expected at most {lim.value:,.0f} {lim.what}, got {got:,.0f}: revsim's limit, "
            f"because {lim.why}")
