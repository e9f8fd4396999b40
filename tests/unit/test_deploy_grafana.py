"""The Grafana dashboard deploy/grafana/shopstream.json and its provisioning files.

Grafana itself cannot run here: the dashboard is checked as JSON (ids, layout, data
source, targets), its queries are parsed by Prometheus's own parser (promtool, each query
as a recording rule) and it must show what ops asked for. That every metric it names
exists is tests/integration/test_dashboard_metrics.py's job, against live stages.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

GRAFANA = Path(__file__).resolve().parents[2] / "deploy" / "grafana"
DASHBOARD = GRAFANA / "shopstream.json"


def _dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text("utf-8")))


def _panels() -> list[dict[str, Any]]:
    return [p for p in _dashboard()["panels"] if p["type"] != "row"]


def _exprs() -> list[str]:
    return [t["expr"] for p in _panels() for t in p["targets"]]


def test_dashboard_identity_and_datasource_variable() -> None:
    dashboard = _dashboard()
    assert dashboard["uid"] == "shopstream"
    assert dashboard["title"] == "shopstream"
    assert dashboard["schemaVersion"] >= 36
    (variable,) = dashboard["templating"]["list"]
    assert variable == {
        **variable,
        "name": "datasource",
        "type": "datasource",
        "query": "prometheus",
    }


def test_panels_have_unique_ids_and_do_not_overlap() -> None:
    panels = _dashboard()["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    cells: dict[tuple[int, int], str] = {}
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_every_panel_queries_the_chosen_prometheus() -> None:
    for panel in _panels():
        assert panel["title"], panel
        assert panel["description"], panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert refs, panel["title"]
        assert len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"], panel["title"]
            assert target["expr"].strip(), panel["title"]


def test_the_panels_ops_asked_for() -> None:
    """Rates per stage, lag per partition, dead letters by reason, latency quantiles, spool
    depth, restore progress, readiness: each by the query that shows it."""
    exprs = _exprs()

    def has(*needles: str) -> bool:
        return any(all(n in e for n in needles) for e in exprs)

    assert has("sum by (stage)", "rate(shopstream_events_in_total")
    assert has("by (stage, topic, partition)", "shopstream_consumer_lag")
    assert has("by (stage, reason)", "rate(shopstream_rejections_total")
    for q in ("0.5", "0.95", "0.99"):
        assert has(f"histogram_quantile({q},", "shopstream_processing_latency_seconds_bucket")
    assert has("shopstream_tracker_spool_bytes")
    assert has("shopstream_state_restore_remaining", "partition")
    assert has("shopstream_stage_ready")


def test_every_query_parses_as_promql(tmp_path: Path) -> None:
    """promtool parses each query as the expression of a recording rule; Grafana's
    $__rate_interval becomes a concrete range first."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: `make prometheus` installs Debian's prometheus package"
    rules = [
        {"record": f"dashboard:query_{i}", "expr": expr.replace("$__rate_interval", "1m")}
        for i, expr in enumerate(_exprs())
    ]
    assert not [r for r in rules if "$" in r["expr"]], "a dashboard variable promtool cannot parse"
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_provisioning_points_grafana_at_the_dashboard_and_prometheus() -> None:
    (source,) = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yaml").read_text())[
        "datasources"
    ]
    assert source["type"] == "prometheus"
    assert source["isDefault"] is True
    assert source["url"] == "http://prometheus:9090"
    (provider,) = yaml.safe_load((GRAFANA / "provisioning/dashboards/shopstream.yaml").read_text())[
        "providers"
    ]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
