"""deploy/compose/: the compose file's structure, checked as YAML (no Docker engine here).

Services, images, commands, healthchecks, depends_on, volumes; every environment variable
a real setting of its service (and the settings load); secrets only through `${...}` from
a .env that git ignores, each listed in .env.example; Prometheus and Grafana pointed at
the files and ports the other services really use.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from shopstream.deploy.kafka.settings import KAFKA_VERSION
from shopstream.processors.deadletter import DeadLetterKey
from shopstream.processors.engine.settings import AggregateStageSettings, CleanSettings
from shopstream.processors.sinks.settings import ParquetSinkSettings
from shopstream.producers.collector.settings import CollectorSettings
from shopstream.producers.config import TrackerConfig

COMPOSE = Path(__file__).resolve().parents[2] / "deploy" / "compose"
ROOT = COMPOSE.parents[1]
OURS = {"topics", "collector", "clean", "aggregate", "sink-parquet"}
LONG_RUNNING = {"kafka", "collector", "clean", "aggregate", "prometheus", "grafana"}
_VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}")


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((COMPOSE / "compose.yaml").read_text("utf-8")))


def _services() -> dict[str, dict[str, Any]]:
    return dict(_compose()["services"])


def _example_env() -> dict[str, str]:
    out = {}
    for line in (COMPOSE / ".env.example").read_text("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            out[name] = value
    return out


def test_the_services() -> None:
    assert set(_services()) == {*OURS, "kafka", "prometheus", "grafana"}


def test_images_are_pinned_and_ours_are_built_from_the_repository() -> None:
    services = _services()
    assert services["kafka"]["image"] == f"apache/kafka:{KAFKA_VERSION}"  # as `shopstream kafka`
    for name in ("prometheus", "grafana"):
        image = services[name]["image"]
        assert re.fullmatch(r"[a-z/]+:v?\d+\.\d+\.\d+", image), image
    for name in OURS:
        service = services[name]
        assert service["image"] == "shopstream:local"
        build = service["build"]
        assert (COMPOSE / build["context"]).resolve() == ROOT
        dockerfile = ROOT / build["dockerfile"]
        assert dockerfile.is_file()
        assert 'ENTRYPOINT ["shopstream"]' in dockerfile.read_text("utf-8")


def test_kafka_runs_kraft_and_everyone_reaches_it_by_its_advertised_name() -> None:
    services = _services()
    env = services["kafka"]["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert not any("ZOOKEEPER" in name for name in env)
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    advertised = env["KAFKA_ADVERTISED_LISTENERS"].removeprefix("PLAINTEXT://")
    variables = {
        "SHOPSTREAM_BOOTSTRAP_SERVERS",
        "KAFKA_BOOTSTRAP_SERVERS",
        "SHOPSTREAM_TRACKER_BOOTSTRAP_SERVERS",
    }
    for name in OURS:
        given = {k: v for k, v in services[name]["environment"].items() if k in variables}
        assert given, name
        assert set(given.values()) == {advertised}, name
    for name in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
    ):
        assert env[name] == 1  # one broker: the stages' transactions need these at 1


def test_commands() -> None:
    services = _services()
    assert services["topics"]["command"][:2] == ["topics", "create"]
    assert services["clean"]["command"][:2] == ["process", "clean"]
    assert services["aggregate"]["command"][:2] == ["process", "aggregate"]
    assert services["collector"]["command"] == ["collector"]
    assert services["sink-parquet"]["command"] == ["sink", "parquet", "--out", "/data"]
    assert "parquet-data:/data" in services["sink-parquet"]["volumes"]
    for stage in ("clean", "aggregate"):
        assert "--no-create-topics" in services[stage]["command"]  # the topics service did


def _port(service: dict[str, Any]) -> int:
    command = service["command"]
    if "--metrics-port" in command:
        return int(command[command.index("--metrics-port") + 1])
    return int(service["environment"]["SHOPSTREAM_COLLECTOR_PORT"])


def test_healthchecks_ask_readiness_on_the_port_each_service_serves() -> None:
    services = _services()
    for name in LONG_RUNNING:
        check = services[name]["healthcheck"]
        assert check["test"][0] in {"CMD", "CMD-SHELL"}, name
        assert {"interval", "timeout", "retries"} <= set(check), name
    for name in ("collector", "clean", "aggregate"):
        probe = " ".join(services[name]["healthcheck"]["test"])
        assert f"http://127.0.0.1:{_port(services[name])}/readyz" in probe, name


def test_depends_on_waits_for_what_each_service_needs() -> None:
    services = _services()
    for name, service in services.items():
        for dependency in service.get("depends_on", []):
            assert dependency in services, f"{name} -> {dependency}"
    assert services["topics"]["depends_on"] == {"kafka": {"condition": "service_healthy"}}
    assert services["topics"]["restart"] == "no"
    for name in OURS - {"topics"}:
        assert services[name]["depends_on"] == {
            "topics": {"condition": "service_completed_successfully"}
        }, name
    assert services["grafana"]["depends_on"]["prometheus"] == {"condition": "service_healthy"}
    # No cycles.
    seen: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"cycle {(*path, name)}"
        if name in seen:
            return
        seen.add(name)
        for dependency in services[name].get("depends_on", []):
            visit(dependency, (*path, name))

    for name in services:
        visit(name, ())


def test_named_volumes_are_declared() -> None:
    compose = _compose()
    declared = set(compose["volumes"])
    used = set()
    for service in compose["services"].values():
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            if not source.startswith((".", "/")):
                used.add(source)
    assert used == declared


def _settings_of(name: str) -> list[type[BaseSettings]]:
    return {
        "clean": [CleanSettings],
        "aggregate": [AggregateStageSettings],
        "collector": [CollectorSettings, TrackerConfig],
        "sink-parquet": [ParquetSinkSettings],
        "topics": [],
    }[name]


def known_variables(settings: type[BaseSettings]) -> set[str]:
    prefix = str(settings.model_config.get("env_prefix", ""))
    names = set()
    for name, field in settings.model_fields.items():
        if isinstance(field.validation_alias, AliasChoices):
            names |= {
                c for c in field.validation_alias.choices if isinstance(c, str) and c.isupper()
            }
        names.add(f"{prefix}{name}".upper())
    return names


def _resolved(value: Any, variables: dict[str, str]) -> str:
    """``${NAME}``, ``${NAME:-default}``, ``${NAME:?error}`` as compose resolves them."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        given = variables.get(name, "")
        default = re.match(r"\$\{[A-Z0-9_]+:-([^}]*)\}", match.group(0))
        return given or (default.group(1) if default else "")

    return _VARIABLE.sub(one, str(value))


@pytest.mark.parametrize("name", sorted(OURS))
def test_every_variable_is_a_real_setting_and_the_settings_load(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in list(os.environ):
        if variable.startswith("SHOPSTREAM_") or variable == "KAFKA_BOOTSTRAP_SERVERS":
            monkeypatch.delenv(variable)
    variables = {
        **_example_env(),
        "SHOPSTREAM_PSEUDONYM_KEY": secrets.token_urlsafe(32),
        "SHOPSTREAM_DLQ_KEY": DeadLetterKey.generate(),
        "GRAFANA_ADMIN_PASSWORD": "x",
    }
    environment = {k: _resolved(v, variables) for k, v in _services()[name]["environment"].items()}
    classes = _settings_of(name)
    known = set().union(*(known_variables(c) for c in classes)) if classes else set()
    unknown = {v for v in environment if v.startswith("SHOPSTREAM_") and v not in known}
    assert not unknown, f"{name}: not settings of it: {unknown}"
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)
    for settings in classes:
        loaded = settings()
        if isinstance(loaded, CleanSettings | AggregateStageSettings):
            assert loaded.metrics_host == "0.0.0.0"  # noqa: S104 — Prometheus scrapes from its container
        if isinstance(loaded, CollectorSettings):
            assert loaded.host == "0.0.0.0"  # noqa: S104
            assert loaded.tracker.spool_dir is not None


def test_keys_reach_only_stage_one_and_only_from_the_ignored_env_file() -> None:
    services = _services()
    for name, service in services.items():
        for variable, value in (service.get("environment") or {}).items():
            if variable in {"SHOPSTREAM_PSEUDONYM_KEY", "SHOPSTREAM_DLQ_KEY"}:
                assert name == "clean", name
                assert str(value).startswith(f"${{{variable}:?"), "a key written into compose.yaml"
    assert "SHOPSTREAM_PSEUDONYM_KEY" in services["clean"]["environment"]
    assert "SHOPSTREAM_DLQ_KEY" in services["clean"]["environment"]
    example = _example_env()
    assert example["SHOPSTREAM_PSEUDONYM_KEY"] == ""
    assert example["SHOPSTREAM_DLQ_KEY"] == ""
    ignored = (COMPOSE / ".gitignore").read_text("utf-8").splitlines()
    assert ".env" in ignored


def test_every_interpolated_variable_is_in_the_example() -> None:
    used = set(_VARIABLE.findall((COMPOSE / "compose.yaml").read_text("utf-8")))
    assert used <= set(_example_env())


def test_prometheus_gets_our_rules_and_scrapes_each_service_on_its_port() -> None:
    services = _services()
    mounts = dict(m.split(":")[:2] for m in services["prometheus"]["volumes"])
    assert mounts["../prometheus"] == "/etc/prometheus"
    config = yaml.safe_load((COMPOSE / "../prometheus/prometheus.yml").read_text("utf-8"))
    assert config["rule_files"] == ["alerts.yml"]
    jobs = {c["job_name"]: c for c in config["scrape_configs"]}
    for service in ("clean", "aggregate", "collector"):
        (discovery,) = jobs[f"shopstream-{service}"]["dns_sd_configs"]
        assert discovery["names"] == [service]
        assert discovery["port"] == _port(services[service])


def test_grafana_gets_the_provisioning_and_the_dashboard() -> None:
    grafana = _services()["grafana"]
    mounts = {m.split(":")[1]: m.split(":")[0] for m in grafana["volumes"]}
    provisioning = COMPOSE / mounts["/etc/grafana/provisioning"]
    assert (provisioning / "datasources/prometheus.yaml").is_file()
    provider = yaml.safe_load((provisioning / "dashboards/shopstream.yaml").read_text("utf-8"))
    folder = provider["providers"][0]["options"]["path"]
    dashboard = mounts[f"{folder}/shopstream.json"]
    assert (COMPOSE / dashboard).resolve() == ROOT / "deploy/grafana/shopstream.json"
    assert grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"] == (
        f"{folder}/shopstream.json"
    )
    assert str(grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"]).startswith("${")
