"""Errors of the local Kafka launcher, one class per phase under a single root."""

from __future__ import annotations


class KafkaLauncherError(Exception):
    """Root of every error raised by `shopstream.deploy.kafka`."""


class JarResolutionError(KafkaLauncherError):
    """Maven could not resolve the Kafka jars (no Maven, no network, unknown version)."""


class StorageFormatError(KafkaLauncherError):
    """Kafka's storage tool refused to format the node's data directory."""


class BrokerStartError(KafkaLauncherError):
    """The broker died or did not answer a metadata request in time.

    `log_tail` holds the last lines the JVM wrote, the usual explanation.
    """

    def __init__(self, message: str, *, log_tail: str = "") -> None:
        super().__init__(
            f"{message}\n--- last lines of the Kafka log ---\n{log_tail}" if log_tail else message
        )
        self.log_tail = log_tail


class BrokerStopError(KafkaLauncherError):
    """The broker process could not be stopped."""


class BrokerNotFoundError(KafkaLauncherError):
    """No broker to talk to: KAFKA_BOOTSTRAP_SERVERS is unset and no local broker runs."""


class ClusterUnreachableError(KafkaLauncherError):
    """A cluster's bootstrap servers did not answer a metadata request."""


__all__ = [
    "BrokerNotFoundError",
    "BrokerStartError",
    "BrokerStopError",
    "ClusterUnreachableError",
    "JarResolutionError",
    "KafkaLauncherError",
    "StorageFormatError",
]
