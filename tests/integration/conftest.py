"""Integration fixtures: a real Kafka broker for the session, and topics made on it.

`kafka_bootstrap` starts a single-node Kafka on free ports in a temporary data dir,
unless KAFKA_BOOTSTRAP_SERVERS names an existing cluster. It is not autouse, so only
tests that ask for a broker pay for one. Everything collected below this folder is
marked `integration` (deselect with `-m "not integration"`).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from shopstream.deploy.kafka import LauncherSettings, LocalKafka, admin_client

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
