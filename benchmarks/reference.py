"""The yardstick of ``make bench``: the standard workload as a process-per-lead simpy model.

This is the model a simpy tutorial would write for ``benchmarks/standard.yaml``,
with no attempt at speed: every lead is a simpy process that draws its own
durations and outcomes from a numpy ``Generator`` as it goes, AE capacity is a
``simpy.Container`` of free deal slots, and every customer is a process that
decides its churn at each monthly anniversary. The engine (``sim``) simulates
the same workload; ``benchmarks/run.py`` compares the two for speed and for
agreement of the results.

The workload:

- horizon 36 months (a month is 365/12 days);
- inbound leads arrive as a Poisson process, 300 a month (constant rate);
- ``qualify``, no owner: exponential, mean 7 days, advance 0.15 (a lead that
  passes becomes an opportunity);
- ``discovery`` (mean 20 d, advance 0.6), ``proposal`` (30 d, 0.6),
  ``negotiation`` (30 d, 0.65), all exponential, all owned by an AE: a deal
  takes one AE slot when it is granted one at discovery (FIFO queue when none
  is free, no reneging) and holds it until it is lost or won;
- AEs: 5 tenured and fully ramped at t=0, one hire at months 3, 6, ..., 33;
  each carries at most ``floor(15 * productivity)`` deals, productivity rising
  linearly from 0.25 at hire to 1.0 six months later;
- a won deal becomes a customer with ACV ~ lognormal(mean 25,000, sd 10,000),
  on a monthly contract, churning with probability 0.01 at each monthly
  anniversary.

``run_reference(seed)`` returns, for one replication: ``leads``,
``opportunities`` (leads that passed qualify), ``wins``, ``bookings`` (sum of
the ACV of the wins) and ``arr_end`` (ARR of the customers live at the end).
Everything is counted only if it happens before the horizon.
"""

from __future__ import annotations

import math

import numpy as np
import simpy

__all__ = ["run_reference", "WORKLOAD"]

MONTH = 365.0 / 12.0  # days

WORKLOAD = {
    "horizon_months": 36,
    "leads_per_month": 300.0,
    "qualify": (7.0, 0.15),  # (mean days, advance probability)
    "ae_stages": [("discovery", 20.0, 0.6), ("proposal", 30.0, 0.6), ("negotiation", 30.0, 0.65)],
    "ae_start": 5,
    "ae_hire_months": list(range(3, 36, 3)),  # one hire at months 3, 6, ..., 33
    "ae_max_deals": 15,
    "ramp_months": 6.0,
    "ramp_start": 0.25,
    "acv_mean": 25_000.0,
    "acv_sd": 10_000.0,
    "monthly_churn": 0.01,
}


class Model:
    """One replication: the environment, the AE slots, the counters."""

    def __init__(self, seed: int, w: dict = WORKLOAD):
        self.w = w
        self.rng = np.random.default_rng(seed)
        self.env = simpy.Environment()
        self.horizon = w["horizon_months"] * MONTH
        # free AE deal slots; capacity grows as AEs are hired and ramp
        self.ae_slots = simpy.Container(self.env, capacity=math.inf, init=0)
        sigma2 = math.log(1.0 + (w["acv_sd"] / w["acv_mean"]) ** 2)
        self.acv_mu = math.log(w["acv_mean"]) - sigma2 / 2.0
        self.acv_sigma = math.sqrt(sigma2)
        self.leads = 0
        self.opportunities = 0
        self.wins = 0
        self.bookings = 0.0
        self.customers: list[list[float]] = []  # [acv, live (1.0 / 0.0)]

    # -- AEs ------------------------------------------------------------------

    def ae(self, hire: float, tenured: bool):
        """One AE: adds deal slots to the pool as the AE is hired and ramps."""
        env, w = self.env, self.w
        m = w["ae_max_deals"]
        if tenured:
            yield self.ae_slots.put(m)
            return
        yield env.timeout(hire - env.now)
        rs, ramp_days = w["ramp_start"], w["ramp_months"] * MONTH
        have = math.floor(m * rs + 1e-9)
        if have > 0:
            yield self.ae_slots.put(have)
        for c in range(have + 1, m + 1):
            # productivity rs + (1 - rs) * (t - hire) / ramp_days reaches c / m at:
            t = hire + (c / m - rs) / (1.0 - rs) * ramp_days
            if t > env.now:
                yield env.timeout(t - env.now)
            yield self.ae_slots.put(1)

    # -- leads ----------------------------------------------------------------

    def arrivals(self):
        """Inbound leads: a Poisson process, one simpy process per lead."""
        env, rng = self.env, self.rng
        mean_gap = MONTH / self.w["leads_per_month"]
        while True:
            yield env.timeout(rng.exponential(mean_gap))
            self.leads += 1
            env.process(self.lead())

    def lead(self):
        env, rng = self.env, self.rng
        mean, advance = self.w["qualify"]
        yield env.timeout(rng.exponential(mean))
        if rng.random() >= advance:
            return  # lost at qualify
        self.opportunities += 1
        yield self.ae_slots.get(1)  # FIFO wait for an AE slot, held until lost or won
        for _name, mean, advance in self.w["ae_stages"]:
            yield env.timeout(rng.exponential(mean))
            if rng.random() >= advance:
                self.ae_slots.put(1)  # lost: the AE slot is free again
                return
        self.ae_slots.put(1)
        self.won()

    def won(self):
        acv = float(self.rng.lognormal(self.acv_mu, self.acv_sigma))
        self.wins += 1
        self.bookings += acv
        record = [acv, 1.0]
        self.customers.append(record)
        self.env.process(self.customer(record))

    # -- customers --------------------------------------------------------------

    def customer(self, record: list[float]):
        """A monthly contract: at each anniversary the customer churns with probability h."""
        env, rng = self.env, self.rng
        h = self.w["monthly_churn"]
        while True:
            yield env.timeout(MONTH)
            if rng.random() < h:
                record[1] = 0.0
                return

    # -- run ------------------------------------------------------------------

    def run(self) -> dict:
        env, w = self.env, self.w
        for _ in range(w["ae_start"]):
            env.process(self.ae(0.0, tenured=True))
        for month in w["ae_hire_months"]:
            env.process(self.ae(month * MONTH, tenured=False))
        env.process(self.arrivals())
        env.run(until=self.horizon)
        return {
            "leads": self.leads,
            "opportunities": self.opportunities,
            "wins": self.wins,
            "bookings": self.bookings,
            "arr_end": float(sum(acv * live for acv, live in self.customers)),
        }


def run_reference(seed: int) -> dict:
    """One replication of the standard workload: leads, opportunities, wins, bookings, arr_end."""
    return Model(seed).run()


if __name__ == "__main__":  # pragma: no cover - a quick look
    import sys
    import time

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    t0 = time.perf_counter()
    rows = [run_reference(s) for s in range(n)]
    dt = time.perf_counter() - t0
    for k in rows[0]:
        v = np.array([r[k] for r in rows], dtype=float)
        print(f"{k:>14}: mean {v.mean():14.1f}  sd {v.std(ddof=1) if n > 1 else 0:12.1f}")
    print(f"{1000 * dt / n:.1f} ms/seed")
