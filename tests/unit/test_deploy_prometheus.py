"""The alert rules and scrape configs in deploy/prometheus/, checked by Debian's promtool.

`promtool check rules` / `check config` prove the files load; `promtool test rules` runs
each alert's expression over synthetic series and proves it fires when it should and stays
quiet when it should not. Every alert carries a runbook link to an anchor that exists in
docs/operations.md. promtool comes with `make prometheus`; these tests never skip.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
ALERTS = PROMETHEUS / "alerts.yml"
OPERATIONS = ROOT / "docs" / "operations.md"


def _promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is missing: `make prometheus` installs Debian's prometheus package"
    return path


def _rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(ALERTS.read_text("utf-8"))
    return [rule for group in doc["groups"] for rule in group["rules"]]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_promtool_check_rules_passes() -> None:
    result = _run("check", "rules", str(ALERTS), cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in result.stdout


def test_compose_scrape_config_passes_promtool() -> None:
    result = _run("check", "config", "prometheus.yml", cwd=PROMETHEUS)
    assert result.returncode == 0, result.stdout + result.stderr
    jobs = {
        c["job_name"]
        for c in yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())["scrape_configs"]
    }
    assert {"shopstream-clean", "shopstream-aggregate", "shopstream-collector"} <= jobs


def test_kubernetes_scrape_config_passes_promtool_with_static_discovery(tmp_path: Path) -> None:
    """Debian builds Prometheus without Kubernetes discovery: promtool checks the rest
    (relabelling, rule files) with the discovery swapped for a static target."""
    config = yaml.safe_load((PROMETHEUS / "prometheus-k8s.yml").read_text("utf-8"))
    (job,) = config["scrape_configs"]
    assert job["kubernetes_sd_configs"] == [
        {"role": "pod", "namespaces": {"names": ["shopstream"]}}
    ]
    job["static_configs"] = [{"targets": ["127.0.0.1:9310"]}]
    del job["kubernetes_sd_configs"]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    shutil.copy(ALERTS, tmp_path / "alerts.yml")
    result = _run("check", "config", "prometheus.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    targets = {r.get("target_label") for r in job["relabel_configs"]}
    assert {"job", "instance", "__address__"} <= targets


def test_every_rule_is_an_alert_with_summary_description_and_runbook() -> None:
    names = [rule["alert"] for rule in _rules()]
    assert len(names) == len(set(names))
    for rule in _rules():
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        annotations = rule["annotations"]
        assert annotations["summary"].strip(), rule["alert"]
        assert annotations["description"].strip(), rule["alert"]
        url = urllib.parse.urlparse(annotations["runbook_url"])
        assert url.path.endswith("/docs/operations.md"), rule["alert"]
        assert url.fragment == rule["alert"].lower(), rule["alert"]


def test_the_rules_watch_what_ops_asked_for() -> None:
    """Issue 6's list, each by the metric it must read."""
    by_metric = {
        "consumer lag": "shopstream_consumer_lag",
        "dead-letter rate per reason": "shopstream_rejections_total",
        "a silent shop": "shopstream_shop_events_total",
        "processing errors": 'reason="internal_error"',
        "spool filling": "shopstream_tracker_spool_bytes",
        "state restore stuck": "shopstream_state_restore_remaining",
        "stage down": "up{",
        "stage not ready": "shopstream_stage_ready",
    }
    exprs = "\n".join(rule["expr"] for rule in _rules())
    for concern, needle in by_metric.items():
        assert needle in exprs, concern


def _github_anchors(markdown: str) -> set[str]:
    """Heading anchors as GitHub renders them (lower case, punctuation dropped, - for space),
    plus explicit <a id="..."> / <a name="..."> targets."""
    anchors = set(re.findall(r'<a (?:id|name)="([^"]+)"', markdown))
    seen: dict[str, int] = {}
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
            continue
        match = re.match(r"#{1,6} +(.*?) *#*$", line)
        if in_code or not match:
            continue
        slug = re.sub(r"[^\w\- ]", "", match.group(1).lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def test_every_runbook_anchor_exists_in_the_operations_guide() -> None:
    anchors = _github_anchors(OPERATIONS.read_text("utf-8"))
    missing = [
        rule["alert"]
        for rule in _rules()
        if urllib.parse.urlparse(rule["annotations"]["runbook_url"]).fragment not in anchors
    ]
    assert not missing, f"docs/operations.md has no section for {missing}"


# -- promtool test rules: each alert over synthetic series -----------------------------------
# The rules are loaded without their annotations: promtool compares rendered annotations
# exactly, and what is tested here is when an alert fires. Templates are checked above.

CLEAN = {"job": "shopstream-clean", "stage": "clean"}
AGG = {"job": "shopstream-aggregate", "stage": "aggregate"}


def _series(name: str, values: str, **labels: str) -> dict[str, str]:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{inner}}}", "values": values}


def _fires(alert: str, at: str, *expected: dict[str, str]) -> dict[str, Any]:
    return {
        "eval_time": at,
        "alertname": alert,
        "exp_alerts": [{"exp_labels": e} for e in expected],
    }


CASES: list[dict[str, Any]] = [
    {  # dead letters: 5% not_avro fires; 0.5% does not; 10% of a trickle (<10 letters) does not
        "interval": "1m",
        "input_series": [
            _series("shopstream_events_in_total", "0+1000x40", **CLEAN, instance="a", type="visit"),
            _series("shopstream_rejections_total", "0+50x40", **CLEAN, instance="a", reason="not_avro"),
            _series("shopstream_rejections_total", "0+5x40", **CLEAN, instance="a", reason="max"),
            _series("shopstream_rejections_total", "0+90x40", **CLEAN, instance="a", reason="internal_error"),
            _series("shopstream_events_in_total", "0+10x40", **AGG, instance="b", type="visit"),
            _series("shopstream_rejections_total", "0+1x40", **AGG, instance="b", reason="undecodable"),
        ],
        "alert_rule_test": [
            _fires("ShopstreamDeadLetterRateHigh", "8m"),  # pending: `for` is 10 minutes
            _fires(
                "ShopstreamDeadLetterRateHigh", "20m",
                {"severity": "warning", "stage": "clean", "reason": "not_avro"},
            ),
        ],
    },
    {  # the first internal error, from the zero exported at start, fires at once
        "interval": "1m",
        "input_series": [
            _series("shopstream_rejections_total", "0x5 1x10", **CLEAN, instance="a", reason="internal_error"),
        ],
        "alert_rule_test": [
            _fires("ShopstreamInternalErrors", "4m"),
            _fires("ShopstreamInternalErrors", "7m", {"severity": "warning", "stage": "clean"}),
        ],
    },
    {  # lag growing on stage 1 (reported by two instances alike); stage 2's high but steady
        "interval": "1m",
        "input_series": [
            _series("shopstream_consumer_lag", "0+100x40", **CLEAN, instance="a", topic="raw", partition="0"),
            _series("shopstream_consumer_lag", "0+100x40", **CLEAN, instance="b", topic="raw", partition="0"),
            _series("shopstream_consumer_lag", "5000x40", **AGG, instance="c", topic="clean", partition="0"),
        ],
        "alert_rule_test": [
            _fires("ShopstreamConsumerLagGrowing", "20m"),
            _fires(
                "ShopstreamConsumerLagGrowing", "35m",
                {"severity": "warning", "stage": "clean", "topic": "raw"},
            ),
        ],
    },
    {  # 100k behind at 10 events/s is ~3 hours: fires; 1k behind at the same rate does not
        "interval": "1m",
        "input_series": [
            _series("shopstream_consumer_lag", "100000x30", **CLEAN, instance="a", topic="raw", partition="0"),
            _series("shopstream_events_in_total", "0+600x30", **CLEAN, instance="a", type="visit"),
            _series("shopstream_consumer_lag", "1000x30", **AGG, instance="b", topic="clean", partition="0"),
            _series("shopstream_events_in_total", "0+600x30", **AGG, instance="b", type="visit"),
        ],
        "alert_rule_test": [
            _fires("ShopstreamConsumerLagHigh", "20m", {"severity": "critical", "stage": "clean"}),
        ],
    },
    {  # shops over 26 hours: s1 stops, s5's series vanishes (restart), s2 keeps sending,
        # s3 is new today, s4 is too small to count as "normally sends"
        "interval": "10m",
        "input_series": [
            _series("shopstream_shop_events_total", "0+100x150 15000x10", **CLEAN, instance="a", shop="s1"),
            _series("shopstream_shop_events_total", "0+100x160", **CLEAN, instance="a", shop="s2"),
            _series("shopstream_shop_events_total", "_x150 0+10x10", **CLEAN, instance="a", shop="s3"),
            _series("shopstream_shop_events_total", "0+1x150 150x10", **CLEAN, instance="a", shop="s4"),
            _series("shopstream_shop_events_total", "0+100x151 _x9", **CLEAN, instance="a", shop="s5"),
        ],
        "alert_rule_test": [
            _fires(
                "ShopstreamShopSilent", "1590m",
                {"severity": "warning", "shop": "s1"}, {"severity": "warning", "shop": "s5"},
            ),
        ],
    },
    {  # instance a stops answering; b keeps going
        "interval": "1m",
        "input_series": [
            _series("up", "1 1 0 0 0 0 0 0", job="shopstream-clean", instance="a"),
            _series("up", "1x8", job="shopstream-clean", instance="b"),
            _series("up", "1x8", job="shopstream-aggregate", instance="c"),
        ],
        "alert_rule_test": [
            _fires("ShopstreamStageInstanceDown", "3m"),
            _fires(
                "ShopstreamStageInstanceDown", "5m",
                {"severity": "warning", "job": "shopstream-clean", "instance": "a"},
            ),
            _fires("ShopstreamStageDown", "7m"),
        ],
    },
    {  # every stage-1 instance down; stage 2 up
        "interval": "1m",
        "input_series": [
            _series("up", "0x10", job="shopstream-clean", instance="a"),
            _series("up", "0x10", job="shopstream-clean", instance="b"),
            _series("up", "1x10", job="shopstream-aggregate", instance="c"),
        ],
        "alert_rule_test": [
            _fires("ShopstreamStageDown", "6m", {"severity": "critical", "job": "shopstream-clean"}),
        ],
    },
    {  # no target at all for stage 2
        "interval": "1m",
        "input_series": [_series("up", "1x10", job="shopstream-clean", instance="a")],
        "alert_rule_test": [
            _fires("ShopstreamStageDown", "6m", {"severity": "critical", "job": "shopstream-aggregate"}),
        ],
    },
    {  # no stage-2 instance ready; one of two stage-1 instances ready is enough
        "interval": "1m",
        "input_series": [
            _series("shopstream_stage_ready", "0x20", **AGG, instance="a"),
            _series("shopstream_stage_ready", "0x20", **AGG, instance="b"),
            _series("shopstream_stage_ready", "0x20", **CLEAN, instance="c"),
            _series("shopstream_stage_ready", "1x20", **CLEAN, instance="d"),
        ],
        "alert_rule_test": [
            _fires("ShopstreamStageNotReady", "12m", {"severity": "critical", "stage": "aggregate"}),
        ],
    },
    {  # three restarts in half an hour (the counters go back to zero); b runs steadily
        "interval": "1m",
        "input_series": [
            _series("shopstream_processing_latency_seconds_count", "0 10 20 0 10 0 10 0 10 20", **CLEAN, instance="a"),
            _series("shopstream_processing_latency_seconds_count", "0+10x9", **CLEAN, instance="b"),
        ],
        "alert_rule_test": [
            _fires(
                "ShopstreamStageRestarting", "9m",
                {"severity": "warning", "job": "shopstream-clean", "instance": "a", "stage": "clean"},
            ),
        ],
    },
    {  # spool over 80%; spool growing 10 MB a minute; a small steady spool
        "interval": "1m",
        "input_series": [
            _series("shopstream_tracker_spool_bytes", "250000000x30", job="shopstream-collector", instance="a"),
            _series("shopstream_tracker_spool_bytes", "0+10000000x30", job="shopstream-collector", instance="b"),
            _series("shopstream_tracker_spool_bytes", "1000x30", job="shopstream-collector", instance="c"),
        ],
        "alert_rule_test": [
            _fires(
                "ShopstreamSpoolFilling", "15m",
                {"severity": "critical", "job": "shopstream-collector", "instance": "a"},
                {"severity": "critical", "job": "shopstream-collector", "instance": "b"},
            ),
        ],
    },
    {  # a spool that stays put; one that drains; an empty one
        "interval": "1m",
        "input_series": [
            _series("shopstream_tracker_spool_bytes", "1000x40", job="shopstream-collector", instance="a"),
            _series("shopstream_tracker_spool_bytes", "100000-1000x40", job="shopstream-collector", instance="b"),
            _series("shopstream_tracker_spool_bytes", "0x40", job="shopstream-collector", instance="c"),
        ],
        "alert_rule_test": [
            _fires("ShopstreamSpoolNotDraining", "25m"),  # 15 min unchanged, then `for` 15 min
            _fires(
                "ShopstreamSpoolNotDraining", "35m",
                {"severity": "warning", "job": "shopstream-collector", "instance": "a"},
            ),
        ],
    },
    {  # the collector answers 503 to some batches
        "interval": "1m",
        "input_series": [
            _series("shopstream_collector_events_total", "0+10x20", job="shopstream-collector", instance="a", outcome="refused"),
            _series("shopstream_collector_events_total", "0+1000x20", job="shopstream-collector", instance="b", outcome="accepted"),
        ],
        "alert_rule_test": [
            _fires(
                "ShopstreamCollectorRefusing", "10m",
                {"severity": "critical", "job": "shopstream-collector", "instance": "a"},
            ),
        ],
    },
    {  # a tracker drops events; sending alone is fine
        "interval": "1m",
        "input_series": [
            _series("shopstream_tracker_events_total", "0 0 0 5 5 5", job="shop-web", instance="a", outcome="dropped"),
            _series("shopstream_tracker_events_total", "0+100x5", job="shop-web", instance="a", outcome="sent"),
        ],
        "alert_rule_test": [
            _fires(
                "ShopstreamTrackerLosingEvents", "4m",
                {"severity": "warning", "job": "shop-web", "instance": "a", "outcome": "dropped"},
            ),
        ],
    },
    {  # partition 0's restore does not move; partition 1's does
        "interval": "1m",
        "input_series": [
            _series("shopstream_state_restore_remaining", "5000x30", **AGG, instance="a", partition="0"),
            _series("shopstream_state_restore_remaining", "50000-1000x30", **AGG, instance="a", partition="1"),
            _series("shopstream_state_restoring_partitions", "2x40", **AGG, instance="a"),
        ],
        "alert_rule_test": [
            _fires("ShopstreamStateRestoreStuck", "12m"),  # 10 min unchanged, then `for` 5 min
            _fires(
                "ShopstreamStateRestoreStuck", "20m",
                {"severity": "critical", "job": "shopstream-aggregate", "instance": "a", "partition": "0"},
            ),
            _fires("ShopstreamStateRestoreSlow", "20m"),
            _fires(
                "ShopstreamStateRestoreSlow", "35m",
                {"severity": "warning", "job": "shopstream-aggregate", "instance": "a"},
            ),
        ],
    },
]  # fmt: skip


def test_every_alert_has_a_promtool_case_that_fires() -> None:
    fired = {
        case["alertname"]
        for test in CASES
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }
    assert fired == {rule["alert"] for rule in _rules()}


def test_alerts_fire_exactly_when_they_should(tmp_path: Path) -> None:
    doc = yaml.safe_load(ALERTS.read_text("utf-8"))
    for group in doc["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations")
    (tmp_path / "alerts.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    tests = {"rule_files": ["alerts.yml"], "evaluation_interval": "1m", "tests": CASES}
    (tmp_path / "alerts_test.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    result = _run("test", "rules", "alerts_test.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("rule", _rules(), ids=lambda rule: rule["alert"])
def test_production_rules_wait_before_paging_except_on_loss_or_bugs(rule: dict[str, Any]) -> None:
    """`for:` keeps flapping conditions from paging; the ones without it count events
    already lost or a bug already hit, which a wait cannot make go away."""
    immediate = {
        "ShopstreamInternalErrors",
        "ShopstreamStageRestarting",
        "ShopstreamTrackerLosingEvents",
    }
    assert ("for" in rule) != (rule["alert"] in immediate), rule["alert"]
