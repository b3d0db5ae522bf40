"""Per-stage competing risks: advance probability and durations from censored stays.

A deal in stage k either advances (probability p, after a lognormal time f1) or
is lost (1 - p, after a lognormal time f2). Each stay contributes

    advanced after t        p f1(t)
    lost after t            (1 - p) f2(t)
    still open after t      p S1(t) + (1 - p) S2(t)          (right-censored)
    advanced, zero length   p                                (a skipped stage)
    lost, time unknown      1 - p                            (a stale deal)

divided by ``p S1(a) + (1 - p) S2(a)`` when observation began ``a`` days into
the stay (left truncation). The maximum is found with ``scipy.optimize`` on
(logit p, mu1, log sigma1, mu2, log sigma2); timed advances and losses enter
through their weighted moments of log-days (the lognormal's sufficient
statistics), so one evaluation costs only the open and left-truncated stays.
With too few timed losses to fit f2 (fewer than ``MIN_TIMED``), both outcomes
share one duration (the engine's own model: a stage's duration does not depend
on how it ends), and then p is the share advancing among closed stays exactly.

The engine draws one duration per stage, so the scenario gets p and f1 (the
time to advance, which sets when deals win); f2 is reported beside it.
The same likelihood fits a snapshot without history, with the whole created-
to-close cycle as one "stage" (won = advanced).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from sim.fit.events import ADVANCED, LOST, OPEN

__all__ = ["MIN_TIMED", "Moments", "StageData", "StageFit", "fit_stage", "lognormal_mean_sd", "naive_lognormal",
           "negloglik", "nll_and_grad"]

MIN_TIMED = 10
_TINY = 1e-300


@dataclass
class StageFit:
    p: float
    mu: float  # log-days of the time to advance
    sigma: float
    mu_lost: float
    sigma_lost: float
    common: bool  # one duration for both outcomes
    n_advanced: int
    n_lost: int
    n_open: int
    n_skipped: int
    n_truncated: int
    theta: np.ndarray  # the optimiser's parameters (for the curvature)

    @property
    def duration_mean_sd(self) -> tuple[float, float]:
        return lognormal_mean_sd(self.mu, self.sigma)

    @property
    def lost_mean_sd(self) -> tuple[float, float]:
        return lognormal_mean_sd(self.mu_lost, self.sigma_lost)


def lognormal_mean_sd(mu: float, sigma: float) -> tuple[float, float]:
    m = math.exp(mu + sigma * sigma / 2)
    return m, m * math.sqrt(max(math.expm1(sigma * sigma), 0.0))


def _clean(days: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(days, 1e-3))  # same-day moves: a thousandth of a day


_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


@dataclass
class Moments:
    """A lognormal term's sufficient statistics: weight, weighted mean of log-days and the
    weighted sum of squares about it (the likelihood of timed stays needs nothing else)."""

    w: float
    mean: float
    ss: float

    @classmethod
    def of(cls, x: np.ndarray, w: np.ndarray) -> Moments:
        total = float(w.sum())
        if not total > 0:
            return cls(0.0, 0.0, 0.0)
        mean = float(np.multiply(w, x).sum()) / total
        d = x - mean
        return cls(total, mean, float(np.multiply(w, d * d).sum()))


@dataclass
class StageData:
    """A stage's stays split by kind once (log-days and weights), for fast likelihoods:
    timed advances and losses by their moments, open and left-truncated stays one by one."""

    adv: Moments
    lost: Moments
    w_adv_untimed: float
    w_lost_untimed: float
    x_open: np.ndarray
    w_open: np.ndarray
    x_trunc: np.ndarray
    w_trunc: np.ndarray

    @classmethod
    def of(cls, days: np.ndarray, event: np.ndarray, entry: np.ndarray,
           w: np.ndarray) -> StageData:
        timed = np.isfinite(days) & (days > 0)
        adv, lost, opn, tr = event == ADVANCED, event == LOST, event == OPEN, entry > 0
        x = _clean(np.where(timed, days, 1.0))
        return cls(Moments.of(x[adv & timed], w[adv & timed]),
                   Moments.of(x[lost & timed], w[lost & timed]),
                   float(w[adv & ~timed].sum()), float(w[lost & ~timed].sum()),
                   x[opn], w[opn], _clean(entry[tr]), w[tr])


def _dot(w: np.ndarray, x: np.ndarray) -> float:
    """``w @ x`` without BLAS: a threaded BLAS call costs more than the sum on a busy machine."""
    return float(np.multiply(w, x).sum())


def negloglik(theta: np.ndarray, data: StageData, common: bool) -> float:
    """Minus the weighted log-likelihood of the stays (see the module docstring)."""
    return nll_and_grad(theta, data, common)[0]


def nll_and_grad(theta: np.ndarray, data: StageData, common: bool) -> tuple[float, np.ndarray]:
    """Minus the log-likelihood and its gradient in (logit p, mu1, log s1[, mu2, log s2])."""
    p = float(special.expit(theta[0]))
    lp = -float(np.logaddexp(0.0, -theta[0]))  # log p
    lq = -float(np.logaddexp(0.0, theta[0]))  # log (1 - p)
    mu1, s1 = float(theta[1]), math.exp(float(theta[2]))
    mu2, s2 = (mu1, s1) if common else (float(theta[3]), math.exp(float(theta[4])))
    d = data
    g = np.zeros(5)
    w_a = d.adv.w + d.w_adv_untimed
    w_l = d.lost.w + d.w_lost_untimed
    ll = w_a * lp + w_l * lq
    g[0] = w_a * (1 - p) - w_l * p
    for m, mu, s, j in ((d.adv, mu1, s1, 1), (d.lost, mu2, s2, 3)):
        if m.w > 0:
            # sum of w z^2 and of w z, z = (x - mu) / s, from the moments about the mean
            zz = (m.ss + m.w * (m.mean - mu) ** 2) / (s * s)
            zs = m.w * (m.mean - mu) / s
            ll += -0.5 * zz - m.w * m.mean - m.w * (_HALF_LOG_2PI + math.log(s))
            g[j] += zs / s
            g[j + 1] += zz - m.w
    for x, w, sign in ((d.x_open, d.w_open, 1.0), (d.x_trunc, d.w_trunc, -1.0)):
        if not x.size:
            continue
        u1 = (mu1 - x) / s1
        a = special.log_ndtr(u1)
        r1 = np.exp(-0.5 * u1 * u1 - _HALF_LOG_2PI - a)  # phi / Phi
        if common:
            ll += sign * _dot(w, a)
            g[1] += sign * _dot(w, r1) / s1
            g[2] -= sign * _dot(w, (r1 * u1))
            continue
        u2 = (mu2 - x) / s2
        b = special.log_ndtr(u2)
        r2 = np.exp(-0.5 * u2 * u2 - _HALF_LOG_2PI - b)
        tot = np.logaddexp(lp + a, lq + b)
        pi1 = np.exp(lp + a - tot)
        pi2 = 1.0 - pi1
        ll += sign * _dot(w, tot)
        g[0] += sign * _dot(w, (pi1 * (1 - p) - pi2 * p))
        g[1] += sign * _dot(w, (pi1 * r1)) / s1
        g[2] -= sign * _dot(w, (pi1 * r1 * u1))
        g[3] += sign * _dot(w, (pi2 * r2)) / s2
        g[4] -= sign * _dot(w, (pi2 * r2 * u2))
    grad = np.array([g[0], g[1] + g[3], g[2] + g[4]]) if common else g
    return -ll, -grad


def _start(days: np.ndarray, event: np.ndarray) -> tuple[float, float, float, float, float]:
    timed = np.isfinite(days) & (days > 0)
    n_adv = int((event == ADVANCED).sum())
    n_lost = int((event == LOST).sum())
    p = (n_adv + 0.5) / (n_adv + n_lost + 1.0)
    xs = _clean(days[timed & (event != OPEN)]) if (timed & (event != OPEN)).any() else np.zeros(1)
    mu, s = float(np.mean(xs)), max(float(np.std(xs)), 0.1)
    xl = _clean(days[timed & (event == LOST)])
    mul, sl = (float(np.mean(xl)), max(float(np.std(xl)), 0.1)) if xl.size > 1 else (mu, s)
    return p, mu, s, mul, sl


def fit_stage(days: np.ndarray, event: np.ndarray, entry: np.ndarray,
              weights: np.ndarray | None = None, start: np.ndarray | None = None,
              common: bool | None = None) -> StageFit:
    """Maximum likelihood of (p, f1, f2) from a stage's stays (days; event; days at entry)."""
    w = np.ones(days.size) if weights is None else weights
    timed = np.isfinite(days) & (days > 0)
    n_timed_lost = int((w[timed & (event == LOST)] > 0).sum())
    n_timed_adv = int((w[timed & (event == ADVANCED)] > 0).sum())
    if common is None:
        common = n_timed_lost < MIN_TIMED or n_timed_adv < MIN_TIMED
    p0, mu, s, mul, sl = _start(days, event)
    if start is not None and start.size == (3 if common else 5):
        theta0 = start
    else:
        theta0 = np.array([special.logit(p0), mu, math.log(s)] +
                          ([] if common else [mul, math.log(sl)]))
    if n_timed_adv + n_timed_lost == 0:
        theta0[0] = special.logit(p0)
        theta = theta0
    else:
        data = StageData.of(days, event, entry, w)
        res = optimize.minimize(nll_and_grad, theta0, args=(data, common), jac=True,
                                method="TNC",
                                bounds=[(-30, 30), (-7, 15), (-5, 3)] +
                                ([] if common else [(-7, 15), (-5, 3)]))
        theta = res.x
    p = float(special.expit(theta[0]))
    mu1, s1 = float(theta[1]), math.exp(float(theta[2]))
    mu2, s2 = (mu1, s1) if common else (float(theta[3]), math.exp(float(theta[4])))
    return StageFit(p, mu1, s1, mu2, s2, common,
                    int(w[event == ADVANCED].sum()), int(w[event == LOST].sum()),
                    int(w[event == OPEN].sum()),
                    int(w[(event == ADVANCED) & ~timed].sum()), int(w[entry > 0].sum()),
                    np.asarray(theta, dtype=float))


def naive_lognormal(days: np.ndarray) -> tuple[float, float]:
    """(mu, sigma) of a lognormal fitted to completed times only (what a spreadsheet does)."""
    x = _clean(days[np.isfinite(days) & (days > 0)])
    return (float(x.mean()), float(x.std())) if x.size else (math.nan, math.nan)
