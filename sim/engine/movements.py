"""Expansion and contraction of a retained customer at a renewal: two separate movements.

At a renewal of term ``tau`` years a customer that stays expands with probability
``p_e = 1 - (1 - expansion_share) ** tau`` by ``((1 + e) ** tau - 1) / p_e`` of its
ARR, and, from a separate draw, contracts with probability
``p_c = 1 - (1 - contraction_share) ** tau`` by ``(1 - (1 - c) ** tau) / p_c`` of
it (``e``, ``c`` the annual rates). The contraction share is at least ``c``, so a
contraction never takes more than the whole ARR. Both movements are measured on
the ARR before the renewal, ``new = old x (1 + expansion - contraction)``, so the
expected movements of a year are ``e`` and ``c`` of the retained ARR whatever the
shares; a share of 1 (the default) moves every retained customer by exactly the
rate, a smaller one makes the movements lumpier (fewer customers, larger moves).

Netting the two into one multiplier per customer would hide contraction whenever
expansion is larger, and GRR would never see it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.engine.keyed import CONTRACT, EXPAND, keyed_uniforms
from sim.engine.params import num
from sim.scenario.schema import Retention

__all__ = ["movement_terms", "renewal_movements"]


def movement_terms(retention: Retention) -> dict[str, float]:
    """A customer's expansion and contraction terms from the retention it signed on."""
    c = num(retention.contraction_rate_annual)
    return {"expand": num(retention.expansion_rate_annual),
            "contract": c,
            "expand_share": num(retention.expansion_share),
            "contract_share": max(num(retention.contraction_share), c)}


def _sizes(rate_size: np.ndarray, share: np.ndarray, tau: np.ndarray, C: Any, stay: np.ndarray,
           kind: int, k: np.ndarray) -> np.ndarray:
    """Each customer's movement as a share of its ARR: the whole expected size when its
    share is 1, else size / p with probability p from its own draw, 0 otherwise."""
    lumpy = share < 1.0
    if not lumpy.any():
        return rate_size
    p = 1.0 - (1.0 - share) ** tau
    hit = keyed_uniforms(C.key[stay], kind, k) < p
    return np.where(lumpy, np.where(hit, rate_size / np.maximum(p, 1e-300), 0.0), rate_size)


def renewal_movements(C: Any, stay: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expansion and contraction ($ of ARR) of the customers at rows ``stay`` of the
    customer table ``C`` at their renewal number ``k`` (each one's own draws: its
    ``key``, ``sim.engine.keyed``). Reads only the columns a movement needs."""
    old = C.arr[stay]
    tau = C.term[stay] / 365.0
    up = down = np.zeros(old.size)
    e = C.expand[stay]
    if e.any():
        up = old * _sizes((1.0 + e) ** tau - 1.0, C.expand_share[stay], tau, C, stay, EXPAND, k)
    c = C.contract[stay]
    if c.any():
        size = _sizes(1.0 - (1.0 - c) ** tau, C.contract_share[stay], tau, C, stay, CONTRACT, k)
        down = old * np.minimum(size, 1.0)
    return up, down
