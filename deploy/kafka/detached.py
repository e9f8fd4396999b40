"""The CLI's long-lived local broker: state dir, pid file, ports; and where clients connect."""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import KafkaException

from shopstream.deploy.kafka.client import admin_client
from shopstream.deploy.kafka.errors import (
    BrokerNotFoundError,
    BrokerStopError,
    ClusterUnreachableError,
)
from shopstream.deploy.kafka.jars import Progress
from shopstream.deploy.kafka.launcher import LocalKafka
from shopstream.deploy.kafka.node_config import LOOPBACK, free_port, port_is_free
from shopstream.deploy.kafka.process import pid_alive, pid_cmdline, terminate
from shopstream.deploy.kafka.settings import LauncherSettings

DEFAULT_PORT = 9092
DEFAULT_CONTROLLER_PORT = 9093


@dataclass(frozen=True)
class LocalBrokerStatus:
    """What the state dir says about the detached broker, checked against the live pid."""

    state_dir: Path
    running: bool
    pid: int | None
    bootstrap_servers: str | None
    version: str | None

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"


@dataclass(frozen=True)
class ClusterInfo:
    """An existing cluster as seen through one metadata request."""

    bootstrap_servers: str
    cluster_id: str | None
    controller_id: int
    brokers: tuple[str, ...]


def local_status(settings: LauncherSettings | None = None) -> LocalBrokerStatus:
    """Report the detached broker recorded in the state dir (running or not)."""
    state_dir = (settings or LauncherSettings()).kafka_state_dir()
    saved = _read_state(state_dir)
    pid = _read_pid(state_dir)
    running = pid is not None and _is_our_broker(pid, state_dir)
    return LocalBrokerStatus(
        state_dir=state_dir,
        running=running,
        pid=pid if running else None,
        bootstrap_servers=f"{LOOPBACK}:{saved['port']}" if "port" in saved else None,
        version=str(saved["version"]) if "version" in saved else None,
    )


def start_detached(
    *,
    port: int | None = None,
    settings: LauncherSettings | None = None,
    progress: Progress | None = None,
    timeout: float = 120.0,
) -> LocalBrokerStatus:
    """Start the local broker in the background unless it already runs; idempotent.

    Reuses the ports of the previous run when they are free, else 9092/9093 when
    free, else any free ports. The broker outlives this process; stop it with
    `stop_detached`.
    """
    settings = settings or LauncherSettings()
    state_dir = settings.kafka_state_dir()
    with _state_lock(state_dir):
        current = local_status(settings)
        if current.running:
            return current
        saved = _read_state(state_dir)
        broker_port = port or _pick_port(saved.get("port"), DEFAULT_PORT)
        controller_port = _pick_port(
            saved.get("controller_port"), DEFAULT_CONTROLLER_PORT, avoid=broker_port
        )
        node = LocalKafka(
            state_dir / "data",
            port=broker_port,
            controller_port=controller_port,
            bound_to_parent=False,
            settings=settings,
            progress=progress,
        )
        node.start(timeout=timeout)
        state = {"port": broker_port, "controller_port": controller_port, "version": node.version}
        (state_dir / "kafka.json").write_text(json.dumps(state, indent=2) + "\n")
        (state_dir / "kafka.pid").write_text(f"{node.pid}\n")
        node.release()
        return local_status(settings)


def stop_detached(
    *, settings: LauncherSettings | None = None, timeout: float = 60.0
) -> LocalBrokerStatus | None:
    """Stop the detached broker (SIGTERM, wait, SIGKILL as a last resort).

    Returns the status it had, or None when none was running.
    """
    settings = settings or LauncherSettings()
    with _state_lock(settings.kafka_state_dir()):
        status = local_status(settings)
        pid_file = status.state_dir / "kafka.pid"
        if not status.running or status.pid is None:
            pid_file.unlink(missing_ok=True)
            return None
        terminate(status.pid, grace=timeout)
        if pid_alive(status.pid):
            raise BrokerStopError(f"Kafka pid {status.pid} is still alive after SIGKILL")
        pid_file.unlink(missing_ok=True)
        return status


@contextlib.contextmanager
def _state_lock(state_dir: Path) -> Iterator[None]:
    """`up` and `down` take turns on one state dir."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def probe_cluster(bootstrap_servers: str, *, timeout: float = 10.0) -> ClusterInfo:
    """Ask a cluster for its metadata; raise `ClusterUnreachableError` if it does not answer."""
    admin = admin_client(bootstrap_servers)
    try:
        metadata = admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise ClusterUnreachableError(
            f"no answer from {bootstrap_servers} within {timeout:.0f} s: {exc}"
        ) from exc
    brokers = tuple(
        f"{b.id}@{b.host}:{b.port}" for b in sorted(metadata.brokers.values(), key=lambda b: b.id)
    )
    return ClusterInfo(
        bootstrap_servers=bootstrap_servers,
        cluster_id=metadata.cluster_id,
        controller_id=metadata.controller_id,
        brokers=brokers,
    )


def bootstrap_servers(settings: LauncherSettings | None = None) -> str:
    """Where clients connect: KAFKA_BOOTSTRAP_SERVERS, else the running local broker.

    Raises `BrokerNotFoundError` telling the user what to do when there is neither.
    """
    settings = settings or LauncherSettings()
    if settings.external_bootstrap_servers:
        return settings.external_bootstrap_servers
    status = local_status(settings)
    if status.running and status.bootstrap_servers:
        return status.bootstrap_servers
    raise BrokerNotFoundError(
        "no Kafka to talk to: run `shopstream kafka up` for a local broker, "
        "or set KAFKA_BOOTSTRAP_SERVERS to an existing cluster"
    )


def _pick_port(previous: object, default: int, *, avoid: int | None = None) -> int:
    for candidate in (previous, default):
        if isinstance(candidate, int) and candidate != avoid and port_is_free(candidate):
            return candidate
    port = free_port()
    while port == avoid:
        port = free_port()
    return port


def _is_our_broker(pid: int, state_dir: Path) -> bool:
    # A pid file can outlive its process and the pid be reused: check the command line.
    command = pid_cmdline(pid)
    config = str(state_dir / "data" / "server.properties")
    return pid_alive(pid) and "kafka.Kafka" in command and config in command


def _read_pid(state_dir: Path) -> int | None:
    try:
        return int((state_dir / "kafka.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def _read_state(state_dir: Path) -> dict[str, object]:
    try:
        loaded = json.loads((state_dir / "kafka.json").read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


__all__ = [
    "ClusterInfo",
    "LocalBrokerStatus",
    "bootstrap_servers",
    "local_status",
    "probe_cluster",
    "start_detached",
    "stop_detached",
]
