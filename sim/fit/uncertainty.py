"""What the data does not pin down: replicates of every fitted parameter.

- **Bootstrap over deals** (the default up to ``max_bootstrap_deals``): each
  replicate draws the deals with replacement (resampling counts used as
  weights, so a deal's whole history moves with it) and refits the stages,
  the created-to-close cycle and the deal size, starting from the full fit.
  Replicate ``r`` draws from its own stream, seeded by (``seed``, ``r``), and
  the replicates run in forked worker processes (``workers``, one per core by
  default): the replicates are the same whatever the number of workers.
- **The likelihood's curvature** (larger exports, where a bootstrap of every
  stage would be slow and the normal approximation is excellent): each stage's
  parameters are drawn from a normal with the inverse of the observed
  information (central differences of the likelihood's analytic gradient),
  the deal size's (mu, sigma) from their asymptotic normal.
- **Arrivals**: the GLM's own parameter covariance (log rate and log growth,
  jointly normal).
- **Churn**: a bootstrap over customers.

The 90% interval of a parameter is the 5th to 95th percentile of its replicates.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
from scipy import special

from sim.fit.churn import fit_churn
from sim.fit.motion_fit import FitOptions, MotionFit, Uncertainty
from sim.fit.stages import StageData, lognormal_mean_sd, nll_and_grad

__all__ = ["bootstrap", "replicate_weights"]

Refit = Callable[[MotionFit, np.ndarray], dict[str, float]]
PARALLEL_MIN_WORK = 20_000  # deals x replicates below which forking workers is not worth it


def _collect(rows: list[dict[str, float]]) -> dict[str, np.ndarray]:
    names = sorted({k for r in rows for k in r})
    return {k: np.array([r.get(k, np.nan) for r in rows], dtype=float) for k in names}


def replicate_weights(n: int, seed: int, r: int) -> np.ndarray:
    """Replicate ``r``'s resampling counts of ``n`` deals (n draws with replacement), from
    its own stream (``seed``, ``r``): the same whichever worker runs it."""
    rng = np.random.default_rng([seed, r])
    return np.bincount(rng.integers(0, n, n), minlength=n).astype(float)


_JOB: tuple[MotionFit, Refit, int, int] | None = None  # a worker's fit (inherited by fork)


def _start_worker(fit: MotionFit, refit: Refit, n: int, seed: int) -> None:
    global _JOB
    _JOB = (fit, refit, n, seed)


def _replicates(rs: list[int]) -> list[dict[str, float]]:
    assert _JOB is not None
    fit, refit, n, seed = _JOB
    return [refit(fit, replicate_weights(n, seed, r)) for r in rs]


def _bootstrap_deals(fit: MotionFit, refit: Refit, n: int, B: int, seed: int,
                     workers: int) -> list[dict[str, float]]:
    """The B replicates in order, over ``workers`` forked processes (inline with one)."""
    workers = max(1, min(workers, B))
    if workers == 1 or n * B < PARALLEL_MIN_WORK:
        return [refit(fit, replicate_weights(n, seed, r)) for r in range(B)]
    chunks = [list(range(B))[i::workers * 4] for i in range(workers * 4)]
    chunks = [c for c in chunks if c]
    # fork: the workers inherit the fit (nothing pickled but replicate numbers and rows)
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"),
                             initializer=_start_worker, initargs=(fit, refit, n, seed)) as ex:
        done = list(ex.map(_replicates, chunks))
    rows: list[dict[str, float] | None] = [None] * B
    for c, out in zip(chunks, done, strict=True):
        for r, row in zip(c, out, strict=True):
            rows[r] = row
    return [r for r in rows if r is not None]


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def bootstrap(fit: MotionFit, opt: FitOptions, refit: Refit) -> Uncertainty:
    B = int(opt.bootstrap)
    rng = np.random.default_rng(opt.seed)
    out: dict[str, np.ndarray] = {}
    if B <= 0:
        return Uncertainty("none", {})
    n = len(fit.export.deals)
    if n <= opt.max_bootstrap_deals:
        method = f"bootstrap over deals ({B} replicates)"
        workers = opt.workers if opt.workers > 0 else default_workers()
        out.update(_collect(_bootstrap_deals(fit, refit, n, B, opt.seed, workers)))
    else:
        method = f"likelihood curvature ({B} draws; {n:,} deals)"
        out.update(_curvature(fit, B, rng))
    out.update(_arrival_draws(fit, B, rng))
    if fit.tenures is not None and fit.churn is not None and fit.tenures.customers > 1:
        t = fit.tenures
        start = np.array([math.log(fit.churn.a), math.log(fit.churn.b)])
        rows = []
        for _ in range(B):
            w = rng.multinomial(t.customers, np.full(t.customers, 1.0 / t.customers)).astype(float)
            c = fit_churn(t, w, start)
            rows.append({"early_churn": c.early_churn, "renewal_churn": c.renewal_churn,
                         "sbg_a": c.a, "sbg_b": c.b})
        out.update(_collect(rows))
        method += f"; churn: bootstrap over customers ({B})"
    return Uncertainty(method, out)


def _stage_draws(s: Any, days: np.ndarray, event: np.ndarray, entry: np.ndarray, B: int,
                 rng: np.random.Generator) -> np.ndarray:
    data = StageData.of(days, event, entry, np.ones(days.size))
    h = hessian(s.theta, lambda th: nll_and_grad(th, data, s.common)[1])
    try:
        cov = np.linalg.inv(h)
        cov = (cov + cov.T) / 2
        return rng.multivariate_normal(s.theta, cov, size=B, method="eigh")
    except np.linalg.LinAlgError:
        return np.tile(s.theta, (B, 1))


def hessian(theta: np.ndarray, grad: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """The observed information: central differences of the analytic gradient, symmetrised."""
    k = theta.size
    h = np.zeros((k, k))
    for j in range(k):
        step = 1e-4 * max(1.0, abs(float(theta[j])))
        e = np.zeros(k)
        e[j] = step
        h[:, j] = (grad(theta + e) - grad(theta - e)) / (2 * step)
    return (h + h.T) / 2


def _curvature(fit: MotionFit, B: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    if fit.stages is not None and fit.episodes is not None:
        eps = fit.episodes
        wins = np.ones(B)
        for k, (name, s) in enumerate(zip(fit.stage_names, fit.stages, strict=True)):
            sel = eps.stage == k
            th = _stage_draws(s, eps.days[sel], eps.event[sel], eps.entry[sel], B, rng)
            p = special.expit(th[:, 0])
            ms = np.array([lognormal_mean_sd(m, math.exp(ls)) for m, ls in th[:, 1:3]])
            out[f"{name}.advance"] = p
            out[f"{name}.duration_mean"], out[f"{name}.duration_sd"] = ms[:, 0], ms[:, 1]
            wins = wins * p
        out["win_rate"] = wins
    if fit.acv is not None:
        a = fit.acv
        mu = rng.normal(a.mu, a.sigma / math.sqrt(a.n), B)
        sg = np.abs(rng.normal(a.sigma, a.sigma / math.sqrt(2 * a.n), B))
        ms = np.array([lognormal_mean_sd(m, s) for m, s in zip(mu, sg, strict=True)])
        out["acv_mean"], out["acv_sd"] = ms[:, 0], ms[:, 1]
    return out


def _arrival_draws(fit: MotionFit, B: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    a = fit.arrivals
    if a.cov is None or not np.all(np.isfinite(a.cov)):
        return {}
    draws = rng.multivariate_normal([a.log_rate, a.log_growth], a.cov, size=B, method="eigh")
    return {"leads_per_month": np.exp(draws[:, 0]), "growth_per_month": np.expm1(draws[:, 1])}
