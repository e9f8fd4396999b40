"""kafka-python: the pure-Python backend for hosts where librdkafka cannot be installed.

Three habits of kafka-python (3.0) shape this module:

- Once a batch expires after it was sent, the idempotent producer drops its producer id
  and asks for a new one; until it has one, its I/O thread neither sends nor expires
  anything, so while the broker is down the records already handed over never complete
  (no callback, no error). The tracker notices records older than their delivery
  timeout and calls :meth:`KafkaPythonBackend.restart`, which fails them and starts a
  fresh client.
- Its reconnect backoff grows to 30 s by default: a broker back after a long outage
  waits that long to be seen. We cap it at 1 s, as the Java client does.
- ``partitions_for`` answers from cached metadata and ``flush(t)`` waits ``t`` per
  batch, so neither serves as a probe or a bounded wait: we count our own pending
  records and probe the bootstrap servers with a TCP connection.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError, KafkaTimeoutError

from shopstream.producers.backends.base import BrokerUnreachableError, DeliveryCallback
from shopstream.producers.config import TrackerConfig

_log = logging.getLogger(__name__)
_RESTART_BOOTSTRAP_MS = 2_000


class KafkaPythonBackend:
    def __init__(self, config: TrackerConfig) -> None:
        self._topic = config.topic
        self._servers = config.bootstrap_servers.split(",")
        self._settings: dict[str, Any] = {
            "bootstrap_servers": self._servers,
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
            "reconnect_backoff_max_ms": 1_000,
        }
        self._settings.update(config.client_config)
        self._handed = 0  # only our sender thread produces
        self._settled = 0  # callbacks come from kafka-python's I/O thread, or ours
        self._settled_lock = threading.Lock()
        self._producer: KafkaProducer | None = KafkaProducer(**self._settings)

    @property
    def _pending(self) -> int:
        return self._handed - self._settled

    def produce(self, key: bytes, value: bytes, on_delivery: DeliveryCallback) -> None:
        producer = self._producer or self._reconnect()
        try:
            future = producer.send(self._topic, key=key, value=value)
        except KafkaTimeoutError as exc:
            raise BrokerUnreachableError(str(exc)) from exc
        self._handed += 1

        def done(result: Any) -> None:
            with self._settled_lock:
                self._settled += 1
            on_delivery(value, result if isinstance(result, Exception) else None)

        future.add_both(done)

    def poll(self, timeout: float) -> None:
        time.sleep(timeout)  # kafka-python delivers callbacks from its own I/O thread

    def reachable(self, timeout: float) -> bool:
        for server in self._servers:
            host, _, port = server.strip().rpartition(":")
            try:
                with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
                    return True
            except (OSError, ValueError):
                continue
        return False

    def flush(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self._pending > 0 and time.monotonic() < deadline:
            time.sleep(min(0.005, max(0.0, deadline - time.monotonic())))
        return max(0, self._pending)

    def restart(self) -> None:
        """Fail every record the client holds (their callbacks say so) and start afresh;
        the new client connects on the next ``produce``."""
        old, self._producer = self._producer, None
        if old is not None:
            _abandon(old)

    def close(self, timeout: float) -> None:
        self.flush(timeout)
        old, self._producer = self._producer, None
        if old is not None:
            _abandon(old)

    def _reconnect(self) -> KafkaProducer:
        try:
            self._producer = KafkaProducer(
                **{**self._settings, "bootstrap_timeout_ms": _RESTART_BOOTSTRAP_MS}
            )
        except KafkaError as exc:
            raise BrokerUnreachableError(f"kafka-python could not bootstrap: {exc}") from exc
        return self._producer


def _abandon(producer: KafkaProducer) -> None:
    """Close without waiting: its I/O thread fails what it still holds, then stops."""
    sender = getattr(producer, "_sender", None)
    if sender is not None:
        sender.force_close()
        sender.join(2.0)
    with contextlib.suppress(Exception):  # closing a client must never raise into the tracker
        producer.close(0)


__all__ = ["KafkaPythonBackend"]
