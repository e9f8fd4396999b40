"""Whether a batch may be tracked now, and tracking it: all of it, or none (503).

A browser told 200 forgets its events, so the collector refuses a batch (503 with
Retry-After, nothing tracked) whenever the tracker could not keep all of it:

1. the spool says it is full (``tracker.spool_full``);
2. the tracker spools, and the spool's free bytes are fewer than this batch's records
   plus, at this batch's mean record size, every event still in memory (queued or in
   flight): if the broker is down, all of them end in the spool;
3. the tracker does not overflow to the spool (``on_full`` is ``drop`` or ``block``, or
   there is no spool) and the batch does not fit in the free room of the queue: those
   events would be dropped (and ``block`` would stall the request).

The check and the ``track()`` calls hold one lock, so concurrent requests are admitted
one after another against the queue as it is. Only the tracker's sender thread changes
it meanwhile, and it only drains the queue; it may grow the spool, which rule 2's
allowance for the events in memory is for.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass

from shopstream.producers.config import QueueFullPolicy
from shopstream.producers.keys import partition_key
from shopstream.producers.tracker import Tracker
from shopstream.schemas.codec import Codec
from shopstream.schemas.errors import EncodeError
from shopstream.schemas.models import Event

SPOOL_FRAME_OVERHEAD = 12
"""Bytes the spool adds to each record: two u32 lengths and a CRC-32 (producers/spool.py)."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a batch was refused; ``reason`` is ``spool_full`` or ``queue_full``."""

    reason: str


class Admission:
    """Admits batches into one tracker, one at a time."""

    def __init__(self, tracker: Tracker, codec: Codec | None = None) -> None:
        self.tracker = tracker
        self._codec = codec or Codec()
        self._lock = threading.Lock()

    def track(self, events: list[Event]) -> list[uuid.UUID] | Refusal:
        """Track every event and return their ids, or track none and say why."""
        if not events:
            return []
        spool_needs = self._spool_bytes(events) if self.tracker.config.spooling else 0
        with self._lock:
            refusal = self.check(len(events), spool_needs)
            if refusal is not None:
                return refusal
            ids: list[uuid.UUID] = []
            for event in events:
                self.tracker.track(event)
                ids.append(event.event_id)
            return ids

    def check(self, count: int, spool_needs: int) -> Refusal | None:
        """Rules 1 to 3 above for ``count`` events whose spool records take ``spool_needs``."""
        tracker = self.tracker
        if tracker.spool_full:
            return Refusal("spool_full")
        config = tracker.config
        stats = tracker.stats()
        if config.spooling:
            in_memory = stats.queue_depth + stats.in_flight
            allowance = spool_needs + (spool_needs // count) * in_memory
            if config.spool_max_bytes - stats.spool_bytes < allowance:
                return Refusal("spool_full")
        overflows_to_spool = config.spooling and config.on_full is QueueFullPolicy.SPOOL
        if not overflows_to_spool and stats.queue_depth + count > config.queue_size:
            return Refusal("queue_full")
        return None

    def _spool_bytes(self, events: list[Event]) -> int:
        """The bytes these events would take in the spool: exact, by encoding them."""
        total = 0
        for event in events:
            record = event.to_avro()
            try:
                value = self._codec.encode(event.event_type, record)
            except EncodeError:  # cannot happen for a validated model; the tracker counts it
                continue
            total += SPOOL_FRAME_OVERHEAD + len(partition_key(record)) + len(value)
        return total


__all__ = ["SPOOL_FRAME_OVERHEAD", "Admission", "Refusal"]
