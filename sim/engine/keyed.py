"""Uniforms keyed by an entity and a counter (common random numbers per customer).

A stream drawn as a block (``rng.random(n)`` for the n customers due this
month) ties a draw to a position in the block, not to a customer: one extra
churn upstream shifts every later customer's draw. Here a customer carries a
64-bit key fixed when it signs, and its k-th draw of a kind is a pure function
of (key, kind, k): output number ``kind x 2**32 + k`` of the SplitMix64 stream
seeded with the key (Steele, Lea and Flood, "Fast splittable pseudorandom number
generators", OOPSLA 2014; the generator of Java's ``SplittableRandom``). The
same customer therefore sees the same renewal draws whatever else happens in
the run, and a change in churn moves churn only.

Everything is vectorised over numpy ``uint64`` arrays (wrap-around arithmetic).
"""

from __future__ import annotations

import numpy as np

__all__ = ["EARLY", "EARLY_TIME", "CHURN", "EXPAND", "CONTRACT", "mix64", "keyed_uniforms",
           "entity_keys"]

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53

# kinds of draw (independent sub-streams of one customer's key)
EARLY = 1  # does the customer churn in its early window
EARLY_TIME = 2  # when in the window
CHURN = 3  # churn at its k-th renewal
EXPAND = 4  # expansion at its k-th renewal
CONTRACT = 5  # contraction at its k-th renewal


def mix64(z: np.ndarray) -> np.ndarray:
    """The SplitMix64 output of state ``z``: the finaliser of ``z + golden`` (a bijection
    of uint64)."""
    with np.errstate(over="ignore"):
        z = np.asarray(z, dtype=np.uint64) + GOLDEN  # (a new array: the input is left alone)
        z ^= z >> _S30
        z *= _M1
        z ^= z >> _S27
        z *= _M2
        z ^= z >> _S31
    return z


def entity_keys(base: int, ids: np.ndarray) -> np.ndarray:
    """Keys of the entities ``ids`` (non-negative integers) under a base seed."""
    return mix64(mix64(np.asarray(ids, dtype=np.int64).astype(np.uint64)) ^ np.uint64(base))


def keyed_uniforms(keys: np.ndarray, kind: int, counter: np.ndarray | int = 0) -> np.ndarray:
    """Uniforms on [0, 1): one per key, draw ``counter`` of sub-stream ``kind``.

    Each key seeds its own SplitMix64 stream (state ``key + n x golden``); draw
    ``counter`` of kind ``kind`` is its output number ``n = kind x 2**32 + counter``,
    so no two draws of one entity share a state.
    """
    n = np.asarray(counter, dtype=np.int64).astype(np.uint64) + np.uint64(kind << 32)
    with np.errstate(over="ignore"):
        z = mix64(keys + n * GOLDEN)
    return (z >> _S11).astype(np.float64) * _TO_UNIT
