"""The configuration of one combined KRaft broker+controller on the loopback interface."""

from __future__ import annotations

import base64
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class NodeLayout:
    """Ports and folders of one local node. `data_dir` holds everything the node writes."""

    data_dir: Path
    port: int
    controller_port: int
    host: str = LOOPBACK

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def properties_file(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def log_dir(self) -> Path:
        """Kafka's `log.dirs`: the partitions and the KRaft metadata log."""
        return self.data_dir / "kraft-logs"

    @property
    def server_log(self) -> Path:
        """Written by our log4j2.xml (warnings and errors only)."""
        return self.data_dir / "server.log"

    @property
    def console_log(self) -> Path:
        """The JVM's stdout and stderr (crashes before logging starts land here)."""
        return self.data_dir / "console.log"


def server_properties(layout: NodeLayout, *, node_id: int = 1) -> dict[str, str]:
    """Settings of a single node that is its own controller quorum (`format --standalone`)."""
    broker = f"{layout.host}:{layout.port}"
    controller = f"{layout.host}:{layout.controller_port}"
    return {
        "process.roles": "broker,controller",
        "node.id": str(node_id),
        "controller.quorum.bootstrap.servers": controller,
        "controller.listener.names": "CONTROLLER",
        "listeners": f"PLAINTEXT://{broker},CONTROLLER://{controller}",
        "advertised.listeners": f"PLAINTEXT://{broker},CONTROLLER://{controller}",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(layout.log_dir),
        # One node: every internal topic must live with a single replica.
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        # Fewer internal partitions: faster first group/transaction on a 2-core machine.
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.num.partitions": "10",
        "share.coordinator.state.topic.num.partitions": "10",
        # Tests join groups constantly; a rebalance delay would only slow them down.
        "group.initial.rebalance.delay.ms": "0",
        # Topics are declared in code (shopstream topics create), never made by accident.
        "auto.create.topics.enable": "false",
        "num.partitions": "1",
    }


def write_server_properties(layout: NodeLayout, *, node_id: int = 1) -> Path:
    """Write `server.properties` into the data dir and return its path."""
    layout.data_dir.mkdir(parents=True, exist_ok=True)
    lines = ["# Written by shopstream.deploy.kafka; rewritten at every start."]
    lines += [f"{key}={value}" for key, value in server_properties(layout, node_id=node_id).items()]
    layout.properties_file.write_text("\n".join(lines) + "\n")
    return layout.properties_file


def new_cluster_id() -> str:
    """A random Kafka cluster id: 16 bytes, URL-safe base64 without padding."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):  # Kafka's command-line tools would read it as a flag.
            return text


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """Whether `port` can be bound on `host` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Like the JVM's server sockets, so a port left in TIME_WAIT counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


__all__ = [
    "LOOPBACK",
    "NodeLayout",
    "free_port",
    "new_cluster_id",
    "port_is_free",
    "server_properties",
    "write_server_properties",
]
