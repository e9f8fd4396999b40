"""Every metric the dashboard and the alert rules name exists where it is meant to come from.

The stages' names come from a live scrape of both stages' /metrics after some traffic;
the SDK tracker's and the collector's from their own registries, built in-process (they
run in shop sites and the collector, not in the stages). ``up`` is Prometheus's own.
A renamed metric breaks this test instead of silently emptying a panel or an alert.
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry, generate_latest

from shopstream.producers.collector.metrics import CollectorMetrics
from shopstream.producers.stats import TrackerStats, register_metrics
from tests.integration.pipeline import Pipeline, StageProcess, run_simulator, wait_until

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_OWN = {"up"}

_KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "offset", "bool", "inf", "nan", "atan2",
}  # fmt: skip


def metric_names(promql: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, labels, keywords left out)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', promql)  # string literals
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges and subqueries
    text = re.sub(
        r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text
    )  # label lists
    text = re.sub(r"\boffset\s+\S+", "", text)
    names = set()
    for match in re.finditer(r"(?<![\w$.:])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()", text):
        name = match.group(1)
        if name.lower() not in _KEYWORDS:
            names.add(name)
    return names


def test_metric_names_parse() -> None:
    assert metric_names(
        'sum by (stage, reason) (rate(shopstream_rejections_total{reason!="x"}[5m]))'
        " / on (stage) group_left () sum by (stage) (rate(shopstream_events_in_total[5m])) > 0.01"
        " and on (stage) max(x offset 10m) unless absent(up{job='a'})"
    ) == {"shopstream_rejections_total", "shopstream_events_in_total", "x", "up"}
    assert metric_names(
        "histogram_quantile(0.99, sum by (le) (rate(h_bucket[$__rate_interval])))"
    ) == {"h_bucket"}


def _used_names() -> dict[str, set[str]]:
    """metric name -> where it is used."""
    used: dict[str, set[str]] = {}
    dashboard = json.loads((ROOT / "deploy/grafana/shopstream.json").read_text("utf-8"))
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            for name in metric_names(target["expr"]):
                used.setdefault(name, set()).add(f"dashboard: {panel['title']}")
    rules = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text("utf-8"))
    for group in rules["groups"]:
        for rule in group["rules"]:
            for name in metric_names(rule["expr"]):
                used.setdefault(name, set()).add(f"alert: {rule['alert']}")
    return used


def _exposed(text: str) -> set[str]:
    """Families (# TYPE lines, so families with no sample yet count) and sample names."""
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split()[2])
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def _producer_names() -> set[str]:
    registry = CollectorRegistry()
    register_metrics(
        registry,
        lambda: TrackerStats(
            tracked=0, sent=0, failed=0, dropped=0, spooled=0, rejected=0,
            queue_depth=0, in_flight=0, spool_bytes=0,
        ),
    )  # fmt: skip
    metrics = CollectorMetrics(registry)
    metrics.requests.labels("/v1/events", "200").inc()
    metrics.request_bytes.observe(100)
    return _exposed(generate_latest(registry).decode())


def test_every_metric_of_the_dashboard_and_the_alerts_exists(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    run_simulator(
        pipeline.bootstrap, pipeline.topics.raw, tmp_path / "sent.jsonl",
        events=150, buyers=10, bad_fraction=0.2, seed=5,
    )  # fmt: skip
    clean = pipeline.stage("clean", "--metrics-port", "0")
    aggregate = pipeline.stage("aggregate", "--metrics-port", "0")
    scraped: set[str] = set()
    for stage in (clean, aggregate):
        base = _base_url(stage)
        # A labelled counter has no sample before its first event: this one proves the
        # stage consumed (and so ran its transactional producer).
        wait_until(
            lambda base=base: "shopstream_events_in_total{" in _get(base),
            timeout=120, what=f"{stage.stage} processing",
        )  # fmt: skip
        scraped |= _exposed(_get(base))
    producers = _producer_names()

    used = _used_names()
    assert "shopstream_consumer_lag" in used  # the parsing found the names at all
    missing = {
        name: sorted(where)
        for name, where in used.items()
        if name not in scraped | producers | PROMETHEUS_OWN
    }
    assert not missing, f"named but exported by nothing: {missing}"
    # Stage metrics come from the stages, not only from the producers' registry.
    stage_names = {n for n in used if n not in producers | PROMETHEUS_OWN}
    assert stage_names <= scraped
    assert "shopstream_shop_events_total" in stage_names


def _base_url(stage: StageProcess) -> str:
    marker = "metrics and probes on http://"
    wait_until(lambda: marker in stage.log(), timeout=60, what="the metrics port")
    return "http://" + stage.log().split(marker)[1].split("/")[0] + "/metrics"


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 — loopback only
        return str(response.read().decode())
