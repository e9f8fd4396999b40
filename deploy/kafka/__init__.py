"""A real local Apache Kafka (KRaft, one combined node) run from Maven Central jars.

`LocalKafka` runs a node as a child process (tests); `start_detached` / `stop_detached`
keep one running for the CLI; `bootstrap_servers()` tells other commands where to connect.
"""

from __future__ import annotations

import logging

from shopstream.deploy.kafka.client import admin_client
from shopstream.deploy.kafka.detached import (
    ClusterInfo,
    LocalBrokerStatus,
    bootstrap_servers,
    local_status,
    probe_cluster,
    start_detached,
    stop_detached,
)
from shopstream.deploy.kafka.errors import (
    BrokerNotFoundError,
    BrokerStartError,
    BrokerStopError,
    ClusterUnreachableError,
    JarResolutionError,
    KafkaLauncherError,
    StorageFormatError,
)
from shopstream.deploy.kafka.jars import kafka_libs
from shopstream.deploy.kafka.launcher import LocalKafka
from shopstream.deploy.kafka.settings import KAFKA_VERSION, LauncherSettings

# A library leaves logging to the application; this only silences "no handler" output.
logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "KAFKA_VERSION",
    "BrokerNotFoundError",
    "BrokerStartError",
    "BrokerStopError",
    "ClusterInfo",
    "ClusterUnreachableError",
    "JarResolutionError",
    "KafkaLauncherError",
    "LauncherSettings",
    "LocalBrokerStatus",
    "LocalKafka",
    "StorageFormatError",
    "admin_client",
    "bootstrap_servers",
    "kafka_libs",
    "local_status",
    "probe_cluster",
    "start_detached",
    "stop_detached",
]
