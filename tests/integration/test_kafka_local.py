"""The local Kafka launcher against the real broker: client traffic, CLI, process lifetime."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer
from confluent_kafka.admin import AdminClient

from shopstream.deploy.kafka import (
    BrokerNotFoundError,
    BrokerStartError,
    LauncherSettings,
    LocalKafka,
    admin_client,
    bootstrap_servers,
    kafka_libs,
)
from shopstream.deploy.kafka.node_config import NodeLayout, free_port, server_properties
from shopstream.deploy.kafka.process import pid_alive, wait_gone

_CLI = "from shopstream.processors.cli import main; main()"


def _local_env(state_dir: Path) -> dict[str, str]:
    """The environment of a CLI run that must use its own local broker."""
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    env["SHOPSTREAM_STATE_DIR"] = str(state_dir)
    return env


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _CLI, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _consume(config: dict[str, str], topic: str, count: int) -> list[Message]:
    consumer = Consumer({"auto.offset.reset": "earliest", "enable.auto.commit": False, **config})
    consumer.subscribe([topic])
    got: list[Message] = []
    try:
        for _ in range(120):  # 0.5 s polls: a minute at most
            message = consumer.poll(0.5)
            if message is None:
                continue
            assert message.error() is None, message.error()
            got.append(message)
            if len(got) == count:
                consumer.commit(message=message, asynchronous=False)
                break
    finally:
        consumer.close()
    return got


def test_broker_answers_metadata(kafka_admin: AdminClient) -> None:
    metadata = kafka_admin.list_topics(timeout=10)
    assert len(metadata.brokers) >= 1
    assert metadata.cluster_id


def test_produce_then_consume_in_a_group(
    kafka_bootstrap: str, topic_factory: Callable[..., str], name_factory: Callable[[str], str]
) -> None:
    topic = topic_factory(partitions=1)
    producer = Producer(
        {"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True, "acks": "all"}
    )
    errors: list[KafkaError] = []
    producer.produce(
        topic,
        key=b"shop-1:buyer-7",
        value=b"page_view",
        on_delivery=lambda e, _: errors.append(e) if e else None,
    )
    assert producer.flush(30) == 0
    assert errors == []

    group = {"bootstrap.servers": kafka_bootstrap, "group.id": name_factory("group")}
    [message] = _consume(group, topic, 1)
    assert (message.key(), message.value()) == (b"shop-1:buyer-7", b"page_view")


def test_transactions_commit_on_a_single_node(
    kafka_bootstrap: str, topic_factory: Callable[..., str], name_factory: Callable[[str], str]
) -> None:
    # Needs __transaction_state with replication factor 1 and min ISR 1.
    topic = topic_factory(partitions=1)
    producer = Producer(
        {"bootstrap.servers": kafka_bootstrap, "transactional.id": name_factory("txn")}
    )
    producer.init_transactions(60)
    for value, commit in ((b"first", True), (b"aborted", False), (b"second", True)):
        producer.begin_transaction()
        producer.produce(topic, value=value)
        if commit:
            producer.commit_transaction(60)
        else:
            producer.flush(30)
            producer.abort_transaction(60)

    reader = {
        "bootstrap.servers": kafka_bootstrap,
        "group.id": name_factory("group"),
        "isolation.level": "read_committed",
    }
    assert [m.value() for m in _consume(reader, topic, 2)] == [b"first", b"second"]


def test_cli_up_is_idempotent_and_down_stops_the_broker(tmp_path: Path) -> None:
    env = _local_env(tmp_path / "state")
    port = free_port()
    pid: int | None = None
    try:
        up = _cli("kafka", "up", "--port", str(port), env=env)
        assert up.returncode == 0, up.stderr
        assert up.stdout.strip() == f"127.0.0.1:{port}"
        status = _cli("kafka", "status", env=env)
        assert status.returncode == 0, status.stderr
        assert "running: yes" in status.stdout
        assert f"bootstrap servers: 127.0.0.1:{port}" in status.stdout
        assert f"data dir: {tmp_path / 'state' / 'data'}" in status.stdout
        assert "version: 4." in status.stdout
        pid = int(status.stdout.split("pid: ")[1].split()[0])
        assert pid_alive(pid)

        again = _cli("kafka", "up", env=env)
        assert again.returncode == 0, again.stderr
        assert again.stdout.strip() == f"127.0.0.1:{port}"
        assert "already running" in again.stderr
        assert f"pid: {pid}" in _cli("kafka", "status", env=env).stdout
        assert admin_client(f"127.0.0.1:{port}").list_topics(timeout=10).brokers

        down = _cli("kafka", "down", env=env)
        assert down.returncode == 0, down.stderr
        assert not pid_alive(pid)
        stopped = _cli("kafka", "status", env=env)
        assert stopped.returncode == 1
        assert "running: no" in stopped.stdout
        assert _cli("kafka", "down", env=env).returncode == 0
    finally:
        if pid is not None and pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_cli_with_an_existing_cluster_starts_nothing(kafka_bootstrap: str, tmp_path: Path) -> None:
    env = {**_local_env(tmp_path), "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
    up = _cli("kafka", "up", env=env)
    assert up.returncode == 0, up.stderr
    assert up.stdout.strip() == kafka_bootstrap
    assert "not starting" in up.stderr
    assert not (tmp_path / "kafka.pid").exists()

    status = _cli("kafka", "status", env=env)
    assert status.returncode == 0, status.stderr
    assert "reachable: yes" in status.stdout
    assert re.search(r"^brokers: \d+@\S+:\d+", status.stdout, re.MULTILINE)

    nobody = {**env, "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"}
    unreachable = _cli("kafka", "status", "--timeout", "2", env=nobody)
    assert unreachable.returncode == 1
    assert "reachable: no" in unreachable.stdout


@pytest.mark.timeout(300)
def test_jvm_dies_when_its_python_parent_is_killed(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys, time
        from pathlib import Path
        from shopstream.deploy.kafka import LocalKafka

        broker = LocalKafka(Path(sys.argv[1])).start(timeout=180)
        print(broker.pid, flush=True)
        time.sleep(600)
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path / "kafka")],
        env=_local_env(tmp_path / "state"),
        stdout=subprocess.PIPE,
        text=True,
    )
    jvm: int | None = None
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        assert line.strip().isdigit(), f"parent printed {line!r}, exit {parent.poll()}"
        jvm = int(line)
        assert pid_alive(jvm)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        assert wait_gone(jvm, 15), f"JVM {jvm} outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(10)
        if jvm is not None and pid_alive(jvm):
            os.kill(jvm, signal.SIGKILL)


def test_jars_are_resolved_once_with_a_working_log4j2_binding(tmp_path: Path) -> None:
    settings = LauncherSettings(cache_dir=tmp_path)
    said: list[str] = []
    libs = kafka_libs(settings=settings, progress=said.append)
    assert libs == tmp_path / "kafka" / settings.kafka_version / "libs"
    jars = {jar.name for jar in libs.glob("*.jar")}
    assert f"kafka_2.13-{settings.kafka_version}.jar" in jars
    assert any(name.startswith("log4j-slf4j2-impl-") for name in jars)
    # kafka_2.13 asks for slf4j-api 1.7, which would not see the SLF4J 2 binding.
    [slf4j] = [name for name in jars if name.startswith("slf4j-api-")]
    assert slf4j.startswith("slf4j-api-2."), slf4j
    assert said, "the first resolution reports progress"

    said.clear()
    assert kafka_libs(settings=settings, progress=said.append) == libs
    assert said == []


def test_start_refuses_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(BrokerStartError, match=f"127.0.0.1:{port} is already in use"):
            LocalKafka(tmp_path / "kafka", port=port).start()


def test_a_broker_that_dies_while_starting_reports_its_log(tmp_path: Path) -> None:
    broker = LocalKafka(tmp_path / "kafka")
    broker.start()
    broker.stop()
    meta = broker.layout.log_dir / "meta.properties"
    meta.write_text(meta.read_text().replace("node.id=1", "node.id=7"))
    with pytest.raises(BrokerStartError, match="exited with code") as failure:
        broker.start(timeout=120)
    assert "Stored node id 7" in failure.value.log_tail
    assert str(broker.layout.server_log) in str(failure.value)
    assert not broker.is_running


def test_bootstrap_servers_prefers_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPSTREAM_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    with pytest.raises(BrokerNotFoundError, match="shopstream kafka up"):
        bootstrap_servers()
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", " broker-1:9092,broker-2:9092 ")
    assert bootstrap_servers() == "broker-1:9092,broker-2:9092"
    assert LauncherSettings().kafka_state_dir() == tmp_path


def test_node_config_fits_a_single_node() -> None:
    props = server_properties(NodeLayout(Path("/data"), port=9092, controller_port=9093))
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["auto.create.topics.enable"] == "false"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.replication.factor",
    ):
        assert props[key] == "1"
