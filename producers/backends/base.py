"""The backend protocol: hand over bytes, learn of each delivery, flush, close."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

DeliveryCallback = Callable[[bytes, Exception | None], None]
"""Called once per record with its value: ``None`` when the broker acknowledged it, else
the error. The tracker hands the same callback over for every record."""

ClientErrorCallback = Callable[[Exception], None]
"""Called on client-level errors (all brokers down, authentication...)."""


class BrokerUnreachableError(Exception):
    """The client could not hand the record over in time (no broker answers)."""


class Backend(Protocol):
    """A Kafka producer as the tracker uses it. Calls come from the tracker's sender thread."""

    def produce(self, key: bytes, value: bytes, on_delivery: DeliveryCallback) -> None:
        """Queue one record; raise ``BufferError`` when the client's buffer is full,
        ``BrokerUnreachableError`` when it cannot accept records now."""

    def poll(self, timeout: float) -> None:
        """Serve delivery callbacks for up to ``timeout`` seconds."""

    def reachable(self, timeout: float) -> bool:
        """Whether a broker answers within ``timeout`` seconds (a probe, not a cache)."""

    def flush(self, timeout: float) -> int:
        """Wait until every queued record is delivered or failed; return how many remain."""

    def restart(self) -> None:
        """Give up on every record the client holds, at once, and carry on with a fresh
        client. Each given-up record's callback may still come, with an error; the
        tracker has already re-spooled it and ignores that."""

    def close(self, timeout: float) -> None:
        """Flush within ``timeout`` and release the client."""


__all__ = ["Backend", "BrokerUnreachableError", "ClientErrorCallback", "DeliveryCallback"]
