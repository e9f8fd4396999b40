"""`shopstream status`: the pipeline at a glance in a terminal.

Reads each stage's ``/status.json`` (the numbers of its status page, rates included). For
a stage that does not answer, consumer lag still comes from Kafka: the group's committed
offsets against the partitions' ends, measured as the stages measure it. With
``--collector``, the collector's ``/metrics`` gives the SDK spool's depth.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol

import typer
from confluent_kafka import KafkaException
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from shopstream.deploy.kafka import KafkaLauncherError
from shopstream.deploy.kafka import bootstrap_servers as local_bootstrap_servers
from shopstream.processors.engine.lag import LagMonitor
from shopstream.processors.engine.settings import StageSettings

DEFAULT_STAGES = ["http://127.0.0.1:9310", "http://127.0.0.1:9311"]
EXIT_NOTHING = 3
"""Neither a stage nor Kafka answered."""

_SPOOL_METRICS = {
    "shopstream_tracker_spool_bytes": "spool bytes",
    "shopstream_tracker_queue_depth": "queue depth",
    "shopstream_tracker_in_flight": "in flight",
}
_TRACKER_OUTCOMES = ("spooled", "dropped", "failed")


@dataclass
class Snapshot:
    """What one refresh found."""

    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Stage name -> its ``/status.json``."""
    urls: dict[str, str] = field(default_factory=dict)
    """Stage name -> the URL it answered at."""
    unreachable: dict[str, str] = field(default_factory=dict)
    """URL -> why it did not answer."""
    kafka_lag: dict[str, dict[tuple[str, int], int]] = field(default_factory=dict)
    """Stage name -> lag per (topic, partition), measured from Kafka for silent stages."""
    kafka_error: str | None = None
    spool: dict[str, float] | None = None
    collector_error: str | None = None

    @property
    def anything(self) -> bool:
        return bool(self.stages or self.kafka_lag)

    def to_json(self) -> dict[str, Any]:
        return {
            "stages": {
                name: {k: v for k, v in doc.items() if k != "history"}
                for name, doc in self.stages.items()
            },
            "urls": self.urls,
            "unreachable": self.unreachable,
            "kafka_lag": {
                stage: [{"topic": t, "partition": p, "lag": n} for (t, p), n in sorted(lag.items())]
                for stage, lag in self.kafka_lag.items()
            },
            "kafka_error": self.kafka_error,
            "spool": self.spool,
            "collector_error": self.collector_error,
        }


def status_json_url(url: str) -> str:
    """``http://host:port`` (or ``.../status``) -> its ``/status.json``."""
    url = url.rstrip("/")
    if url.endswith("/status.json"):
        return url
    if url.endswith("/status"):
        return url + ".json"
    return url + "/status.json"


def metrics_url(url: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith("/metrics") else url + "/metrics"


def _get(url: str, timeout: float) -> bytes:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url}")
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 — scheme checked
        body: bytes = response.read()
        return body


def read_spool(text: str) -> dict[str, float]:
    """The SDK's queue and spool as a collector's ``/metrics`` exports them."""
    spool: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in _SPOOL_METRICS:
                spool[_SPOOL_METRICS[sample.name]] = sample.value
            elif (
                sample.name == "shopstream_tracker_events_total"
                and sample.labels.get("outcome") in _TRACKER_OUTCOMES
            ):
                spool[f"events {sample.labels['outcome']}"] = sample.value
    return spool


class LagSource(Protocol):
    def measure(self, stage: str) -> dict[tuple[str, int], int]:
        """Lag per (topic, partition) of ``stage``'s group; raises KafkaException."""
        ...


class KafkaLag:
    """Lag of the stages' groups read from Kafka, one monitor per group, kept open."""

    def __init__(self, bootstrap: str, groups: dict[str, tuple[str, str]], config: dict[str, Any]):
        self._bootstrap = bootstrap
        self._groups = groups
        self._config = config
        self._monitors: dict[str, LagMonitor] = {}

    def measure(self, stage: str) -> dict[tuple[str, int], int]:
        if stage not in self._monitors:
            group, topic = self._groups[stage]
            self._monitors[stage] = LagMonitor(
                self._bootstrap, group, topic, client_config=self._config
            )
        return self._monitors[stage].measure()

    def close(self) -> None:
        for monitor in self._monitors.values():
            monitor.close()
        self._monitors.clear()


def collect(
    stage_urls: list[str],
    kafka: LagSource | None,
    *,
    stage_names: tuple[str, ...],
    collector: str | None = None,
    timeout: float = 2.0,
) -> Snapshot:
    """One refresh: every stage URL, Kafka for the stages that did not answer, the collector."""
    snapshot = Snapshot()
    for url in stage_urls:
        try:
            doc = json.loads(_get(status_json_url(url), timeout))
        except (OSError, ValueError) as exc:
            snapshot.unreachable[url] = _why(exc)
            continue
        name = str(doc.get("stage", url))
        snapshot.stages[name] = doc
        snapshot.urls[name] = url
    if kafka is not None:
        for name in stage_names:
            if name in snapshot.stages:
                continue
            try:
                snapshot.kafka_lag[name] = kafka.measure(name)
            except KafkaException as exc:
                snapshot.kafka_error = str(exc.args[0] if exc.args else exc)
                break
    if collector:
        try:
            snapshot.spool = read_spool(_get(metrics_url(collector), timeout).decode())
        except (OSError, ValueError) as exc:
            snapshot.collector_error = _why(exc)
    return snapshot


def _why(exc: Exception) -> str:
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__


# -- rendering ---------------------------------------------------------------------------------
def _rate(value: Any) -> str:
    return f"{float(value or 0):.1f}/s"


def _duration(seconds: Any) -> str:
    if seconds is None:
        return "–"
    s = float(seconds)
    for limit, unit, scale in ((1, "ms", 1000), (60, "s", 1), (3600, "min", 1 / 60)):
        if s < limit:
            return f"{s * scale:.0f} {unit}" if unit == "ms" else f"{s * scale:.1f} {unit}"
    return f"{s / 3600:.1f} h" if s < 86400 else f"{s / 86400:.1f} d"


def _latency(latency: dict[str, Any], quantile: str) -> str:
    """A quantile from the +Inf bucket is only known to be beyond the highest bound."""
    value, top = latency.get(quantile), latency.get("top_bound")
    beyond = value is not None and top is not None and value >= top
    return ("≥ " if beyond else "") + _duration(value)


def render(snapshot: Snapshot, *, now: float | None = None) -> Group:
    """The snapshot as rich tables: stages, rates by type, lag, dead letters, spool."""
    stamp = time.strftime("%H:%M:%S", time.localtime(now if now is not None else time.time()))
    parts: list[Any] = [
        _stages_table(snapshot, f"shopstream status · {stamp}"),
        _types_table(snapshot),
        _lag_table(snapshot),
        _dead_letters_table(snapshot),
    ]
    if snapshot.kafka_error:
        parts.append(Text(f"kafka: {snapshot.kafka_error}", "red"))
    if snapshot.spool is not None:
        spool = _table("SDK spool (collector)", ["metric"], ["value"])
        for metric, value in snapshot.spool.items():
            spool.add_row(metric, f"{value:.0f}")
        parts.append(spool)
    elif snapshot.collector_error:
        parts.append(Text(f"collector unreachable: {snapshot.collector_error}", "red"))
    else:
        parts.append(Text("spool: no collector given (--collector URL)", "dim"))
    return Group(*parts)


def _table(
    title: str, left: list[str], right: list[str], *, after: tuple[str, ...] | list[str] = ()
) -> Table:
    table = Table(title=title, title_justify="left")
    for column in left:
        table.add_column(column)
    for column in right:
        table.add_column(column, justify="right")
    for column in after:
        table.add_column(column)
    return table


def _stages_table(snapshot: Snapshot, title: str) -> Table:
    table = _table(
        title,
        ["stage", "ready"],
        ["events in", "events out", "dead letters", "p50", "p99", "lag", "restoring"],
        after=["source"],
    )
    for name, doc in snapshot.stages.items():
        latency = doc.get("latency", {})
        table.add_row(
            name,
            Text("ready", "green") if doc.get("ready", {}).get("ok") else Text("not ready", "red"),
            f"{doc['events_in']['total']} ({_rate(doc['events_in']['rate'])})",
            f"{doc['events_out']['total']} ({_rate(doc['events_out']['rate'])})",
            f"{doc['dead_letters']['total']} ({_rate(doc['dead_letters']['rate'])})",
            _latency(latency, "p50"),
            _latency(latency, "p99"),
            str(doc["lag"]["total"]),
            str(doc["restore"]["restoring_partitions"]),
            snapshot.urls.get(name, ""),
        )
    for name, measured in snapshot.kafka_lag.items():
        no_status = Text("no status", "yellow")
        table.add_row(name, no_status, *["–"] * 5, str(sum(measured.values())), "–", "kafka")
    for url, why in snapshot.unreachable.items():
        table.add_row("?", Text("unreachable", "red"), *["–"] * 7, f"{url}: {why}")
    return table


def _types_table(snapshot: Snapshot) -> Table:
    table = _table("Rates by type", ["stage", "type"], ["in", "in/s", "out", "out/s"])
    for name, doc in snapshot.stages.items():
        ins, outs = doc["events_in"]["by_type"], doc["events_out"]["by_type"]
        for kind in sorted(set(ins) | set(outs)):
            i, o = ins.get(kind, {}), outs.get(kind, {})
            table.add_row(
                name, kind, str(i.get("total", 0)), _rate(i.get("rate")),
                str(o.get("total", 0)), _rate(o.get("rate")),
            )  # fmt: skip
    return table


def _lag_table(snapshot: Snapshot) -> Table:
    table = _table(
        "Consumer lag per partition",
        ["stage", "topic"],
        ["partition", "lag"],
        after=["measured by"],
    )
    for name, doc in snapshot.stages.items():
        for p in doc["lag"]["partitions"]:
            table.add_row(name, p["topic"], str(p["partition"]), str(p["lag"]), "stage")
    for name, measured in snapshot.kafka_lag.items():
        for (topic, partition), n in sorted(measured.items()):
            table.add_row(name, topic, str(partition), str(n), "kafka")
    return table


def _dead_letters_table(snapshot: Snapshot) -> Table:
    table = _table("Dead letters by reason", ["stage", "reason"], ["total", "per second"])
    for name, doc in snapshot.stages.items():
        for reason, v in doc["dead_letters"]["by_reason"].items():
            table.add_row(name, reason, str(v["total"]), _rate(v["rate"]))
    return table


# -- command -----------------------------------------------------------------------------------
def _bootstrap(option: str | None) -> str:
    """The option; else the stages' own variables; else `shopstream kafka up`'s broker."""
    if option:
        return option
    if os.environ.get("SHOPSTREAM_BOOTSTRAP_SERVERS") or os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return StageSettings().bootstrap_servers
    try:
        return local_bootstrap_servers()
    except KafkaLauncherError:
        return StageSettings().bootstrap_servers


def status(
    stage: Annotated[
        list[str] | None,
        typer.Option(
            help="A stage's HTTP port (http://host:port; its /status.json is read). Repeat for "
            "each. Default: http://127.0.0.1:9310 and http://127.0.0.1:9311."
        ),
    ] = None,
    collector: Annotated[
        str | None,
        typer.Option(help="A collector's base URL: its /metrics gives the SDK spool's depth."),
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="Print one snapshot and exit.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one snapshot as JSON and exit (for scripts).")
    ] = False,
    interval: Annotated[float, typer.Option(min=0.5, help="Seconds between refreshes.")] = 2.0,
    kafka: Annotated[
        bool,
        typer.Option(help="Read lag from Kafka for stages whose status does not answer."),
    ] = True,
    bootstrap_servers: Annotated[
        str | None,
        typer.Option(
            help="Kafka for the lag fallback. Default: SHOPSTREAM_BOOTSTRAP_SERVERS or "
            "KAFKA_BOOTSTRAP_SERVERS, else the broker of `shopstream kafka up`."
        ),
    ] = None,
    clean_group: Annotated[
        str, typer.Option(envvar="SHOPSTREAM_CLEAN_GROUP", help="Consumer group of stage 1.")
    ] = "shopstream-clean",
    aggregate_group: Annotated[
        str,
        typer.Option(envvar="SHOPSTREAM_AGGREGATE_GROUP", help="Consumer group of stage 2."),
    ] = "shopstream-aggregate",
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds to wait for each URL.")] = 2.0,
) -> None:
    """Rates per stage, lag per partition, dead letters by reason and spool depth, live.

    Exit status with --once or --json: 0 when a stage or Kafka answered, 3 when nothing did.
    """
    settings = StageSettings()
    lag_source = None
    if kafka:
        lag_source = KafkaLag(
            _bootstrap(bootstrap_servers),
            {
                "clean": (clean_group, settings.raw_topic),
                "aggregate": (aggregate_group, settings.clean_topic),
            },
            {**settings.kafka_config},
        )
    urls = stage or DEFAULT_STAGES

    def refresh() -> Snapshot:
        return collect(
            urls, lag_source, stage_names=("clean", "aggregate"), collector=collector,
            timeout=timeout,
        )  # fmt: skip

    try:
        if once or as_json:
            snapshot = refresh()
            if as_json:
                typer.echo(json.dumps(snapshot.to_json(), indent=2))
            else:
                wide = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160
                Console(width=wide).print(render(snapshot))
            if not snapshot.anything:
                raise typer.Exit(EXIT_NOTHING)
            return
        with Live(render(refresh()), refresh_per_second=4) as live:
            while True:
                time.sleep(interval)
                live.update(render(refresh()))
    except KeyboardInterrupt:
        pass
    finally:
        if lag_source is not None:
            lag_source.close()
