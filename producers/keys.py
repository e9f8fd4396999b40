"""Message keys: one buyer's events share a key, so they share a partition and keep their order.

The key is ``<shop_id>|<subject>`` where the subject is the buyer id, else the
anonymous id (a visitor before sign-in), else the product id (catalogue events).
Producers must partition keys with murmur2 (Kafka's Java default; librdkafka's is
CRC32 unless ``partitioner=murmur2_random``) so that every client agrees.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SEPARATOR = "|"


def partition_key(record: Mapping[str, Any]) -> bytes:
    """The Kafka message key of an event record (SDK model dump or decoded record)."""
    subject = record.get("buyer_id") or record.get("anonymous_id") or record.get("product_id") or ""
    return f"{record['shop_id']}{SEPARATOR}{subject}".encode()


__all__ = [
    "SEPARATOR",
    "partition_key",
]
