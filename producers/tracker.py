"""`Tracker`: what a shop site calls. Validate on the caller's thread, send on another.

The caller's cost is validation plus one queue put: encoding, keying and the Kafka
client run on the tracker's sender thread. Nothing here raises into the caller unless
``strict=True``; every event ends counted as sent, spooled, failed or dropped.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import queue
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from typing import Any, cast

from pydantic import ValidationError

from shopstream.producers.backends import Backend, make_backend
from shopstream.producers.backends.base import BrokerUnreachableError
from shopstream.producers.config import QueueFullPolicy, TrackerConfig
from shopstream.producers.errors import EventRejectedError, SpoolFullError
from shopstream.producers.keys import partition_key
from shopstream.producers.rejections import field_errors
from shopstream.producers.replay import ReplayBatch
from shopstream.producers.spool import Spool
from shopstream.producers.stats import Counters, TrackerStats, register_metrics
from shopstream.producers.validators import FieldsValidator, now_millis, validators
from shopstream.schemas.codec import Codec
from shopstream.schemas.errors import EncodeError
from shopstream.schemas.models import (
    EVENT_CLASSES,
    Event,
    ProductEvent,
    PurchaseEvent,
    ReviewEvent,
    SignupEvent,
    VisitEvent,
)

_log = logging.getLogger(__name__)

ErrorCallback = Callable[[Exception], None]
DropCallback = Callable[[uuid.UUID | None, str], None]
DeliveryReport = Callable[[Exception | None], None]
# What the queue holds: a helper's record (a dict), (event type, model), (None, (key, value)),
# or the sender's own markers.
_Item = dict[str, Any] | tuple[str | None, Any]

_STOP = object()
# A helper's record travels alone in the queue (no tuple: one object less per event for the
# cyclic GC to count), its event type under this key, taken out again before encoding.
_EVENT_TYPE = "__event_type__"
_ABORT_GRACE_S = 2.0
"""How long close() waits, after its budget, for the sender to put down the event in hand."""
_REPLAY_BATCH = 1000
_PROBE_INTERVAL_S = 1.0
_WATCH_INTERVAL_S = 0.5
# A record the client has held this much longer than its delivery timeout will not be
# reported any more: the client is stuck (kafka-python after an outage, see its backend).
_STUCK_GRACE_S = 5.0


class Tracker:
    """Track shopper events into Kafka without slowing or crashing the site.

    ``track(event)`` returns the event's id at once. ``flush()`` waits for delivery;
    ``close()`` (also run at interpreter exit, within ``exit_flush_timeout_s``) flushes
    and spools what could not be delivered. A process forked after the tracker was made
    gets a fresh one of its own on its first call.
    """

    # Set by _start(), again in a forked child.
    _spool: Spool | None
    _sender: threading.Thread
    _replaying: ReplayBatch | None

    def __init__(
        self,
        config: TrackerConfig | None = None,
        *,
        on_error: ErrorCallback | None = None,
        on_drop: DropCallback | None = None,
        on_delivery: DeliveryReport | None = None,
        registry: Any = None,
        codec: Codec | None = None,
    ) -> None:
        self.config = config or TrackerConfig()
        if self.config.on_full is QueueFullPolicy.SPOOL and not self.config.spooling:
            raise ValueError("on_full='spool' needs spool_dir")
        self._on_error = on_error
        self._on_drop = on_drop
        self._on_delivery = on_delivery
        self._codec = codec or Codec()
        self._counters = Counters()
        self._client_restarts = 0
        self._closed = False
        self._start()
        if registry is not None:
            register_metrics(registry, self.stats)
        ref = weakref.ref(self)
        atexit.register(_close_at_exit, ref)
        os.register_at_fork(after_in_child=lambda: _forget_in_child(ref))

    # -- the caller's side ---------------------------------------------------------------

    def track(self, event: Event) -> uuid.UUID | None:
        """Queue a validated event; return its id, or None when it could not be accepted."""
        if self._pid != os.getpid():
            self._own_process()
        if not isinstance(cast(object, event), Event):  # untyped callers
            kind = type(event).__name__
            self._rejected(kind, TypeError(f"track() takes an event model, not {kind}"), [])
            return None
        return event.event_id if self._enqueue((event.event_type, event), event.event_id) else None

    def signup(self, **fields: Any) -> uuid.UUID | None:
        """Build and track a sign-up; invalid fields are reported, not raised (unless strict)."""
        return self._build(SignupEvent, fields)

    def visit(self, **fields: Any) -> uuid.UUID | None:
        """Build and track a page view."""
        return self._build(VisitEvent, fields)

    def review(self, **fields: Any) -> uuid.UUID | None:
        """Build and track a review."""
        return self._build(ReviewEvent, fields)

    def purchase(self, **fields: Any) -> uuid.UUID | None:
        """Build and track an order placed, cancelled or refunded."""
        return self._build(PurchaseEvent, fields)

    def product(self, **fields: Any) -> uuid.UUID | None:
        """Build and track a catalogue change."""
        return self._build(ProductEvent, fields)

    def send_raw(self, key: bytes, value: bytes) -> None:
        """Queue bytes as they are, unvalidated: for tools (simulator, dead-letter replay)."""
        if self._pid != os.getpid():
            self._own_process()
        self._enqueue((None, (key, value)), None)

    def flush(self, timeout: float = 30.0) -> int:
        """Wait until every queued event is delivered, spooled or failed; return how many remain."""
        if self._pid != os.getpid():
            self._own_process()
        deadline = time.monotonic() + timeout
        done = threading.Event()
        self._queue.put(done)
        if not done.wait(timeout):
            return self._queue.qsize() + self._in_flight_count()
        while self._in_flight and time.monotonic() < deadline:
            self._backend.flush(min(0.1, max(0.0, deadline - time.monotonic())))
        return self._in_flight_count()

    def close(self, timeout: float | None = None) -> None:
        """Flush within ``timeout`` (default: ``exit_flush_timeout_s``), spool or count the rest."""
        if self._closed:
            return
        self._closed = True
        if self._pid != os.getpid():
            return  # a forked child that never tracked: the client, thread and spool are the parent's
        budget = self.config.exit_flush_timeout_s if timeout is None else timeout
        deadline = time.monotonic() + budget
        self._queue.put(_STOP)
        self._sender.join(budget)
        if self._sender.is_alive():
            # Out of time: stop the sender between two events, then settle the rest here.
            self._abort.set()
            self._sender.join(_ABORT_GRACE_S)
            if self._sender.is_alive():
                _log.warning("tracker sender did not stop within %.0f s", _ABORT_GRACE_S)
        remaining = max(0.0, deadline - time.monotonic())
        if self._in_flight or self._replaying is not None:
            self._backend.flush(remaining)
        batch = self._replaying
        self._replaying = None
        if batch is not None and self._spool is not None:  # the rest stays spooled
            self._commit_replayed(
                batch, len(batch.records) if batch.complete else batch.acked_prefix()
            )
        self._settle_leftovers()
        try:
            self._backend.close(0.5)
        except Exception as exc:  # close() runs at exit too: it must never raise
            _log.warning("kafka client did not close cleanly: %s", type(exc).__name__)
        finally:
            if self._spool is not None:
                self._spool.close()

    def reachable(self, timeout: float = 1.0) -> bool:
        """Whether a broker answers within ``timeout`` (for readiness)."""
        if self._pid != os.getpid():
            self._own_process()
        return self._backend.reachable(timeout)

    @property
    def spool_full(self) -> bool:
        """True when the spool has reached its bound (the collector answers 503 then)."""
        return self._spool is not None and self._spool.is_full

    def stats(self) -> TrackerStats:
        values = self._counters.values
        return TrackerStats(
            **values,
            queue_depth=self._queue.qsize(),
            in_flight=self._in_flight_count(),
            spool_bytes=self._spool.pending_bytes if self._spool is not None else 0,
            client_restarts=self._client_restarts,
        )

    def _build(self, cls: type[Event], fields: dict[str, Any]) -> uuid.UUID | None:
        if self.config.shop_id is not None:
            fields.setdefault("shop_id", self.config.shop_id)
        fast = _fields_validators().get(cls)
        record = fast.record(fields) if fast is not None else None
        if record is not None:  # valid: queue the record itself, no model needed
            if self._pid != os.getpid():
                self._own_process()
            event_id: uuid.UUID = record["event_id"]
            record[_EVENT_TYPE] = cls.event_type
            return event_id if self._enqueue(record, event_id) else None
        try:  # refused by the fast path, or none for this type: the model decides and reports
            event = cls(**fields)
        except ValidationError as exc:
            self._rejected(cls.event_type, exc, [dict(e) for e in field_errors(exc)])
            return None
        return self.track(event)

    def _rejected(self, event_type: str, exc: Exception, errors: list[dict[str, Any]]) -> None:
        self._counters.add("rejected")
        rejection = EventRejectedError(
            event_type, errors or [{"field": "$", "rule": type(exc).__name__}]
        )
        _log.warning("%s", rejection)  # field paths and rule names only, never values
        if self._on_error is not None:
            self._safely(self._on_error, rejection)
        if self.config.strict:
            raise rejection from exc

    def _enqueue(self, item: _Item, event_id: uuid.UUID | None) -> bool:
        """Accept ``item`` (queue or spool) and say so; a refusal is counted as dropped."""
        if self._closed:
            self._dropped(event_id, "closed")
            return False
        if self._queue.qsize() < self.config.queue_size:
            self._queue.put(item)
            self._counters.add("tracked")
            return True
        policy = self.config.on_full
        if policy is QueueFullPolicy.BLOCK:
            deadline = time.monotonic() + self.config.block_timeout_ms / 1000
            while time.monotonic() < deadline:
                time.sleep(0.0005)
                if self._queue.qsize() < self.config.queue_size:
                    self._queue.put(item)
                    self._counters.add("tracked")
                    return True
        elif policy is QueueFullPolicy.SPOOL and self._spool is not None:
            record = self._encode(item)
            if record is not None:
                try:
                    self._spool.append(*record)
                except SpoolFullError:
                    pass
                else:
                    self._counters.add("tracked")
                    self._counters.add("spooled")
                    return True
        self._dropped(event_id, "queue_full")
        return False

    def _dropped(self, event_id: uuid.UUID | None, reason: str) -> None:
        self._counters.add("dropped")
        if self._on_drop is not None:
            self._safely(self._on_drop, event_id, reason)

    # -- the sender thread -----------------------------------------------------------------

    def _start(self) -> None:
        self._pid = os.getpid()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        # value -> (key, when handed to the client, copies in flight); insertion order is age
        # order. Keyed by the value, so that one callback serves every record: no callable
        # per record for the cyclic GC to count and collect.
        self._in_flight: dict[bytes, tuple[bytes, float, int]] = {}
        self._in_flight_lock = threading.Lock()  # kafka-python reports from its own thread
        self._report = self._delivered  # one bound method, handed to the client every time
        self._broker_down = False
        # Set by close() when its budget is spent: the sender stops taking events, so that
        # close() settles every event itself and none is left in the sender's hands.
        self._abort = threading.Event()
        self._next_probe = 0.0
        self._next_watch = 0.0
        self._replaying = None
        self._stuck_after = self.config.delivery_timeout_ms / 1000 + _STUCK_GRACE_S
        self._spool = (
            Spool(self.config.spool_dir, max_bytes=self.config.spool_max_bytes)
            if self.config.spool_dir is not None
            else None
        )
        self._backend: Backend = make_backend(self.config, on_error=self._client_error)
        self._sender = threading.Thread(target=self._run, name="shopstream-tracker", daemon=True)
        self._sender.start()

    def _forget_parent(self) -> None:
        """Right after fork, in the child: let go of the parent's spool lock. Nothing else:
        a child that only execs (``subprocess``) must not pay for a Kafka client."""
        if self._spool is not None:
            self._spool.release_after_fork()

    def _own_process(self) -> None:
        """First use in a forked child: the parent's client, thread and spool are not ours."""
        if self._closed:
            self._pid = os.getpid()  # closed in the parent: stays closed here
            return
        self._start()

    def _client_error(self, exc: Exception) -> None:
        if self._spool is not None:
            self._broker_down = True  # new events go to the spool until a probe succeeds

    def _run(self) -> None:
        while not self._abort.is_set():
            try:
                item = self._queue.get(timeout=0.05)
            except queue.Empty:
                item = None
            if item is _STOP:
                self._drain()
                return
            if isinstance(item, threading.Event):
                self._backend.flush(0)
                item.set()
            elif item is not None:
                self._send(item)
            self._backend.poll(0)
            now = time.monotonic()
            if now >= self._next_watch:
                self._next_watch = now + _WATCH_INTERVAL_S
                self._watch_in_flight(now)
            if self._spool is not None and (self._spool or self._broker_down):
                self._replay(now)

    def _drain(self) -> None:
        while not self._abort.is_set():
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, threading.Event):
                item.set()
            elif item is not _STOP:
                self._send(item)

    def _encode(self, item: _Item) -> tuple[bytes, bytes] | None:
        if type(item) is dict:  # from a helper: validated already, stamped now
            record = item
            name = record.pop(_EVENT_TYPE)
            if "sent_time" not in record:
                record["sent_time"] = now_millis()
        else:
            name, payload = cast(tuple[str | None, Any], item)
            if name is None:
                key, value = payload
                return key, value
            record = payload.to_avro()
        try:
            return partition_key(record), self._codec.encode(name, record)
        except EncodeError as exc:  # a model that validated always encodes; be safe anyway
            self._counters.add("failed")
            _log.error("could not encode a %s event: %s", name, exc)
            return None

    def _send(self, item: _Item) -> None:
        record = self._encode(item)
        if record is None:
            return
        if self._spool is not None and (self._spool or self._broker_down):
            self._to_spool(*record)  # keep order: nothing overtakes what waits in the spool
            return
        self._produce(*record)

    def _produce(self, key: bytes, value: bytes) -> None:
        with self._in_flight_lock:
            held = self._in_flight.get(value)
            self._in_flight[value] = (
                (key, time.monotonic(), 1) if held is None else (key, held[1], held[2] + 1)
            )
        while True:
            try:
                self._backend.produce(key, value, self._report)
                return
            except BufferError:
                if self._abort.is_set():  # close() is out of time: it settles this in-flight one
                    return
                self._backend.poll(0.05)  # the client's own buffer is full: let it drain
            except BrokerUnreachableError:
                self._settle_in_flight(value)
                if self._spool is not None:
                    self._broker_down = True
                    self._to_spool(key, value)
                else:
                    self._counters.add("failed")
                return
            except Exception as exc:  # a client error must not kill the sender thread
                self._settle_in_flight(value)
                self._counters.add("failed")
                _log.error("kafka client refused a record: %s", type(exc).__name__)
                return

    def _settle_in_flight(self, value: bytes) -> bytes | None:
        """One copy of ``value`` is no longer in the client's hands: its key, or None when
        it was settled already (spooled or counted when the client was restarted)."""
        with self._in_flight_lock:
            held = self._in_flight.pop(value, None)
            if held is not None and held[2] > 1:
                self._in_flight[value] = (held[0], held[1], held[2] - 1)
        return None if held is None else held[0]

    def _in_flight_count(self) -> int:
        return sum(held[2] for held in list(self._in_flight.values()))

    def _delivered(self, value: bytes, err: Exception | None) -> None:
        key = self._settle_in_flight(value)
        if key is None:
            return
        if err is None:
            self._counters.add("sent")
        elif self._spool is not None:
            self._to_spool(key, value)
        else:
            self._counters.add("failed")
            _log.warning("event not delivered: %s", type(err).__name__)
        if self._on_delivery is not None:
            self._safely(self._on_delivery, err)

    def _to_spool(self, key: bytes, value: bytes) -> None:
        assert self._spool is not None
        try:
            self._spool.append(key, value)
        except SpoolFullError:
            self._counters.add("dropped")
            if self._on_drop is not None:
                self._safely(self._on_drop, None, "spool_full")
        else:
            self._counters.add("spooled")

    def _watch_in_flight(self, now: float) -> None:
        """Restart a client that holds a record well past its delivery timeout."""
        try:
            oldest = next(iter(self._in_flight.values()))
        except (StopIteration, RuntimeError):  # empty, or changed by a callback meanwhile
            return
        if now - oldest[1] > self._stuck_after:
            self._restart_client(f"a record unacknowledged for {now - oldest[1]:.0f} s")

    def _restart_client(self, why: str) -> None:
        """Settle what the client holds (spool it, or count it failed) and start a new one."""
        stranded, self._in_flight = self._in_flight, {}
        batch = self._replaying
        self._replaying = None
        if batch is not None:
            self._commit_replayed(batch, batch.acked_prefix())
        _log.warning(
            "kafka client stuck (%s): restarting it; %d events re-spooled or counted failed",
            why,
            sum(copies for _, _, copies in stranded.values()),
        )
        self._client_restarts += 1
        try:
            self._backend.restart()
        except Exception as exc:  # a new client that cannot start now is retried by the probe
            _log.error("kafka client restart failed: %s", type(exc).__name__)
        for value, (key, _, copies) in stranded.items():
            for _ in range(copies):
                if self._spool is not None:
                    self._to_spool(key, value)
                else:
                    self._counters.add("failed")
        if self._spool is not None:
            self._broker_down = True  # probe before replaying into the new client
        self._next_probe = 0.0

    def _replay(self, now: float) -> None:
        """Send the spool's oldest records, one batch at a time, without blocking the loop;
        commit each batch on its own acknowledgements."""
        assert self._spool is not None
        batch = self._replaying
        if batch is not None:
            if batch.complete:
                self._replaying = None
                self._commit_replayed(batch, len(batch.records))
            elif batch.failed or now > batch.deadline:
                self._replaying = None
                self._commit_replayed(batch, batch.acked_prefix())
                self._next_probe = now + _PROBE_INTERVAL_S  # the rest is sent again then
                self._broker_down = True
                if not batch.failed:
                    self._restart_client("replayed records unacknowledged past their deadline")
                return
            else:
                return
        if self._broker_down:
            if now < self._next_probe:
                return
            if not self._backend.reachable(timeout=0.5):
                self._next_probe = time.monotonic() + _PROBE_INTERVAL_S
                return
        records, position = self._spool.read(_REPLAY_BATCH)
        if not records or position is None:
            self._broker_down = False
            return
        batch = ReplayBatch(records, position, now + self._stuck_after)
        for index, (key, value) in enumerate(records):
            try:
                self._backend.produce(key, value, functools.partial(_replay_report, batch, index))
            except (BufferError, BrokerUnreachableError) as exc:
                batch.truncate(index)  # the rest stays in the spool for the next batch
                if isinstance(exc, BrokerUnreachableError):
                    self._broker_down = True
                    self._next_probe = now + _PROBE_INTERVAL_S
                break
        if batch.records:
            self._replaying = batch

    def _commit_replayed(self, batch: ReplayBatch, n: int) -> None:
        assert self._spool is not None
        if n <= 0:
            return
        self._spool.commit(batch.position.after(n), batch.records[:n])
        self._counters.add("sent", n)

    def _settle_leftovers(self) -> None:
        """At close: what the budget did not deliver goes to the spool, or is counted failed."""
        while True:  # events the sender had no time to take (it may still be draining too)
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, threading.Event):
                item.set()
            elif item is not _STOP:
                record = self._encode(item)
                if record is not None and self._spool is not None:
                    self._to_spool(*record)
                elif record is not None:
                    self._counters.add("failed")
        leftovers, self._in_flight = self._in_flight, {}
        for value, (key, _, copies) in leftovers.items():
            for _ in range(copies):
                if self._spool is not None:
                    self._to_spool(key, value)
                else:
                    self._counters.add("failed")
        if leftovers and self._spool is None:
            _log.warning("%d events undelivered at close", sum(c for _, _, c in leftovers.values()))

    @staticmethod
    def _safely(callback: Callable[..., None], *args: Any) -> None:
        try:
            callback(*args)
        except Exception:  # the shop's callback must not break the tracker
            _log.exception("tracker callback failed")


@functools.cache
def _fields_validators() -> dict[type[Event], FieldsValidator]:
    return validators(EVENT_CLASSES.values())


def _replay_report(batch: ReplayBatch, index: int, _value: bytes, err: Exception | None) -> None:
    batch.report(index, err)


def _close_at_exit(ref: weakref.ReferenceType[Tracker]) -> None:
    tracker = ref()
    if tracker is not None and tracker._pid == os.getpid():
        tracker.close()


def _forget_in_child(ref: weakref.ReferenceType[Tracker]) -> None:
    tracker = ref()
    if tracker is not None:
        tracker._forget_parent()


__all__ = ["Tracker"]
