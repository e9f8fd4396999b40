"""An AdminClient that reports through Python logging instead of writing to stderr."""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka.admin import AdminClient

_log = logging.getLogger("shopstream.deploy.kafka.librdkafka")


def admin_client(bootstrap_servers: str, **config: Any) -> AdminClient:
    """An AdminClient for `bootstrap_servers`; extra librdkafka settings as keywords.

    librdkafka's own logging would print every refused connection while a broker
    starts; routing it to a logger leaves the choice to the application.
    """
    settings: dict[str, Any] = {"bootstrap.servers": bootstrap_servers, "logger": _log}
    settings.update({key.replace("_", "."): value for key, value in config.items()})
    return AdminClient(settings)


__all__ = [
    "admin_client",
]
