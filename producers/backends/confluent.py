"""confluent-kafka (librdkafka): idempotent, acks=all, compressed, murmur2-partitioned."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from shopstream.producers.backends.base import ClientErrorCallback, DeliveryCallback
from shopstream.producers.backends.client_log import ClientLog
from shopstream.producers.config import TrackerConfig

_log = logging.getLogger(__name__)


class ConfluentBackend:
    def __init__(
        self, config: TrackerConfig, *, on_error: ClientErrorCallback | None = None
    ) -> None:
        self._topic = config.topic
        self._on_error = on_error
        self._last_warning = -60.0
        settings: dict[str, Any] = {
            "bootstrap.servers": config.bootstrap_servers,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": config.linger_ms,
            "compression.type": config.compression or "zstd",
            # Kafka's Java clients and kafka-python hash keys with murmur2; so must we,
            # or one buyer's events would land in different partitions per client.
            "partitioner": "murmur2_random",
            "message.timeout.ms": config.delivery_timeout_ms,
            "queue.buffering.max.messages": max(config.queue_size * 2, 10_000),
            "error_cb": self._client_error,
            # librdkafka's own lines, an outage's repeats folded (see client_log).
            "logger": ClientLog(_log),
        }
        settings.update(config.client_config)
        self._settings = settings
        self._producer = Producer(settings)
        self._reporting_to: DeliveryCallback | None = None
        self._report: Callable[[KafkaError | None, Any], None] | None = None

    def _client_error(self, error: KafkaError) -> None:
        now = time.monotonic()
        if now - self._last_warning >= 60:  # an outage repeats the same error every second
            _log.warning("kafka client: %s", error)
            self._last_warning = now
        if self._on_error is not None:
            self._on_error(KafkaException(error))

    def produce(self, key: bytes, value: bytes, on_delivery: DeliveryCallback) -> None:
        if on_delivery is not self._reporting_to:  # the tracker's is the same every time
            self._reporting_to, self._report = on_delivery, _adapted(on_delivery)
        self._producer.produce(self._topic, value, key, on_delivery=self._report)

    def poll(self, timeout: float) -> None:
        self._producer.poll(timeout)

    def reachable(self, timeout: float) -> bool:
        try:
            metadata = self._producer.list_topics(self._topic, timeout=timeout)
        except KafkaException:
            return False
        return bool(metadata.brokers)

    def flush(self, timeout: float) -> int:
        return int(self._producer.flush(timeout))

    def restart(self) -> None:
        old, self._producer = self._producer, Producer(self._settings)
        old.purge(in_queue=True, in_flight=True, blocking=False)
        old.flush(0)  # serves the purged records' callbacks (with _PURGE_* errors)

    def close(self, timeout: float) -> None:
        self._producer.flush(timeout)


def _adapted(on_delivery: DeliveryCallback) -> Callable[[KafkaError | None, Any], None]:
    def delivered(err: KafkaError | None, msg: Any) -> None:
        on_delivery(msg.value(), None if err is None else KafkaException(err))

    return delivered


__all__ = ["ConfluentBackend"]
