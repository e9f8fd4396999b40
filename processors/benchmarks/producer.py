"""`shopstream bench producer`: the cost of one track call, side by side with peer SDKs.

Every system makes the same calls in the same order: a shopper's session of three page
views, then a purchase of two order lines, repeated over 1,000 buyers. Each call is timed
alone with ``perf_counter_ns`` on the caller's thread while the SDK's own background
sender runs. The systems take turns: each round, each system makes its share of the calls
and then flushes, so machine noise hits all alike and no sender is still busy during
another's turn (the order rotates every round).

- ``shopstream``: our ``Tracker`` with the confluent backend to a real broker, built with
  its helpers ``visit(...)`` / ``purchase(...)``, which validate like a ``track`` call.
- ``snowplow``, ``segment``, ``rudderstack``, ``posthog``: the peers' equivalent calls
  with their default batching, their senders posting to :class:`SinkProcess`, a local
  HTTP endpoint that accepts everything (in a child process, as a broker or collector is).

Sustained events/s is events delivered / time from a turn's first call until its flush
returned (the sender reports everything delivered), summed over the turns. Wire bytes per
event is what went out on the socket: for us librdkafka's ``tx_bytes`` statistic (Kafka
request framing, record batches after compression); for the peers the HTTP requests as
received (request line, headers and body, compressed only where the SDK compresses).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import math
import statistics
import tempfile
import threading
import time
import uuid
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from shopstream.processors.benchmarks.http_sink import SinkProcess

SYSTEMS = ("shopstream", "snowplow", "segment", "rudderstack", "posthog")
PEERS = SYSTEMS[1:]
SHOP_ID = "bench-shop"
BUYERS = 1_000
_WARMUP_FROM = 10_000_000  # warm-up events are numbered apart from the measured ones
EXTRA_HINT = "pip install 'shopstream[bench]'"

Progress = Callable[[str], None]
Call = Callable[[], object]


# -- the workload: the same shopper events for everyone ----------------------------------------


@dataclass(frozen=True, slots=True)
class OrderLine:
    product_id: str
    category_id: str
    quantity: int
    unit_price: int
    discount: int = 0


@dataclass(frozen=True, slots=True)
class PageView:
    buyer_id: str
    anonymous_id: str
    session_id: str
    product_id: str
    referrer_class: str = "search"
    device: str = "mobile"
    dwell_ms: int = 42_000

    @property
    def url(self) -> str:
        return f"https://{SHOP_ID}.example/products/{self.product_id}"


@dataclass(frozen=True, slots=True)
class Order:
    buyer_id: str
    anonymous_id: str
    session_id: str
    order_id: str
    lines: tuple[OrderLine, ...]
    currency: str = "KRW"
    payment_method: str = "easy_pay"

    @property
    def total(self) -> int:
        return sum(line.quantity * line.unit_price - line.discount for line in self.lines)


ShopperEvent = PageView | Order

_LINES = (
    OrderLine("P-1001", "C-FASHION-TOP", quantity=2, unit_price=29_000, discount=3_000),
    OrderLine("P-2002", "C-TRAVEL-JEJU", quantity=1, unit_price=189_000),
)


def shopper_event(index: int) -> ShopperEvent:
    """Event ``index`` of the workload: every fourth is a purchase, the others page views."""
    buyer = index % BUYERS
    buyer_id, anonymous_id = f"member-{buyer:05d}", f"anon-{buyer:05d}"
    session_id = f"sess-{index // 4:07d}"
    if index % 4 == 3:
        return Order(buyer_id, anonymous_id, session_id, f"O-20261203-{index:07d}", _LINES)
    return PageView(buyer_id, anonymous_id, session_id, f"P-{1000 + index % 500}")


def event_kind(event: ShopperEvent) -> str:
    return "page_view" if isinstance(event, PageView) else "purchase"


def page_properties(view: PageView) -> dict[str, Any]:
    """The page view's properties as an analytics SDK carries them."""
    return {
        "shop_id": SHOP_ID,
        "session_id": view.session_id,
        "page_type": "product",
        "product_id": view.product_id,
        "referrer_class": view.referrer_class,
        "device": view.device,
        "dwell_ms": view.dwell_ms,
    }


def order_properties(order: Order) -> dict[str, Any]:
    """The purchase's properties, with Segment's e-commerce spec names for the lines."""
    return {
        "shop_id": SHOP_ID,
        "session_id": order.session_id,
        "order_id": order.order_id,
        "total": order.total,
        "currency": order.currency,
        "payment_method": order.payment_method,
        "status": "ordered",
        "products": [
            {
                "product_id": line.product_id,
                "category": line.category_id,
                "quantity": line.quantity,
                "price": line.unit_price,
                "discount": line.discount,
            }
            for line in order.lines
        ],
    }


# -- the systems ---------------------------------------------------------------------------------


class PeerMissingError(Exception):
    """A peer SDK is not installed; the system is reported as skipped."""


@dataclass(frozen=True)
class Delivery:
    """Cumulative counters of one system, read between turns."""

    events: int
    wire_bytes: int | None
    """None when the figure is not available (librdkafka statistics did not arrive)."""
    extra: Mapping[str, int]


class Contender(Protocol):
    name: str
    version: str
    setup: str
    """How it is configured, in a few words (reported in the JSON)."""
    wire_source: str

    def prepare(self, event: ShopperEvent) -> Call:
        """The SDK call for ``event``, ready to be timed (arguments built beforehand)."""

    def flush(self) -> None:
        """Return once the sender reports everything delivered."""

    def delivery(self) -> Delivery: ...

    def failures(self) -> int: ...

    def close(self) -> None: ...


def _import(module: str, distribution: str) -> tuple[ModuleType, str]:
    try:
        return importlib.import_module(module), metadata.version(distribution)
    except ImportError as exc:
        raise PeerMissingError(f"{distribution} is not installed ({EXTRA_HINT})") from exc


class _HttpPeer:
    """What the four HTTP peers share: a path on the sink, counted there, and an error count."""

    wire_source = "HTTP requests as received: request line, headers and body as sent"

    def __init__(self, name: str, sink: SinkProcess) -> None:
        self.name = name
        self._sink = sink
        self.endpoint = f"{sink.url}/{name}"
        self._errors = 0
        self._lock = threading.Lock()

    def _on_error(self, *_args: Any) -> None:
        with self._lock:
            self._errors += 1

    def failures(self) -> int:
        return self._errors

    def delivery(self) -> Delivery:
        tally = self._sink.tallies().get(self.name)
        if tally is None:
            return Delivery(0, 0, {"requests": 0, "body_bytes": 0, "json_bytes": 0})
        return Delivery(
            tally.events,
            tally.wire_bytes,
            {
                "requests": tally.requests,
                "body_bytes": tally.body_bytes,
                "json_bytes": tally.json_bytes,
            },
        )


class SnowplowPeer(_HttpPeer):
    """snowplow-tracker: ``Tracker.track(PageView | SelfDescribing)`` through an ``AsyncEmitter``."""

    setup = (
        "AsyncEmitter (1 sender thread), POST, default batch of 10, base64 contexts; "
        "given a requests.Session (keep-alive) instead of a new connection per batch"
    )
    _VIEW = "iglu:com.example.shopstream/product_view/jsonschema/1-0-0"
    _ORDER = "iglu:com.example.shopstream/order_completed/jsonschema/1-0-0"

    def __init__(self, sink: SinkProcess) -> None:
        super().__init__("snowplow", sink)
        sp, self.version = _import("snowplow_tracker", "snowplow-tracker")
        requests = importlib.import_module("requests")
        self._sp = sp
        self._emitter = sp.AsyncEmitter(
            self.endpoint, session=requests.Session(), on_failure=self._on_error
        )
        self._tracker = sp.Tracker("shopstream-bench", self._emitter, app_id=SHOP_ID)

    def prepare(self, event: ShopperEvent) -> Call:
        sp, track = self._sp, self._tracker.track
        if isinstance(event, PageView):
            view, props = event, page_properties(event)

            def page_view() -> object:
                return track(
                    sp.PageView(
                        page_url=view.url,
                        page_title="product",
                        event_subject=sp.Subject().set_user_id(view.buyer_id),
                        context=[sp.SelfDescribingJson(self._VIEW, props)],
                    )
                )

            return page_view
        order, props = event, order_properties(event)

        def purchase() -> object:
            return track(
                sp.SelfDescribing(
                    sp.SelfDescribingJson(self._ORDER, props),
                    event_subject=sp.Subject().set_user_id(order.buyer_id),
                )
            )

        return purchase

    def flush(self) -> None:
        self._tracker.flush(is_async=False)

    def close(self) -> None:
        self.flush()


class _SegmentLike(_HttpPeer):
    """segment-analytics-python and its fork rudder-sdk-python: ``page`` / ``track``."""

    def __init__(self, name: str, sink: SinkProcess, module: ModuleType) -> None:
        super().__init__(name, sink)
        self._client = module.Client("bench", host=self.endpoint, on_error=self._on_error)

    def prepare(self, event: ShopperEvent) -> Call:
        if isinstance(event, PageView):
            return functools.partial(
                self._client.page,
                user_id=event.buyer_id,
                name="product",
                properties=page_properties(event) | {"url": event.url},
                anonymous_id=event.anonymous_id,
            )
        return functools.partial(
            self._client.track,
            user_id=event.buyer_id,
            event="Order Completed",
            properties=order_properties(event),
            anonymous_id=event.anonymous_id,
        )

    def flush(self) -> None:
        self._client.flush()

    def close(self) -> None:
        self._client.shutdown()


class SegmentPeer(_SegmentLike):
    setup = "Client defaults: 1 consumer thread, batches of 100 or 0.5 s, no gzip, queue 10,000"

    def __init__(self, sink: SinkProcess) -> None:
        module, self.version = _import("segment.analytics", "segment-analytics-python")
        super().__init__("segment", sink, module)


class RudderstackPeer(_SegmentLike):
    setup = "Client defaults: 1 consumer thread, batches of 100 or 0.5 s, gzip, queue 10,000"

    def __init__(self, sink: SinkProcess) -> None:
        module, self.version = _import("rudderstack.analytics", "rudder-sdk-python")
        super().__init__("rudderstack", sink, module)


class PosthogPeer(_HttpPeer):
    """posthog: ``capture("$pageview" | "order_completed", distinct_id=..., properties=...)``."""

    setup = "Posthog defaults: 1 consumer thread, batches of 100 or 5 s (flush drains), no gzip, queue 10,000"

    def __init__(self, sink: SinkProcess) -> None:
        super().__init__("posthog", sink)
        module, self.version = _import("posthog", "posthog")
        self._client = module.Posthog("phc_bench", host=self.endpoint, on_error=self._on_error)

    def prepare(self, event: ShopperEvent) -> Call:
        if isinstance(event, PageView):
            props = page_properties(event) | {"$current_url": event.url}
            name = "$pageview"
        else:
            props = order_properties(event)
            name = "order_completed"
        props["anonymous_id"] = event.anonymous_id
        return functools.partial(
            self._client.capture, name, distinct_id=event.buyer_id, properties=props
        )

    def flush(self) -> None:
        self._client.flush(timeout_seconds=120)

    def close(self) -> None:
        self._client.shutdown()


class KafkaStatistics:
    """librdkafka's statistics, kept raw by ``stats_cb`` (parsed only when read).

    The callback runs in ``poll()`` on the tracker's sender thread, once per interval, so
    keeping the string costs that thread next to nothing.
    """

    def __init__(self) -> None:
        self._raw: str | None = None
        self._count = 0
        self._changed = threading.Condition()

    def __call__(self, raw: str) -> None:
        with self._changed:
            self._raw = raw
            self._count += 1
            self._changed.notify_all()

    def fresh(self, *, timeout: float) -> dict[str, Any] | None:
        """The first statistics emitted after a report that was already under way: two
        reports from now, so every byte sent before this call is in it."""
        with self._changed:
            target = self._count + 2
            self._changed.wait_for(lambda: self._count >= target, timeout)
            if self._count < target or self._raw is None:
                return None
            parsed: dict[str, Any] = json.loads(self._raw)
            return parsed


class ShopstreamContender:
    """Our ``Tracker`` (confluent backend) producing to a topic of its own."""

    name = "shopstream"
    STATS_INTERVAL_MS = 500

    def __init__(self, bootstrap_servers: str, topic: str) -> None:
        from shopstream.producers import Tracker, TrackerConfig

        self.version = metadata.version("shopstream")
        config = TrackerConfig(bootstrap_servers=bootstrap_servers, topic=topic, shop_id=SHOP_ID)
        self.setup = (
            f"Tracker defaults: confluent backend, idempotent, acks=all, linger {config.linger_ms} ms, "
            f"zstd, queue {config.queue_size:,}, drop when full; 6 partitions"
        )
        self._stats = KafkaStatistics()
        # client_config is typed for plain settings; a callback cannot pass its validation,
        # so the benchmark adds librdkafka's statistics hook on an unvalidated copy.
        config = config.model_copy(
            update={
                "client_config": {
                    **config.client_config,
                    "statistics.interval.ms": self.STATS_INTERVAL_MS,
                    "stats_cb": self._stats,
                }
            }
        )
        self._tracker = Tracker(config)
        self._failures_at_start = self._failed()
        self.wire_source = "librdkafka tx_bytes (Kafka requests to the broker, zstd record batches)"

    def prepare(self, event: ShopperEvent) -> Call:
        helper, fields = tracker_call(event)
        return functools.partial(getattr(self._tracker, helper), **fields)

    def flush(self) -> None:
        self._tracker.flush(120)

    def _failed(self) -> int:
        stats = self._tracker.stats()
        return stats.failed + stats.dropped + stats.rejected

    def failures(self) -> int:
        return self._failed() - self._failures_at_start

    def delivery(self) -> Delivery:
        stats = self._stats.fresh(timeout=5 * self.STATS_INTERVAL_MS / 1000)
        sent = self._tracker.stats().sent
        if stats is None:
            return Delivery(sent, None, {})
        return Delivery(
            sent,
            int(stats["tx_bytes"]),
            {"txmsg_bytes": int(stats["txmsg_bytes"]), "requests": int(stats["tx"])},
        )

    def close(self) -> None:
        self._tracker.close(30)


def tracker_call(event: ShopperEvent) -> tuple[str, dict[str, Any]]:
    """The tracker helper (``visit`` / ``purchase``) and its keyword arguments for ``event``:
    what a shop site writes, enum values as plain strings."""
    who = {
        "buyer_id": event.buyer_id,
        "anonymous_id": event.anonymous_id,
        "session_id": event.session_id,
    }
    if isinstance(event, PageView):
        return "visit", who | {
            "page_type": "product",
            "product_id": event.product_id,
            "referrer_class": event.referrer_class,
            "device": event.device,
            "dwell_ms": event.dwell_ms,
        }
    return "purchase", who | {
        "order_id": event.order_id,
        "items": [
            {
                "product_id": line.product_id,
                "category_id": line.category_id,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "discount": line.discount,
            }
            for line in event.lines
        ],
        "total": event.total,
        "currency": event.currency,
        "payment_method": event.payment_method,
        "status": "ordered",
    }


def record_bytes(events: Iterable[ShopperEvent]) -> float:
    """Mean Kafka key + value bytes (uncompressed Avro, single-object framing) of ``events``."""
    from shopstream.producers.keys import partition_key
    from shopstream.schemas.codec import Codec
    from shopstream.schemas.models import EVENT_CLASSES

    codec = Codec()
    sizes = []
    for event in events:
        helper, fields = tracker_call(event)
        model = EVENT_CLASSES[helper].model_validate(fields | {"shop_id": SHOP_ID})
        record = model.to_avro()
        sizes.append(len(partition_key(record)) + len(codec.encode(helper, record)))
    return statistics.fmean(sizes)


# -- the broker ------------------------------------------------------------------------------------


@contextlib.contextmanager
def kafka_topic(progress: Progress) -> Iterator[tuple[str, str]]:
    """``(bootstrap_servers, topic)``: a topic of 6 partitions on KAFKA_BOOTSTRAP_SERVERS
    (deleted afterwards), or on a throwaway local node started in a temp dir."""
    from shopstream.deploy.kafka import LauncherSettings, LocalKafka, admin_client
    from shopstream.processors.topics import TopicSpec, create_topics

    topic = f"bench.producer.{uuid.uuid4().hex[:8]}"
    spec = TopicSpec(topic, "delete", retention_ms=60 * 60 * 1000)
    external = LauncherSettings().external_bootstrap_servers
    if external:
        progress(f"using the cluster at {external} (KAFKA_BOOTSTRAP_SERVERS); topic {topic}")
        admin = admin_client(external)
        create_topics(admin, [spec])
        try:
            yield external, topic
        finally:
            for future in admin.delete_topics([topic], operation_timeout=30).values():
                with contextlib.suppress(Exception):  # best effort: a leftover bench topic
                    future.result()
        return
    with tempfile.TemporaryDirectory(prefix="shopstream-bench-") as tmp:
        node = LocalKafka(Path(tmp) / "kafka", progress=progress)
        progress("starting a local Kafka node (KRaft, 127.0.0.1)...")
        with node.start():
            create_topics(admin_client(node.bootstrap_servers), [spec])
            progress(f"broker ready at {node.bootstrap_servers}, topic {topic}")
            yield node.bootstrap_servers, topic


# -- measuring -------------------------------------------------------------------------------------


@dataclass
class _Samples:
    latencies_ns: dict[str, array[int]]
    busy_ns: int = 0
    flush_ns: list[int] = field(default_factory=list)


def percentile(sorted_values: Sequence[int] | Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return float(sorted_values[min(rank, len(sorted_values)) - 1])


def _turn(contender: Contender, events: Sequence[ShopperEvent], samples: _Samples) -> None:
    calls = [(event_kind(event), contender.prepare(event)) for event in events]
    clock = time.perf_counter_ns
    by_kind = samples.latencies_ns
    start = clock()
    for kind, call in calls:
        before = clock()
        call()
        by_kind[kind].append(clock() - before)
    called = clock()
    contender.flush()
    flushed = clock()
    samples.busy_ns += flushed - start
    samples.flush_ns.append(flushed - called)


def _turn_sizes(events: int, rounds: int) -> list[int]:
    return [events // rounds + (1 if r < events % rounds else 0) for r in range(rounds)]


def _per_event(total: float | None, events: int) -> float | None:
    return None if total is None or not events else round(total / events, 1)


def _latency(values: Sequence[int]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_us": round(percentile(ordered, 50) / 1000, 2),
        "p99_us": round(percentile(ordered, 99) / 1000, 2),
        "p999_us": round(percentile(ordered, 99.9) / 1000, 2),
        "max_us": round(ordered[-1] / 1000, 2),
        "mean_us": round(statistics.fmean(ordered) / 1000, 2),
    }


def _summary(
    contender: Contender, samples: _Samples, start: Delivery, end: Delivery, calls: int
) -> dict[str, Any]:
    delivered = end.events - start.events
    wire = None
    if end.wire_bytes is not None and start.wire_bytes is not None:
        wire = end.wire_bytes - start.wire_bytes
    everything = _latency([v for values in samples.latencies_ns.values() for v in values])
    result: dict[str, Any] = {
        "p50_us": everything.pop("p50_us"),
        "p99_us": everything.pop("p99_us"),
        "events_per_s": round(delivered / (samples.busy_ns / 1e9)) if samples.busy_ns else 0,
        "wire_bytes": _per_event(wire, delivered),
        **everything,
        "by_event": {
            kind: {"calls": len(values), **_latency(values)}
            for kind, values in samples.latencies_ns.items()
            if values
        },
        "calls": calls,
        "delivered": delivered,
        "failures": contender.failures(),
        "flush_ms_median": round(statistics.median(samples.flush_ns or [0]) / 1e6, 1),
        "wire_bytes_source": contender.wire_source,
        "version": contender.version,
        "setup": contender.setup,
    }
    for key, value in end.extra.items():
        delta = value - start.extra.get(key, 0)
        if key == "requests":
            result["requests"] = delta
        else:
            result[f"{key}_per_event"] = _per_event(delta, delivered)
    return result


def run(
    *,
    events: int = 20_000,
    rounds: int = 5,
    warmup: int = 1_000,
    systems: Sequence[str] = SYSTEMS,
    progress: Progress | None = None,
) -> dict[str, dict[str, Any]]:
    """Measure the selected systems; return one object per system of :data:`SYSTEMS`.

    A system not selected, or whose SDK is not installed, is ``{"skipped": reason}``.
    """
    say = progress or (lambda _message: None)
    unknown = set(systems) - set(SYSTEMS)
    if unknown:
        raise ValueError(f"unknown systems {sorted(unknown)}; choose from {', '.join(SYSTEMS)}")
    if events < rounds or rounds < 1:
        raise ValueError("need at least one call per round")
    results: dict[str, dict[str, Any]] = {
        name: {"skipped": "not selected"} for name in SYSTEMS if name not in systems
    }
    factories: dict[str, Callable[[SinkProcess], Contender]] = {
        "snowplow": SnowplowPeer,
        "segment": SegmentPeer,
        "rudderstack": RudderstackPeer,
        "posthog": PosthogPeer,
    }
    contenders: list[Contender] = []
    with contextlib.ExitStack() as stack:
        if "shopstream" in systems:
            bootstrap, topic = stack.enter_context(kafka_topic(say))
            ours = ShopstreamContender(bootstrap, topic)
            stack.callback(ours.close)
            contenders.append(ours)
        if set(systems) & set(PEERS):
            sink = stack.enter_context(SinkProcess())
            say(f"HTTP sink for the peers at {sink.url} (a child process)")
            for name in (n for n in PEERS if n in systems):
                try:
                    peer = factories[name](sink)
                except PeerMissingError as exc:
                    results[name] = {"skipped": str(exc)}
                    say(f"skipping {name}: {exc}")
                    continue
                stack.callback(peer.close)
                contenders.append(peer)
        results.update(_measure(contenders, events=events, rounds=rounds, warmup=warmup, say=say))
    figures = results.get("shopstream", {})
    if "p50_us" in figures:
        figures["record_bytes"] = round(record_bytes(shopper_event(i) for i in range(400)), 1)
        if figures["wire_bytes"] is None:
            figures["wire_bytes"] = figures["record_bytes"]
            figures["wire_bytes_source"] = (
                "Kafka record key + value, uncompressed (librdkafka statistics did not arrive)"
            )
    return {name: results[name] for name in SYSTEMS}


def _measure(
    contenders: Sequence[Contender], *, events: int, rounds: int, warmup: int, say: Progress
) -> dict[str, dict[str, Any]]:
    samples: dict[str, _Samples] = {}
    starts: dict[str, Delivery] = {}
    for contender in contenders:
        say(f"warming up {contender.name} ({contender.version}): {warmup} calls")
        warm = _Samples({"page_view": array("q"), "purchase": array("q")})
        _turn(contender, [shopper_event(_WARMUP_FROM + i) for i in range(warmup)], warm)
        starts[contender.name] = contender.delivery()
        samples[contender.name] = _Samples({"page_view": array("q"), "purchase": array("q")})
    offset = 0
    for number, size in enumerate(_turn_sizes(events, rounds)):
        batch = [shopper_event(offset + i) for i in range(size)]
        offset += size
        order = (
            list(contenders[number % len(contenders) :])
            + list(contenders[: number % len(contenders)])
            if contenders
            else []
        )
        say(
            f"round {number + 1}/{rounds}: {size:,} calls each, {' → '.join(c.name for c in order)}"
        )
        for contender in order:
            _turn(contender, batch, samples[contender.name])
    return {
        c.name: _summary(c, samples[c.name], starts[c.name], c.delivery(), events)
        for c in contenders
    }


# -- reading the results ---------------------------------------------------------------------------


def fastest_peer(results: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The measured peer with the lowest p50."""
    measured = [n for n in PEERS if "p50_us" in results.get(n, {})]
    return min(measured, key=lambda n: float(results[n]["p50_us"]), default=None)


def goal(results: Mapping[str, Mapping[str, Any]]) -> dict[str, Any] | None:
    """The issue's goal: our p50 at most a third of the fastest peer's, our p99 under 100 µs."""
    ours, peer = results.get("shopstream", {}), fastest_peer(results)
    if "p50_us" not in ours or peer is None:
        return None
    ratio = float(ours["p50_us"]) / float(results[peer]["p50_us"])
    return {
        "fastest_peer": peer,
        "p50_ratio": round(ratio, 3),
        "p50_met": ratio <= 1 / 3,
        "p99_met": float(ours["p99_us"]) < 100,
    }


def table(results: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The results as Markdown table rows, with ratios to the fastest peer (by p50)."""
    peer = fastest_peer(results)
    base = results[peer] if peer else {}

    def number(row: Mapping[str, Any], key: str, spec: str) -> str:
        value = row.get(key)
        return "–" if value is None else format(value, spec)

    def ratio(row: Mapping[str, Any], key: str) -> str:
        if not base.get(key) or row.get(key) is None:
            return "–"
        return f"{float(row[key]) / float(base[key]):.2f}×"

    lines = [
        "| system | p50 µs | p99 µs | events/s | wire B/event | p50 vs fastest peer | p99 vs | events/s vs |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in results.items():
        if "skipped" in row:
            lines.append(f"| {name} | skipped: {row['skipped']} | | | | | | |")
            continue
        cells = [
            name,
            number(row, "p50_us", ".1f"),
            number(row, "p99_us", ".1f"),
            number(row, "events_per_s", ","),
            number(row, "wire_bytes", ".0f"),
            ratio(row, "p50_us"),
            ratio(row, "p99_us"),
            ratio(row, "events_per_s"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


__all__ = [
    "PEERS",
    "SYSTEMS",
    "Order",
    "OrderLine",
    "PageView",
    "PeerMissingError",
    "fastest_peer",
    "goal",
    "percentile",
    "record_bytes",
    "run",
    "shopper_event",
    "table",
    "tracker_call",
]
