"""`LocalKafka`: one real Kafka node (KRaft broker+controller) run as a child JVM."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from shopstream.deploy.kafka.client import admin_client
from shopstream.deploy.kafka.errors import BrokerStartError, BrokerStopError, StorageFormatError
from shopstream.deploy.kafka.jars import Progress, kafka_libs
from shopstream.deploy.kafka.node_config import (
    NodeLayout,
    free_port,
    new_cluster_id,
    port_is_free,
    write_server_properties,
)
from shopstream.deploy.kafka.process import die_with_parent
from shopstream.deploy.kafka.settings import LauncherSettings

_FORMAT_TIMEOUT_S = 120


class LocalKafka:
    """A single-node Kafka for development and tests, bound to 127.0.0.1.

    Ports default to free ones. With `bound_to_parent` (the default) the JVM gets
    SIGKILL when this Python process dies, so no broker outlives a test run; the CLI's
    detached mode turns that off. Linux ties that signal to the *thread* that started the
    JVM: start (and restart) a bound node from a thread that outlives it, not from a
    short-lived worker thread. The data dir is formatted on first start and kept.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        controller_port: int | None = None,
        version: str | None = None,
        heap_mb: int = 512,
        bound_to_parent: bool = True,
        settings: LauncherSettings | None = None,
        progress: Progress | None = None,
    ) -> None:
        port = port or free_port()
        while controller_port is None or controller_port == port:
            controller_port = free_port()
        self.layout = NodeLayout(
            data_dir=Path(data_dir), port=port, controller_port=controller_port
        )
        self._settings = settings or LauncherSettings()
        self.version = version or self._settings.kafka_version
        self._heap_mb = heap_mb
        self._bound_to_parent = bound_to_parent
        self._progress = progress or (lambda _: None)
        self._process: subprocess.Popen[bytes] | None = None
        self._console: IO[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return self.layout.bootstrap_servers

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The JVM's pid while it runs."""
        return self._process.pid if self.is_running and self._process else None

    def start(self, *, timeout: float = 120.0) -> Self:
        """Fetch jars if needed, format storage on first use, start the JVM, wait until ready.

        Ready means the broker answered a metadata request with this node's cluster id. On failure
        the JVM is stopped and `BrokerStartError` carries the tail of its logs.
        """
        if self.is_running:
            return self
        for port in (self.layout.port, self.layout.controller_port):
            # Checked up front, so a port clash fails fast and clearly rather than as a JVM crash.
            if not port_is_free(port, self.layout.host):
                raise BrokerStartError(f"port {self.layout.host}:{port} is already in use")
        libs = kafka_libs(self.version, settings=self._settings, progress=self._progress)
        java = _java()
        write_server_properties(self.layout)
        log_config = self.layout.data_dir / "log4j2.xml"
        log_config.write_bytes(
            resources.files("shopstream.deploy.kafka").joinpath("log4j2.xml").read_bytes()
        )
        jvm = [
            java,
            f"-Xmx{self._heap_mb}m",
            "-Xms64m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError",
            "-XX:-UsePerfData",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log_config}",
            f"-Dkafka.logs.dir={self.layout.data_dir}",
            "-cp",
            f"{libs}/*",
        ]
        self._format(jvm)
        self._progress(f"Starting Kafka {self.version} on {self.bootstrap_servers} ...")
        self._console = self.layout.console_log.open("ab")
        try:
            self._process = subprocess.Popen(
                [*jvm, "kafka.Kafka", str(self.layout.properties_file)],
                stdin=subprocess.DEVNULL,
                stdout=self._console,
                stderr=subprocess.STDOUT,
                # Own session: a terminal's Ctrl-C reaches Python, which stops us in order.
                start_new_session=True,
                preexec_fn=die_with_parent() if self._bound_to_parent else None,
            )
        except OSError as exc:
            self._close_console()
            raise BrokerStartError(f"could not run {java}: {exc}") from exc
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, *, timeout: float = 30.0) -> None:
        """SIGTERM (Kafka's controlled shutdown), wait up to `timeout`, then SIGKILL."""
        process, self._process = self._process, None
        try:
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    try:
                        process.wait(10)
                    except subprocess.TimeoutExpired as exc:
                        raise BrokerStopError(f"Kafka pid {process.pid} survived SIGKILL") from exc
        finally:
            self._close_console()

    def release(self) -> None:
        """Let the node run on without this object (detached mode): close our handles."""
        self._process = None
        self._close_console()

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the JVM console and of the server log, for error messages."""
        parts = []
        for path in (self.layout.console_log, self.layout.server_log):
            if path.is_file():
                text = path.read_text(errors="replace").splitlines()[-lines:]
                if text:
                    parts.append(f"[{path}]\n" + "\n".join(text))
        return "\n".join(parts)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _format(self, jvm: list[str]) -> None:
        if (self.layout.log_dir / "meta.properties").is_file():
            return
        self._progress(f"Formatting KRaft storage in {self.layout.log_dir} ...")
        command = [
            *jvm,
            "kafka.tools.StorageTool",
            "format",
            "--standalone",
            "--config",
            str(self.layout.properties_file),
            "--cluster-id",
            new_cluster_id(),
        ]
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                check=False,
                timeout=_FORMAT_TIMEOUT_S,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise StorageFormatError(f"Kafka's storage tool did not run: {exc}") from exc
        if done.returncode != 0:
            raise StorageFormatError(
                f"formatting {self.layout.log_dir} failed (exit {done.returncode}):\n"
                + (done.stdout + done.stderr).strip()
            )

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        admin: AdminClient | None = None
        cluster_id = self._cluster_id()
        while True:
            assert self._process is not None
            code = self._process.poll()
            if code is not None:
                raise BrokerStartError(
                    f"Kafka exited with code {code} while starting", log_tail=self.log_tail()
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrokerStartError(
                    f"Kafka did not answer on {self.bootstrap_servers} within {timeout:.0f} s",
                    log_tail=self.log_tail(),
                )
            # Probe the socket first: librdkafka would log every refused connection.
            if _listening(self.layout.host, self.layout.port):
                admin = admin or admin_client(self.bootstrap_servers)
                if _answers(admin, cluster_id, timeout=min(2.0, remaining)):
                    return
            time.sleep(0.2)

    def _cluster_id(self) -> str | None:
        meta = self.layout.log_dir / "meta.properties"
        for line in meta.read_text().splitlines() if meta.is_file() else []:
            key, _, value = line.partition("=")
            if key.strip() == "cluster.id":
                return value.strip()
        return None

    def _close_console(self) -> None:
        if self._console is not None:
            self._console.close()
            self._console = None


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    candidate = Path(java_home) / "bin" / "java" if java_home else None
    if candidate is not None and candidate.is_file():
        return str(candidate)
    found = shutil.which("java")
    if found is None:
        raise BrokerStartError("no `java` on PATH and no JAVA_HOME; Kafka needs Java 17+")
    return found


def _answers(admin: AdminClient, cluster_id: str | None, *, timeout: float) -> bool:
    # The cluster id proves it is our node answering, not some other broker.
    try:
        metadata = admin.list_topics(timeout=timeout)
    except KafkaException:
        return False
    return bool(metadata.brokers) and metadata.cluster_id == cluster_id


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


__all__ = [
    "LocalKafka",
]
