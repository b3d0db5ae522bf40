"""What ``revsim plan`` writes besides the report: ``plan.yaml`` and ``frontier.csv``.

``plan.yaml`` is the user's own scenario file with the chosen hiring written into
the searched motion's ``team.<role>.hires`` (ruamel's round trip keeps the user's
comments and layout); ``revsim run plan.yaml`` simulates it. ``frontier.csv`` has
one row per evaluated plan (see ``frontier_table``).
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
import pandas as pd
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from sim.plan.search import SearchOutcome
from sim.plan.space import Decision, Space
from sim.plan.validate import Choice
from sim.scenario.plan import PLAN_COSTS

__all__ = ["efficient", "frontier_table", "plan_yaml"]


def plan_yaml(source: str, space: Space, choice: Choice, header: str) -> str:
    """The scenario text with the chosen hires in the searched motion, comments kept."""
    y = YAML(typ="rt")
    y.width = 100
    y.indent(mapping=2, sequence=4, offset=2)  # the layout of the scenarios/ examples
    data = y.load(source)
    motion = data["motions"][space.motion_index]
    team = motion.get("team")
    if not isinstance(team, CommentedMap):
        team = CommentedMap()
        motion["team"] = team
    for role, hires in space.hires(choice.chosen.decision).items():
        body = team.get(role)
        if not isinstance(body, CommentedMap):
            body = CommentedMap()
            team[role] = body
        plan = CommentedMap((int(m), int(c)) for m, c in hires.items())
        plan.fa.set_flow_style()
        body["hires"] = plan
        if body.fa.flow_style():  # a comment cannot sit inside a {...}: it goes after it
            team.yaml_add_eol_comment("hires chosen by revsim plan", role)
        else:
            body.yaml_add_eol_comment("month -> hires, chosen by revsim plan", "hires")
    buf = io.StringIO()
    y.dump(data, buf)
    lines = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return lines + buf.getvalue()


def efficient(points: list[tuple[float, float, Any]]) -> list[Any]:
    """Pareto-efficient items of (cost, probability, item): no other is cheaper and likelier."""
    out, best_p = [], -math.inf
    for _cost, p, item in sorted(points, key=lambda t: (t[0], -t[1])):
        if p > best_p:
            out.append(item)
            best_p = p
    return out


def frontier_table(space: Space, outcome: SearchOutcome, choice: Choice) -> pd.DataFrame:
    """One row per evaluated plan: decisions, cost, P(target) with its 95% Wilson
    interval and seeds (search stage), the fresh-seed figures of validated plans,
    and flags (today's plan, the chosen one, on the efficient frontier)."""
    spec = space.spec
    c = spec.cost
    fresh = {f.decision: f for f in choice.finalists}
    fresh[choice.today.decision] = choice.today
    records: dict[Decision, Any] = {r.decision: r for r in outcome.records}
    today = choice.today.decision
    rows = []
    order = list(records)
    if today not in records:
        order.append(today)
    full = [(records[d].est.cost[c], records[d].est.p, d) for d in order
            if d in records and records[d].stage == len(outcome.stages) - 1
            and all(records[d].est.cost[m] <= cap for m, cap in spec.budget.items())]
    on_front = set(efficient(full))
    for d in order:
        e = records[d].est if d in records else outcome.today
        row: dict[str, Any] = dict(zip(space.names, d, strict=True))
        row["hires"] = space.label(d)
        row["cost_metric"] = c
        row["cost"] = e.cost[c]
        row["cost_low"], row["cost_high"] = e.cost_low[c], e.cost_high[c]
        row["p_target"], row["p_target_low"], row["p_target_high"] = e.p, e.p_low, e.p_high
        row["seeds"] = e.n
        f = fresh.get(d)
        row["validated"] = f is not None
        row["p_target_fresh"] = f.fresh.p if f else np.nan
        row["p_target_fresh_low"] = f.fresh.p_low if f else np.nan
        row["p_target_fresh_high"] = f.fresh.p_high if f else np.nan
        row["cost_fresh"] = f.fresh.cost[c] if f else np.nan
        row["fresh_seeds"] = f.fresh.n if f else 0
        for m in PLAN_COSTS:
            if m != c and m in spec.budget:
                row[m] = e.cost[m]
        row["today"] = d == today
        row["chosen"] = d == choice.chosen.decision
        row["efficient"] = d in on_front
        row["dropped"] = records[d].dropped if d in records else "outside the searched ranges"
        rows.append(row)
    return pd.DataFrame(rows)
