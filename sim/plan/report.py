"""The plan's outputs: the answer in words, ``report.html``, and the folder written atomically.

The report reads, top to bottom: the answer (which hires, the fresh-seed
probability and cost, against today's plan); the cost vs P(target) frontier and
what each extra point of probability costs along it; what the extra spend over
today's plan buys (paired on the same fresh seeds); the hiring timelines; the
chosen plan's spread of ARR and what drives it (its uncertain inputs' and luck's
shares of the variance of end ARR, and where it misses the target: the run
report's sections, sim/report/drivers.py, on the chosen plan's fresh-seed run);
the finalists' search-stage against fresh-seed figures (the optimiser's curse,
measured); how the search ran.
"""

from __future__ import annotations

import base64
import math
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from jinja2 import Environment, FileSystemLoader, select_autoescape

from sim.plan.evaluate import FRESH, Evaluator
from sim.plan.figures import CAPTIONS, plan_figures
from sim.plan.output import frontier_table, plan_yaml
from sim.plan.search import SearchOutcome
from sim.plan.space import Space
from sim.plan.validate import Choice, chosen_results
from sim.report.drivers import uncertainty_sections
from sim.report.style import money

__all__ = ["SPREAD_SECTIONS", "answer_text", "render_plan_report", "spread_sections", "work_rows",
           "write_outputs"]

# the run report's uncertainty sections the plan report shows for the chosen plan
SPREAD_SECTIONS = ("drivers", "plan-breaks")

_HERE = Path(__file__).parent
_REPORT_CSS = Path(__file__).parent.parent / "report" / "report.css"


def _pct(p: float) -> str:
    return "n/a" if not math.isfinite(p) else f"{p:.0%}"


def _pp(d: float) -> str:
    return "n/a" if not math.isfinite(d) else f"{d * 100:+.1f} pp"


def _money(v: float, cur: str) -> str:
    return "n/a" if not math.isfinite(v) else money(v, cur)


def _signed(v: float, cur: str) -> str:
    if not math.isfinite(v):
        return "n/a"
    return ("+" if v >= 0 else "-") + money(abs(v), cur)


def answer_text(space: Space, choice: Choice, cur: str) -> str:
    """The answer in one paragraph, on fresh-seed figures."""
    spec = space.spec
    sc = space.scenario
    c = spec.cost
    ch, td = choice.chosen.fresh, choice.today.fresh
    goal = (f"P(ARR at month {sc.horizon_months} >= {money(sc.target_arr or 0, cur)})")
    is_today = choice.chosen.decision == choice.today.decision
    hires = space.label(choice.chosen.decision) + (" (today's plan)" if is_today else "")
    figures = (f"{goal} = {_pct(ch.p)} [{_pct(ch.p_low)}, {_pct(ch.p_high)}] on "
               f"{choice.fresh_seeds:,} fresh seeds, {c} {_money(ch.cost[c], cur)}")
    if not is_today:
        figures += (f" (today's plan, {space.label(choice.today.decision)}: {_pct(td.p)}, "
                    f"{_money(td.cost[c], cur)})")
    caps = ", ".join(f"{m} <= {money(v, cur)}" for m, v in spec.budget.items())
    if not choice.within_caps:
        return (f"No finalist stays within the caps ({caps}) on fresh seeds; the closest: "
                f"{hires}. {figures}.")
    if spec.minimise is not None:
        if choice.reached:
            return (f"Cheapest plan reaching {goal} >= {_pct(spec.probability)}"
                    f"{' within ' + caps if caps else ''}: {hires}. {figures}.")
        return (f"The target is out of reach{' within ' + caps if caps else ' in the searched ranges'}"
                f": no plan found reaches {_pct(spec.probability)}. The highest probability "
                f"reachable is {_pct(ch.p)}, with {hires}. {figures}.")
    return f"Likeliest plan{' within ' + caps if caps else ''}: {hires}. {figures}."


def work_rows(outcome: SearchOutcome, choice: Choice, timing: dict[str, Any]) -> list[list[str]]:
    """Rows of the 'evaluated plans' table: stage, seeds per plan, plans, seed runs."""
    rows = []
    prev = 0
    for i, n in enumerate(outcome.stages):
        plans = sum(1 for r in outcome.records if r.stage >= i)
        name = "screen" if i == 0 else ("full" if i == len(outcome.stages) - 1 else "promote")
        rows.append([name, f"{n:,}", f"{plans:,}", f"{plans * (n - prev):,}"])
        prev = n
    k = len({f.decision for f in choice.finalists} | {choice.today.decision})
    rows.append(["validate (fresh seeds)", f"{choice.fresh_seeds:,}", f"{k:,}",
                 f"{k * choice.fresh_seeds:,}"])
    if choice.luck_seeds:
        rows.append(["chosen plan again, other luck", f"{choice.luck_seeds:,}", "1",
                     f"{choice.luck_seeds:,}"])
    if choice.skipped:
        rows.append([f"finalists not re-run, certainly costlier than a plan that reached the "
                     f"probability: {len(choice.skipped):,}", "", "", ""])
    rows.append([f"skipped by monotonicity: {outcome.pruned:,} plans", "", "", ""])
    rows.append([f"{outcome.method}: {outcome.proposed:,} proposals", "", "",
                 f"{timing['seed_runs']:,} simulated" + (
                     f" + {timing['replayed']:,} from the checkpoint" if timing["replayed"] else "")])
    rows.append([f"time: search {timing['search_seconds']:.0f} s, validation "
                 f"{timing['validate_seconds']:.0f} s, total {timing['wall_seconds']:.0f} s on "
                 f"{timing['workers']} worker(s)", "", "", ""])
    return rows


def _diff_row(name: str, d: Any, fmt: str, cur: str) -> dict[str, str]:
    if fmt == "pp":
        return {"what": name, "diff": _pp(d.mean), "ci": f"{_pp(d.low)} to {_pp(d.high)}"}
    return {"what": name, "diff": _signed(d.mean, cur),
            "ci": f"{_signed(d.low, cur)} to {_signed(d.high, cur)}"}


def _front_rows(space: Space, table: Any, cur: str) -> list[dict[str, str]]:
    """The efficient plans, cheapest first, with the cost of each extra point of probability."""
    f = table[table["efficient"]].sort_values("cost")
    rows, prev = [], None
    for _, r in f.iterrows():
        per_pt = ""
        if prev is not None and r["p_target"] > prev["p_target"]:
            per_pt = money((r["cost"] - prev["cost"]) / ((r["p_target"] - prev["p_target"]) * 100),
                           cur)
        rows.append({"hires": r["hires"], "cost": _money(r["cost"], cur),
                     "p": f"{_pct(r['p_target'])} [{_pct(r['p_target_low'])}, "
                          f"{_pct(r['p_target_high'])}]",
                     "per_point": per_pt, "fresh": _pct(r["p_target_fresh"]) if r["validated"] else "",
                     "mark": "chosen" if r["chosen"] else ("today" if r["today"] else "")})
        prev = r
    return rows


def spread_sections(space: Space, ev: Evaluator, choice: Choice) -> tuple[list[dict[str, Any]],
                                                                         Any]:
    """The chosen plan's "What drives the spread" and "Where the plan breaks" sections (as
    the run report makes them) on its fresh-seed run, and its drivers table."""
    from sim.drivers import drivers_of

    res = chosen_results(space, ev, choice)
    sections = [x for x in uncertainty_sections(res) if x["id"] in SPREAD_SECTIONS]
    return sections, drivers_of(res)


def render_plan_report(space: Space, ev: Evaluator, outcome: SearchOutcome, choice: Choice,
                       table: Any, figures: dict[str, bytes], timing: dict[str, Any],
                       cur: str, sections: list[dict[str, Any]] | None = None) -> str:
    spec, sc = space.spec, space.scenario
    c = spec.cost
    n = choice.fresh_seeds
    arr = {k: ev.rows(d, n, fresh=True)["arr_end"].to_numpy()
           for k, d in (("today", choice.today.decision), ("chosen", choice.chosen.decision))}
    spread = [{"plan": k, **{q: money(float(np.percentile(v, int(q[1:]))), cur)
                            for q in ("p10", "p50", "p90")}} for k, v in arr.items()]
    decisions = [{"role": role, "month": m, "today": t, "chosen": x}
                 for (role, m), t, x in zip(space.keys, choice.today.decision,
                                            choice.chosen.decision, strict=True)]
    buys = []
    vt = choice.vs_today
    if vt:
        buys = [_diff_row("P(target)", vt["p_target"], "pp", cur),
                _diff_row(c, vt[c], "money", cur),
                _diff_row("ARR at the horizon", vt["arr_end"], "money", cur),
                _diff_row("bookings over the horizon", vt["bookings_total"], "money", cur)]
    dp = vt["p_target"].mean if vt else math.nan
    per_point = (money(vt[c].mean / (dp * 100), cur)
                 if vt and math.isfinite(dp) and dp > 0 and vt[c].mean > 0 else "")
    finalists = sorted(choice.finalists, key=lambda f: (f.fresh.cost[c], -f.fresh.p))
    fin_rows = [{"hires": space.label(f.decision), "search": f"{_pct(f.search.p)} ({f.search.n:,})",
                 "fresh": f"{_pct(f.fresh.p)} [{_pct(f.fresh.p_low)}, {_pct(f.fresh.p_high)}]",
                 "gap": _pp(f.fresh.p - f.search.p), "cost": _money(f.fresh.cost[c], cur),
                 "chosen": f.decision == choice.chosen.decision} for f in finalists]
    gap = [f.fresh.p - f.search.p for f in choice.finalists]
    runner = None
    if choice.runner_up is not None and choice.vs_runner_up:
        runner = {"hires": space.label(choice.runner_up.decision),
                  "rows": [_diff_row("P(target)", choice.vs_runner_up["p_target"], "pp", cur),
                           _diff_row(c, choice.vs_runner_up[c], "money", cur)]}
    figs = [{"file": k, "title": CAPTIONS[k][0], "caption": CAPTIONS[k][1],
             "uri": "data:image/png;base64," + base64.b64encode(v).decode("ascii")}
            for k, v in figures.items() if k in CAPTIONS]
    extra = []
    for x in sections or []:
        png = x.get("png")
        extra.append({**x, "uri": "data:image/png;base64," + base64.b64encode(png).decode("ascii")
                      if png else None})
    env = Environment(loader=FileSystemLoader(str(_HERE)), autoescape=select_autoescape(
        ["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    return env.get_template("plan.html.j2").render(
        sc=sc, spec=spec, motion=space.motion.name, cur=cur, cost=c,
        target=money(sc.target_arr or 0, cur), answer=answer_text(space, choice, cur),
        decisions=decisions, figs={f["file"]: f for f in figs}, front=_front_rows(space, table, cur),
        buys=buys, per_point=per_point, cheaper=bool(vt) and vt[c].mean < 0,
        spread=spread, finalists=fin_rows, extra=extra,
        mean_gap=_pp(float(np.mean(gap))) if gap else "n/a", runner=runner,
        work=work_rows(outcome, choice, timing), n_search=outcome.full, n_fresh=n,
        fresh_first=FRESH, caps={m: money(v, cur) for m, v in spec.budget.items()},
        n_evaluated=len(outcome.records), space_size=space.size(),
        css=_REPORT_CSS.read_text(encoding="utf-8"),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))


def write_outputs(target: Path, scenario_file: Path, space: Space, ev: Evaluator,
                  outcome: SearchOutcome, choice: Choice, timing: dict[str, Any],
                  cur: str) -> Path:
    """Write plan.yaml, frontier.csv, drivers.csv (the chosen plan's), report.html and
    figures/ into ``target`` atomically."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.writing-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        table = frontier_table(space, outcome, choice)
        table.to_csv(tmp / "frontier.csv", index=False)
        ch = choice.chosen.fresh
        header = (f"Hiring chosen by `revsim plan` for motion '{space.motion.name}': "
                  f"{space.label(choice.chosen.decision)}\n"
                  f"P(target) {ch.p:.1%} on {choice.fresh_seeds:,} fresh seeds; "
                  f"{space.spec.cost} {ch.cost[space.spec.cost]:,.0f} (mean). "
                  "Run it with `revsim run` on this file.")
        text = scenario_file.read_text(encoding="utf-8")
        (tmp / "plan.yaml").write_text(plan_yaml(text, space, choice, header), encoding="utf-8")
        front = [d for d, ok in zip(_decisions(table, space), table["efficient"], strict=True) if ok]
        figures = plan_figures(space, ev, outcome, choice, cur, front)
        sections, drivers = spread_sections(space, ev, choice)
        drivers.to_csv(tmp / "drivers.csv", index=False)
        for x in sections:
            if x.get("png"):
                figures[f"{x['id']}.png"] = x["png"]
        (tmp / "figures").mkdir()
        for name, data in figures.items():
            (tmp / "figures" / name).write_bytes(data)
        html = render_plan_report(space, ev, outcome, choice, table, figures, timing, cur,
                                  sections)
        (tmp / "report.html").write_text(html, encoding="utf-8")
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _decisions(table: Any, space: Space) -> list[tuple[int, ...]]:
    return [tuple(int(x) for x in row) for row in table[space.names].to_numpy()]
