"""Random streams for one replication (common random numbers).

Seed *i* of a scenario has one ``SeedSequence`` (the root seed's child *i*). Each
kind of draw gets its own stream, named by a string and keyed from that child,
so that:

- seed *i* of every motion sees the same streams (paired comparisons);
- changing one parameter does not reshuffle unrelated draws (arrivals are not
  disturbed by a change in churn, and vice versa);
- the streams depend only on (root seed, seed index, name): the result is the
  same whatever the worker or executor that runs the seed.
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["Streams"]


class Streams:
    """Named, independent ``numpy.random.Generator`` streams for one seed."""

    def __init__(self, root_seed: int, seed_index: int):
        self.root_seed = int(root_seed)
        self.seed_index = int(seed_index)
        self._cache: dict[str, np.random.Generator] = {}

    def get(self, *name: str) -> np.random.Generator:
        """The stream for ``name`` (created on first use, then reused)."""
        key = "/".join(name)
        gen = self._cache.get(key)
        if gen is None:
            ss = np.random.SeedSequence(
                self.root_seed, spawn_key=(self.seed_index, zlib.crc32(key.encode()))
            )
            gen = np.random.Generator(np.random.PCG64(ss))
            self._cache[key] = gen
        return gen
