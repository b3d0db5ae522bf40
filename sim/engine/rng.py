"""Random streams for one replication (common random numbers).

Seed *i* of a scenario has one ``SeedSequence`` (the root seed's child *i*). Each
kind of draw gets its own stream, named by a string and keyed from that child,
so that:

- seed *i* of every motion sees the same streams (paired comparisons);
- changing one parameter does not reshuffle unrelated draws (arrivals are not
  disturbed by a change in churn, and vice versa);
- the streams depend only on (root seed, seed index, name): the result is the
  same whatever the worker or executor that runs the seed.

Input draws and luck. The ``param`` and ``copula`` streams draw a seed's
uncertain inputs (``sim.engine.params``); every other stream is *luck*
(arrivals, stage outcomes, durations, values, churn...). A luck replicate
``luck=k`` (k >= 1) keys every luck stream from (seed index, name, k) instead,
and leaves the input streams as they are: the same seed re-run with the same
inputs and fresh luck. ``luck=0`` is the ordinary run.
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["INPUT_STREAMS", "Streams"]

INPUT_STREAMS = ("param", "copula")  # streams of per-seed input draws; the rest is luck


class Streams:
    """Named, independent ``numpy.random.Generator`` streams for one seed."""

    def __init__(self, root_seed: int, seed_index: int, luck: int = 0):
        if luck < 0:
            raise ValueError(f"luck replicate must be >= 0, got {luck}")
        self.root_seed = int(root_seed)
        self.seed_index = int(seed_index)
        self.luck = int(luck)
        self._cache: dict[str, np.random.Generator] = {}

    def get(self, *name: str) -> np.random.Generator:
        """The stream for ``name`` (created on first use, then reused)."""
        key = "/".join(name)
        gen = self._cache.get(key)
        if gen is None:
            spawn: tuple[int, ...] = (self.seed_index, zlib.crc32(key.encode()))
            if self.luck and name[0] not in INPUT_STREAMS:
                spawn = (*spawn, self.luck)
            ss = np.random.SeedSequence(self.root_seed, spawn_key=spawn)
            gen = np.random.Generator(np.random.PCG64(ss))
            self._cache[key] = gen
        return gen
