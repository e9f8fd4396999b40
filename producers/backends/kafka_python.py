"""kafka-python: the pure-Python backend for hosts where librdkafka cannot be installed."""

from __future__ import annotations

import time
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaTimeoutError

from shopstream.producers.backends.base import BrokerUnreachableError, DeliveryCallback
from shopstream.producers.config import TrackerConfig


class KafkaPythonBackend:
    def __init__(self, config: TrackerConfig) -> None:
        self._topic = config.topic
        settings: dict[str, Any] = {
            "bootstrap_servers": config.bootstrap_servers.split(","),
            "enable_idempotence": True,
            "acks": "all",
            "linger_ms": config.linger_ms,
            "compression_type": None
            if config.compression == "none"
            else (config.compression or "gzip"),
            "delivery_timeout_ms": config.delivery_timeout_ms,
            "request_timeout_ms": min(config.delivery_timeout_ms // 2, 30_000),
            # send() waits for metadata or buffer room; keep that short (it runs on our
            # sender thread) and let the tracker decide what an unreachable broker means.
            "max_block_ms": 1_000,
        }
        settings.update(config.client_config)
        self._producer = KafkaProducer(**settings)

    def produce(self, key: bytes, value: bytes, on_delivery: DeliveryCallback) -> None:
        try:
            future = self._producer.send(self._topic, key=key, value=value)
        except KafkaTimeoutError as exc:
            raise BrokerUnreachableError(str(exc)) from exc
        future.add_callback(lambda _meta: on_delivery(None))
        future.add_errback(on_delivery)

    def poll(self, timeout: float) -> None:
        time.sleep(timeout)  # kafka-python delivers callbacks from its own I/O thread

    def reachable(self, timeout: float) -> bool:
        try:
            return bool(self._producer.partitions_for(self._topic))
        except KafkaTimeoutError:
            return False

    def flush(self, timeout: float) -> int:
        try:
            self._producer.flush(timeout)
        except KafkaTimeoutError:
            return 1
        return 0

    def close(self, timeout: float) -> None:
        try:
            self._producer.close(timeout)
        except KafkaTimeoutError:
            # Records still unacknowledged: the tracker has already spooled or counted them.
            self._producer.close(0)


__all__ = ["KafkaPythonBackend"]
