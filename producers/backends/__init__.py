"""Where the tracker's bytes go: one module per Kafka client library, one protocol."""

from __future__ import annotations

from shopstream.producers.backends.base import Backend, ClientErrorCallback, DeliveryCallback
from shopstream.producers.config import TrackerConfig
from shopstream.producers.errors import BackendUnavailableError


def make_backend(config: TrackerConfig, *, on_error: ClientErrorCallback | None = None) -> Backend:
    """The configured backend; imported lazily so a site needs only the library it uses."""
    try:
        if config.backend == "kafka-python":
            from shopstream.producers.backends.kafka_python import KafkaPythonBackend

            return KafkaPythonBackend(config)
        from shopstream.producers.backends.confluent import ConfluentBackend

        return ConfluentBackend(config, on_error=on_error)
    except ImportError as exc:
        raise BackendUnavailableError(
            f"backend {config.backend!r} needs its client library: {exc}"
        ) from exc


__all__ = ["Backend", "ClientErrorCallback", "DeliveryCallback", "make_backend"]
