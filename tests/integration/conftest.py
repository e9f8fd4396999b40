"""Integration fixtures: a real Kafka broker for the session, and topics made on it.

`kafka_bootstrap` starts a single-node Kafka on free ports in a temporary data dir,
unless KAFKA_BOOTSTRAP_SERVERS names an existing cluster. It is not autouse, so only
tests that ask for a broker pay for one. Everything collected below this folder is
marked `integration` (deselect with `-m "not integration"`).
"""

from __future__ import annotations

import contextlib
import secrets
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from shopstream.deploy.kafka import LauncherSettings, LocalKafka, admin_client
from shopstream.processors.deadletter import DeadLetterKey
from tests.integration.pipeline import Pipeline, PipelineTopics

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(_HERE):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def kafka_bootstrap(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Bootstrap servers of a broker that lives for the whole test session."""
    external = LauncherSettings().external_bootstrap_servers
    if external:
        yield external
        return
    broker = LocalKafka(tmp_path_factory.mktemp("kafka"), progress=_progress(request.config))
    broker.start(timeout=180)
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


@pytest.fixture
def kafka_admin(kafka_bootstrap: str) -> AdminClient:
    return admin_client(kafka_bootstrap)


@pytest.fixture
def topic_factory(
    kafka_admin: AdminClient, name_factory: Callable[[str], str]
) -> Iterator[Callable[..., str]]:
    """Create uniquely named topics; they are deleted when the test ends.

    `topic_factory(partitions=1, config={"cleanup.policy": "compact"}, stem="orders")`
    """
    # Imported here: NewTopic is public but only implicitly re-exported by the stubs.
    from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]

    created: list[str] = []

    def make(
        *, partitions: int = 1, config: dict[str, str] | None = None, stem: str = "topic"
    ) -> str:
        name = name_factory(stem)
        futures = kafka_admin.create_topics(
            [NewTopic(name, partitions, 1, config=config or {})], operation_timeout=30
        )
        futures[name].result(timeout=60)
        created.append(name)
        return name

    yield make
    if created:
        for future in kafka_admin.delete_topics(created, operation_timeout=30).values():
            # Best effort: a leftover topic only costs disk on a temporary broker.
            with contextlib.suppress(KafkaException):
                future.result(timeout=60)


def _progress(config: pytest.Config) -> Callable[[str], None]:
    """Show the launcher's progress (the first run downloads jars) despite output capture."""
    capture = config.pluginmanager.getplugin("capturemanager")

    def say(message: str) -> None:
        if capture is None:
            return
        with capture.global_and_fixture_disabled():
            sys.stderr.write(f"\n[kafka] {message}\n")

    return say


@pytest.fixture
def pipeline(
    kafka_bootstrap: str,
    topic_factory: Callable[..., str],
    name_factory: Callable[[str], str],
    tmp_path: Path,
) -> Iterator[Pipeline]:
    """Fresh pipeline topics, groups and keys; stages started by the test, killed at the end."""
    topics = PipelineTopics(
        raw=topic_factory(partitions=3, stem="raw"),
        clean=topic_factory(partitions=3, stem="clean"),
        dlq=topic_factory(partitions=1, stem="dlq"),
        features=topic_factory(partitions=3, config={"cleanup.policy": "compact"}, stem="features"),
    )
    pseudonym_key, dlq_key = secrets.token_urlsafe(32), DeadLetterKey.generate()
    env = {
        **topics.env(),
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "SHOPSTREAM_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "SHOPSTREAM_CLEAN_GROUP": name_factory("clean"),
        "SHOPSTREAM_AGGREGATE_GROUP": name_factory("aggregate"),
        "SHOPSTREAM_PSEUDONYM_KEY": pseudonym_key,
        "SHOPSTREAM_PSEUDONYM_KEY_ID": "itest",
        "SHOPSTREAM_DLQ_KEY": dlq_key,
        "SHOPSTREAM_COMMIT_INTERVAL_S": "0.5",
    }
    running = Pipeline(kafka_bootstrap, topics, env, tmp_path, pseudonym_key, dlq_key, [])
    yield running
    for process in running.processes:
        if process.running:
            process.kill()


# --- PostgreSQL ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """DSN of a PostgreSQL server for the session (superuser, database ``postgres``).

    SHOPSTREAM_TEST_POSTGRES_DSN names an existing server; otherwise one is started with
    initdb + pg_ctl in a temporary directory on a free loopback port, and stopped after.
    """
    import os

    from tests.integration.postgres_server import LocalPostgres

    external = os.environ.get("SHOPSTREAM_TEST_POSTGRES_DSN")
    if external:
        yield external
        return
    server = LocalPostgres()
    try:
        server.start()
        yield server.dsn
    finally:
        server.stop()


@pytest.fixture
def postgres_database_factory(postgres_dsn: str, run_id: str) -> Iterator[Callable[[], str]]:
    """Make fresh, empty databases on the session's server; dropped when the test ends.

    `dsn = postgres_database_factory()`
    """
    import uuid

    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    created: list[str] = []

    def make() -> str:
        name = f"test_{run_id}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        created.append(name)
        return make_conninfo(postgres_dsn, dbname=name)

    yield make
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        for name in created:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
