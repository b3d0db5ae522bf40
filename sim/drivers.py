"""What drives the spread: each uncertain input's share of a metric's variance, and luck's.

For a metric Y of a motion (one value per seed) and its uncertain inputs X_i
(one draw per seed, ``Results.inputs``):

- an input's **first-order share** is Var(E[Y | X_i]) / Var(Y), the fraction of
  the spread across seeds that knowing X_i alone would remove. It is estimated
  from the seeds already run (a given-data estimator): the seeds are put in
  equal-count bins of X_i (about sqrt(n) bins), and the share is the bias-corrected
  between-bin share of the sum of squares, (SSB - (k - 1) MSW) / SST ("epsilon
  squared"); the correction removes the part of the between-bin spread that the
  noise of each bin's mean alone would give.
- **luck's share** is E[Var(Y | all inputs)] / Var(Y), the part no knowledge of
  the inputs removes. The first seeds (``Results.luck_runs``, min(n, 100)) were
  run a second time with the same inputs and fresh luck (``luck`` replicate 1):
  half the mean squared difference of the pairs estimates E[Var(Y | inputs)].

Shares are clipped to [0, 1]. They need not sum to 1: what is left is the
interplay of inputs (the share of E[Y | inputs] no single input explains). A
motion without uncertain inputs has luck's share 1 (Var(Y | inputs) = Var(Y)).
Seeds where the metric is not finite (a payback that never comes) are left out;
a metric that does not vary, or has fewer than ``MIN_SEEDS`` finite seeds, gets
no share (empty).

This module also answers the report's two questions about the inputs: which
input decides a compared pair (``learn_first``: first-order shares of the
variance of the paired difference), and where the plan misses its ARR target
(``plan_breaks``: a depth-2 decision tree, scenario discovery).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.metrics import HEADLINE
from sim.runner.results import Results

__all__ = [
    "drivers_of",
    "DRIVER_METRICS",
    "LUCK",
    "MIN_SEEDS",
    "Breaks",
    "LearnFirst",
    "drivers_table",
    "first_order_share",
    "input_label",
    "learn_first",
    "luck_share",
    "plan_breaks",
]

LUCK = "luck"
MIN_SEEDS = 20
DRIVER_METRICS = tuple(dict.fromkeys((*HEADLINE, "new_customers")))


def _bins(n: int) -> int:
    return int(min(50, max(2, round(math.sqrt(n)))))


def first_order_share(x: np.ndarray, y: np.ndarray, bins: int | None = None) -> float:
    """Var(E[Y | X]) / Var(Y) from paired draws, by equal-count bins of ``x``.

    The between-bin sum of squares less what the noise of the bin means gives on
    its own ((k - 1) x the within-bin mean square), over the total sum of squares;
    clipped to [0, 1]. NaN when ``y`` does not vary or there are fewer than
    ``MIN_SEEDS`` pairs.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = y.size
    if n < MIN_SEEDS:
        return math.nan
    sst = float(((y - y.mean()) ** 2).sum())
    if sst <= 0:
        return math.nan
    b = bins or _bins(n)
    edges = np.quantile(x, np.linspace(0, 1, b + 1)[1:-1])
    which = np.searchsorted(edges, x, side="right")
    counts = np.bincount(which, minlength=b)
    sums = np.bincount(which, weights=y, minlength=b)
    used = counts > 0
    k = int(used.sum())
    if k < 2:
        return 0.0
    means = sums[used] / counts[used]
    ssb = float((counts[used] * (means - y.mean()) ** 2).sum())
    msw = (sst - ssb) / max(n - k, 1)
    return float(min(max((ssb - (k - 1) * msw) / sst, 0.0), 1.0))


def luck_share(y: np.ndarray, y_first: np.ndarray, y_again: np.ndarray) -> float:
    """E[Var(Y | inputs)] / Var(Y): half the mean squared difference of each pair
    (``y_first``, ``y_again``: the same seeds and inputs, two luck replicates) over
    the variance of ``y`` across all seeds; clipped to [0, 1]."""
    y = np.asarray(y, dtype=float)
    y = y[np.isfinite(y)]
    a, b = np.asarray(y_first, dtype=float), np.asarray(y_again, dtype=float)
    ok = np.isfinite(a) & np.isfinite(b)
    if y.size < MIN_SEEDS or ok.sum() < 2:
        return math.nan
    var = float(y.var(ddof=1))
    if var <= 0:
        return math.nan
    within = 0.5 * float(np.mean((a[ok] - b[ok]) ** 2))
    return float(min(max(within / var, 0.0), 1.0))


def _inputs_of(res: Results, motion: str) -> pd.DataFrame:
    """The motion's inputs table, by seed, without the columns it does not have."""
    tab = res.inputs
    if tab.empty or "motion" not in tab:
        return pd.DataFrame()
    rows = tab[tab["motion"] == motion].drop(columns="motion").set_index("seed").sort_index()
    return rows.dropna(axis=1, how="all")


def _metric_by_seed(runs: pd.DataFrame, motion: str, metric: str) -> pd.Series:
    if runs.empty or metric not in runs:
        return pd.Series(dtype=float)
    rows = runs[runs["motion"] == motion]
    return rows.set_index("seed")[metric].astype(float).sort_index()


def drivers_table(res: Results) -> pd.DataFrame:
    """``motion, metric, driver, share``: one row per motion x metric x driver (each
    uncertain input by key path, then ``luck``); inputs in order of share."""
    rows: list[dict[str, object]] = []
    for m in res.motions():
        x = _inputs_of(res, m)
        for metric in DRIVER_METRICS:
            y = _metric_by_seed(res.runs, m, metric)
            if y.empty:
                continue
            shares = []
            for key in x.columns:
                xi = x[key].reindex(y.index).to_numpy()
                shares.append((key, first_order_share(xi, y.to_numpy())))
            shares.sort(key=lambda kv: (-(kv[1] if math.isfinite(kv[1]) else -1.0), kv[0]))
            if x.columns.size == 0:
                var = float(y[np.isfinite(y)].var(ddof=1)) if np.isfinite(y).sum() > 1 else 0.0
                luck = 1.0 if var > 0 else math.nan
            else:
                again = _metric_by_seed(res.luck_runs, m, metric)
                first = y.reindex(again.index)
                luck = luck_share(y.to_numpy(), first.to_numpy(), again.to_numpy())
            for key, share in [*shares, (LUCK, luck)]:
                rows.append({"motion": m, "metric": metric, "driver": key, "share": share})
    return pd.DataFrame(rows, columns=["motion", "metric", "driver", "share"])


# -- words for inputs -------------------------------------------------------------------

_SECTIONS = {"retention", "costs", "deal", "queue", "qualification", "handoff", "forecast",
             "conversion", "self_serve"}


def input_label(key: str) -> str:
    """A short reading of a key path: ``stages.negotiation.advance`` -> 'negotiation advance'."""
    parts = key.split(".")
    phase = ""
    if parts[0] == "phases" and len(parts) > 2:
        phase, parts = f" (phase {int(parts[1]) + 1})", parts[2:]
    tail = parts[-2:] if len(parts) > 1 and parts[-2] not in _SECTIONS else parts[-1:]
    return " ".join(p.replace("_", " ") for p in tail) + phase


def _is_multiplier(key: str) -> bool:
    """A per-seed level or a multiplier/factor: a scale around 1, not a share."""
    last = key.rsplit(".", 1)[-1]
    return last == "level" or last.endswith(("multiplier", "factor"))


def _value(x: float, key: str = "") -> str:
    if _is_multiplier(key):
        return f"{x:.3g}x"
    if 0 < abs(x) < 1:
        return f"{x:.1%}" if abs(x) >= 0.001 else f"{x:.3g}"
    return f"{x:,.3g}" if abs(x) < 1000 else f"{x:,.0f}"


# -- what to learn first ------------------------------------------------------------------

_METRIC_WORDS = {"arr_end": "end ARR", "bookings_total": "bookings",
                 "new_customers": "new customers", "retained_revenue": "retained revenue"}


@dataclass
class LearnFirst:
    """Which input most decides a compared pair on ``metric``."""

    a: str
    b: str
    metric: str
    driver: str | None  # key path of the input that explains most of the difference
    share: float  # its first-order share of the variance of the paired difference
    luck: float  # luck's share of that variance (NaN if not estimated)
    shares: dict[str, float]

    def sentence(self) -> str:
        if self.driver is None or not math.isfinite(self.share) or self.share <= 0:
            why = ("luck" if math.isfinite(self.luck) and self.luck >= 0.5 else
                   "luck and the interplay of inputs")
            return (f"Whether {self.a} beats {self.b} on "
                    f"{_METRIC_WORDS.get(self.metric, self.metric)} depends on no single "
                    f"uncertain input; the seed-to-seed difference is mostly {why}.")
        head = f"Whether {self.a} beats {self.b} on {_METRIC_WORDS.get(self.metric, self.metric)}"
        x, share = input_label(self.driver), f"{self.share:.0%}"
        if self.share >= 0.5:
            text = (f"{head} depends mostly on {x} ({share} of the seed-to-seed difference); "
                    "measuring it would settle most of the choice.")
        elif self.share >= 0.2:
            text = (f"{head} depends more on {x} than on any other input ({share} of the "
                    "seed-to-seed difference); measuring it would settle part of the choice, "
                    "not most of it.")
        else:
            text = (f"{head} depends on no input much: {x}, the largest, explains {share} of "
                    "the seed-to-seed difference; measuring it would leave most of the choice "
                    "open.")
        if math.isfinite(self.luck) and self.luck >= 0.2:
            text += f" Luck accounts for about {self.luck:.0%}."
        return text


def learn_first(res: Results, a: str, b: str, metric: str = "arr_end") -> LearnFirst:
    """First-order shares of Var(Y_a - Y_b) across seeds (paired by seed) for each input
    of either motion. An input both motions draw alike (same key, same values: common
    random numbers) is one driver; one that differs is counted per motion
    (``a:key``)."""
    ya = _metric_by_seed(res.runs, a, metric)
    yb = _metric_by_seed(res.runs, b, metric)
    d = (ya - yb).dropna()
    d = d[np.isfinite(d)]
    xa, xb = _inputs_of(res, a), _inputs_of(res, b)
    cols: dict[str, pd.Series] = {}
    for key in dict.fromkeys([*xa.columns, *xb.columns]):
        in_a, in_b = key in xa, key in xb
        if in_a and in_b and np.allclose(xa[key].to_numpy(), xb[key].reindex(xa.index).to_numpy(),
                                         equal_nan=True):
            cols[key] = xa[key]
        else:
            if in_a:
                cols[key if not in_b else f"{a}:{key}"] = xa[key]
            if in_b:
                cols[key if not in_a else f"{b}:{key}"] = xb[key]
    shares = {k: first_order_share(v.reindex(d.index).to_numpy(), d.to_numpy())
              for k, v in cols.items()}
    luck = math.nan
    if not cols and d.size > 1 and d.var() > 0:
        luck = 1.0
    elif not res.luck_runs.empty:
        da = (_metric_by_seed(res.luck_runs, a, metric)
              - _metric_by_seed(res.luck_runs, b, metric)).dropna()
        luck = luck_share(d.to_numpy(), d.reindex(da.index).to_numpy(), da.to_numpy())
    finite = {k: v for k, v in shares.items() if math.isfinite(v)}
    best = max(sorted(finite), key=lambda k: finite[k]) if finite else None
    return LearnFirst(a, b, metric, best, finite.get(best, math.nan) if best else math.nan,
                      luck, shares)


# -- where the plan breaks ----------------------------------------------------------------


@dataclass
class Breaks:
    """The box of inputs where a motion's seeds miss the ARR target most."""

    motion: str
    target: float
    miss_rate: float  # share of all seeds that miss
    conditions: list[tuple[str, str, float]]  # (key, "below" | "above", threshold)
    density: float  # share of the seeds inside the box that miss
    coverage: float  # share of the misses inside the box
    box_share: float  # share of all seeds inside the box

    def sentence(self) -> str:
        if not self.conditions:
            if self.miss_rate <= 0:
                return f"{self.motion} reaches the target in every seed."
            if self.miss_rate >= 1:
                return f"{self.motion} misses the target in every seed, whatever its inputs."
            return (f"{self.motion} misses in {self.miss_rate:.0%} of seeds, and no simple box of "
                    "its uncertain inputs holds most of those misses: they come from luck or "
                    "from many inputs at once.")
        where = " and ".join(f"{input_label(k)} is {side} {_value(t, k)}"
                             for k, side, t in self.conditions)
        return (f"{self.motion} misses the target in {self.density:.0%} of seeds where {where}; "
                f"those are {self.box_share:.0%} of all seeds and hold {self.coverage:.0%} of "
                f"the misses (it misses in {self.miss_rate:.0%} of all seeds).")


def plan_breaks(res: Results, motion: str, target: float, max_depth: int = 2) -> Breaks:
    """Scenario discovery: a decision tree of depth <= ``max_depth`` (scikit-learn) on
    the seeds' inputs, classifying the seeds that end below ``target`` ARR. Every node
    below the root is a box of one or two conditions; the box chosen maximises
    coverage x density (share of the misses it holds x share of its seeds that miss),
    among boxes denser in misses than the seeds overall; a box of fewer conditions wins
    a tie."""
    y = _metric_by_seed(res.runs, motion, "arr_end")
    miss = (y < target).to_numpy()
    rate = float(miss.mean()) if miss.size else math.nan
    none = Breaks(motion, target, rate, [], math.nan, math.nan, math.nan)
    x = _inputs_of(res, motion).reindex(y.index)
    x = x.loc[:, x.notna().all()]
    if x.columns.size == 0 or miss.size < MIN_SEEDS or miss.all() or not miss.any():
        return none
    from sklearn.tree import DecisionTreeClassifier

    X = x.to_numpy(dtype=float)
    tree = DecisionTreeClassifier(max_depth=max_depth, min_samples_leaf=max(5, miss.size // 20),
                                  random_state=0).fit(X, miss)
    t = tree.tree_
    best: tuple[float, int, list[tuple[str, str, float]], np.ndarray] | None = None
    stack: list[tuple[int, list[tuple[str, str, float]], np.ndarray]] = [
        (0, [], np.ones(miss.size, dtype=bool))]
    while stack:
        node, conds, inside = stack.pop()
        if conds and inside.any():
            density = float(miss[inside].mean())
            coverage = float(miss[inside].sum() / miss.sum())
            score = coverage * density
            key = (score, -len(conds))
            if density > rate and (best is None or key > (best[0], -len(best[2]))):
                best = (score, node, conds, inside)
        left, right = t.children_left[node], t.children_right[node]
        if left == -1:
            continue
        f, thr = int(t.feature[node]), float(t.threshold[node])
        col = x.columns[f]
        stack.append((right, [*conds, (col, "above", thr)], inside & (X[:, f] > thr)))
        stack.append((left, [*conds, (col, "below", thr)], inside & (X[:, f] <= thr)))
    if best is None:
        return none
    _, _, conds, inside = best
    return Breaks(motion, target, rate, _merge(conds), float(miss[inside].mean()),
                  float(miss[inside].sum() / miss.sum()), float(inside.mean()))


def _merge(conds: list[tuple[str, str, float]]) -> list[tuple[str, str, float]]:
    """Two conditions on one input and side become the tighter one."""
    out: dict[tuple[str, str], float] = {}
    for k, side, t in conds:
        prev = out.get((k, side))
        out[(k, side)] = t if prev is None else (min(prev, t) if side == "below" else max(prev, t))
    return [(k, side, t) for (k, side), t in out.items()]


def drivers_of(res: Results) -> pd.DataFrame:
    """The run's drivers table: saved or estimated before, else estimated now (and kept)."""
    d = res.drivers
    if d is None:
        d = drivers_table(res)
        res.set_drivers(d)
    return d
