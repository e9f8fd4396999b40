"""Hand a simulated stream to a tracker, paced to a rate: the loop behind `shopstream simulate`.

Kept apart from the command so that it runs in unit tests against a fake tracker.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Protocol

from shopstream.producers.simulator.base import SimulatedEvent
from shopstream.schemas.models import Event


class EventSink(Protocol):
    """What the loop needs of :class:`shopstream.producers.Tracker`."""

    def track(self, event: Event) -> object: ...

    def send_raw(self, key: bytes, value: bytes) -> object: ...


def send(
    stream: Iterable[SimulatedEvent],
    sink: EventSink,
    *,
    rate: float = 0.0,
    on_sent: Callable[[SimulatedEvent], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Send every event of ``stream``; return how many were handed over.

    Valid events go through ``sink.track`` (validated and encoded by the SDK), bad ones
    through ``sink.send_raw`` with their bytes unchanged. With ``rate`` > 0 the n-th
    event is sent no earlier than n / rate seconds after the first: the schedule is
    absolute, so a slow moment is caught up afterwards instead of lowering the rate.
    """
    started = clock()
    count = 0
    for simulated in stream:
        if rate > 0:
            delay = started + count / rate - clock()
            if delay > 0:
                sleep(delay)
        if simulated.event is not None:
            sink.track(simulated.event)
        elif simulated.raw is not None:
            sink.send_raw(simulated.key, simulated.raw)
        else:  # pragma: no cover - SimulatedEvent always carries one of the two
            raise ValueError("a simulated event without a model or bytes")
        count += 1
        if on_sent is not None:
            on_sent(simulated)
    return count


__all__ = ["EventSink", "send"]
