"""The event path's simpy events: one callback and its arguments, no Timeout.

``Due`` is scheduled with ``env.schedule`` where a ``Timeout`` would be; ``Feed``
is one event that walks a block of leads into their stage in time order.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from simpy.events import Event

__all__ = ["Due", "Feed", "delay_to"]


class Due(Event):
    """A simpy event of the event path: already triggered, due after a delay.

    It is scheduled with ``env.schedule`` exactly where a ``Timeout`` would be
    (same time, priority and place in the event order), and carries its one
    callback's arguments, so an event costs neither Timeout's bookkeeping nor a
    closure. The callback receives the event and reads ``args``.
    """

    _ok = True
    _value = None

    def __init__(self, callback: Callable[[Any], None], args: Any):
        self.callbacks = [callback]
        self.args = args


class Feed(Due):
    """A block's leads reaching the first owned stage, in time order, as one event.

    The event is rescheduled for the next lead after each one (with a delay that
    lands exactly on its time), so the block costs one entry in simpy's queue
    rather than one per lead.
    """

    def __init__(self, callback: Callable[[Any], None], rows: list[int], times: list[float],
                 stage: int):
        self.callbacks = [callback]
        self.args = None
        self.rows, self.times, self.stage, self.i = rows, times, stage, 0


def delay_to(now: float, t: float) -> float:
    """The delay ``d`` that simpy adds to ``now`` to land on ``t``: exactly ``t``, as when
    the lead was scheduled from time zero, whenever a float delay can reach it (all but
    a rare tie in rounding: then one ulp before ``t``)."""
    d = t - now
    while now + d < t:
        d = math.nextafter(d, math.inf)
    while now + d > t:
        d = math.nextafter(d, -math.inf)
    return d
