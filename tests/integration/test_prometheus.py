"""A real Prometheus (Debian's package) scrapes both stages and evaluates our alert rules.

The rules are deploy/prometheus/alerts.yml with every `for:` set to 0s (the expressions
are the production ones); Prometheus scrapes and evaluates every second. With good
traffic no alert fires; a burst of bad events makes ShopstreamDeadLetterRateHigh go from
inactive to firing, labelled with the stage and the dead-letter reason.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from shopstream.deploy.kafka.node_config import free_port
from tests.integration.pipeline import (
    Pipeline,
    StageProcess,
    run_simulator,
    start_simulator,
    wait_until,
)

ALERTS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"
DEAD_LETTERS = "ShopstreamDeadLetterRateHigh"


class Prometheus:
    """``prometheus`` on a free loopback port, in a temporary folder, until :meth:`stop`."""

    def __init__(self, folder: Path, targets: dict[str, str]) -> None:
        binary = shutil.which("prometheus")
        assert binary, "prometheus is missing: `make prometheus` installs Debian's package"
        rules = yaml.safe_load(ALERTS.read_text("utf-8"))
        for group in rules["groups"]:
            for rule in group["rules"]:
                rule["for"] = "0s"
        (folder / "alerts.yml").write_text(yaml.safe_dump(rules, sort_keys=False))
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": ["alerts.yml"],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": [target]}]}
                for job, target in targets.items()
            ],
        }
        (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.url = f"http://127.0.0.1:{free_port()}"
        self._log = folder / "prometheus.log"
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    binary,
                    f"--config.file={folder / 'prometheus.yml'}",
                    f"--storage.tsdb.path={folder / 'data'}",
                    f"--web.listen-address={self.url.removeprefix('http://')}",
                ],
                cwd=folder,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(self._ready, timeout=30, what=f"Prometheus at {self.url}\n{self.log()}")

    def _ready(self) -> bool:
        assert self._process.poll() is None, f"Prometheus exited:\n{self.log()}"
        try:
            return _get(f"{self.url}/-/ready").startswith("Prometheus")
        except OSError:
            return False

    def api(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        body = json.loads(_get(f"{self.url}/api/v1/{path}{query}"))
        assert body["status"] == "success", body
        return body["data"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        data = self.api("query", query=promql)
        assert data["resultType"] == "vector"
        return list(data["result"])

    def alert_rule(self, name: str) -> dict[str, Any]:
        for group in self.api("rules", type="alert")["groups"]:
            for rule in group["rules"]:
                if rule["name"] == name:
                    return dict(rule)
        raise AssertionError(f"no alert rule {name} loaded")

    def firing(self) -> list[dict[str, Any]]:
        return [a for a in self.api("alerts")["alerts"] if a["state"] == "firing"]

    def log(self) -> str:
        return self._log.read_text("utf-8", errors="replace")[-4000:]

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)


@pytest.fixture
def stages(pipeline: Pipeline) -> dict[str, str]:
    """Both stages with their metrics ports: job name -> host:port."""
    clean = pipeline.stage("clean", "--metrics-port", "0")
    aggregate = pipeline.stage("aggregate", "--metrics-port", "0")
    return {"shopstream-clean": _address(clean), "shopstream-aggregate": _address(aggregate)}


@pytest.fixture
def prometheus(stages: dict[str, str], tmp_path: Path) -> Iterator[Prometheus]:
    server = Prometheus(tmp_path, stages)
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.timeout(180)
def test_dead_letter_alert_goes_from_inactive_to_firing(
    pipeline: Pipeline, stages: dict[str, str], prometheus: Prometheus, tmp_path: Path
) -> None:
    run_simulator(
        pipeline.bootstrap, pipeline.topics.raw, tmp_path / "good.jsonl",
        events=200, buyers=20, bad_fraction=0, seed=11,
    )  # fmt: skip

    # Our series, as Prometheus stored them from its own scrapes of both stages.
    def consumed(job: str) -> float:
        rows = prometheus.query(f'sum(shopstream_events_in_total{{job="{job}"}})')
        return float(rows[0]["value"][1]) if rows else 0.0

    wait_until(lambda: consumed("shopstream-clean") >= 200, timeout=60, what="stage 1's count")
    wait_until(lambda: consumed("shopstream-aggregate") > 0, timeout=60, what="stage 2's count")
    series = prometheus.query("shopstream_events_in_total")
    assert {row["metric"]["job"] for row in series} == set(stages)
    assert {row["metric"]["stage"] for row in series} == {"clean", "aggregate"}
    targets = prometheus.api("targets")["activeTargets"]
    assert sorted(t["health"] for t in targets) == ["up", "up"], targets

    # Healthy pipeline, good events only: every rule evaluated, none fires. /readyz
    # refreshes shopstream_stage_ready, as the orchestrator's readiness probe does.
    for address in stages.values():
        wait_until(lambda address=address: _ready(address), timeout=60, what=f"{address} ready")
    time.sleep(3)  # a few evaluation rounds over the fresh samples
    rule = prometheus.alert_rule(DEAD_LETTERS)
    assert rule["state"] == "inactive", rule
    assert rule["health"] == "ok", rule
    assert prometheus.firing() == []

    # A burst of bad events, spread over ~8 s so that the counters rise between scrapes.
    burst = start_simulator(
        pipeline.bootstrap, pipeline.topics.raw, tmp_path / "bad.jsonl", tmp_path / "sim.log",
        events=400, buyers=20, bad_fraction=0.5, seed=12, rate=50,
    )  # fmt: skip
    try:

        def dead_letter_alerts() -> list[dict[str, Any]]:
            return [a for a in prometheus.firing() if a["labels"]["alertname"] == DEAD_LETTERS]

        wait_until(lambda: bool(dead_letter_alerts()), timeout=60, what=f"{DEAD_LETTERS} firing")
    finally:
        assert burst.wait(60) == 0
    alerts = dead_letter_alerts()
    assert {a["labels"]["stage"] for a in alerts} == {"clean"}
    reasons = {a["labels"]["reason"] for a in alerts}
    assert reasons <= {
        "not_avro", "truncated", "unknown_schema", "malformed", "event_time_window",
        "total_matches_items", "max", "min", "max_length", "min_length", "format",
    }, reasons  # fmt: skip
    assert reasons, alerts
    first = alerts[0]
    assert first["annotations"]["runbook_url"].endswith(
        "operations.md#shopstreamdeadletterratehigh"
    )
    assert f"for {first['labels']['reason']}" in first["annotations"]["summary"]
    assert prometheus.alert_rule(DEAD_LETTERS)["state"] == "firing"


def _address(stage: StageProcess) -> str:
    marker = "metrics and probes on http://"
    wait_until(lambda: marker in stage.log(), timeout=60, what="the metrics port")
    return stage.log().split(marker)[1].split("/")[0]


def _ready(address: str) -> bool:
    try:
        return bool(json.loads(_get(f"http://{address}/readyz"))["ok"])
    except OSError:
        return False  # 503 while not ready


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 — loopback only
        return str(response.read().decode())
