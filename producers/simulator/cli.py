"""`shopstream simulate`: synthetic Korean e-commerce traffic through the SDK into Kafka.

Registered by the processors CLI (``app.command("simulate")(simulate)``); needs the
``cli`` extra (typer, which brings rich).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated, Protocol

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from shopstream.producers.simulator.base import SimulatedEvent, SimulationConfig
from shopstream.producers.simulator.generator import generate
from shopstream.producers.simulator.jsonl import to_jsonl_line
from shopstream.producers.simulator.sending import EventSink, send
from shopstream.producers.simulator.summary import SimulationSummary

RAW_TOPIC = "shop.events.raw"
_PROGRESS_EVERY = 64


class Backend(StrEnum):
    CONFLUENT = "confluent"
    KAFKA_PYTHON = "kafka-python"


class _Stats(Protocol):
    @property
    def sent(self) -> int: ...
    @property
    def failed(self) -> int: ...
    @property
    def dropped(self) -> int: ...
    @property
    def spooled(self) -> int: ...
    @property
    def rejected(self) -> int: ...


class _Tracker(EventSink, Protocol):
    def flush(self, timeout: float = ...) -> int: ...
    def close(self) -> None: ...
    def stats(self) -> _Stats: ...


def open_tracker(bootstrap_servers: str, topic: str, backend: Backend) -> _Tracker:
    """The SDK's tracker for ``topic``; a seam the unit tests replace with a fake.

    The simulator outruns any broker, so a full queue makes ``track()`` wait (up to a
    minute) instead of dropping: every event generated is meant to arrive.
    """
    from shopstream.producers import QueueFullPolicy, Tracker, TrackerConfig

    config = TrackerConfig(
        bootstrap_servers=bootstrap_servers,
        topic=topic,
        backend="kafka-python" if backend is Backend.KAFKA_PYTHON else "confluent",
        on_full=QueueFullPolicy.BLOCK,
        block_timeout_ms=60_000,
    )
    tracker: _Tracker = Tracker(config)
    return tracker


def simulate(
    shops: Annotated[int, typer.Option(min=1, help="Shops (tenants).")] = 3,
    buyers: Annotated[int, typer.Option(min=1, help="Members, spread over the shops.")] = 200,
    events: Annotated[
        int, typer.Option(min=0, help="Events to send in all, bad ones included.")
    ] = 20_000,
    rate: Annotated[
        float, typer.Option(min=0.0, help="Events per second; 0 sends as fast as possible.")
    ] = 0.0,
    seed: Annotated[
        int, typer.Option(help="Seed: the same seed and --now give the same events.")
    ] = 0,
    bad_fraction: Annotated[
        float,
        typer.Option(
            min=0.0, max=0.999, help="Share of events malformed or out of range on purpose."
        ),
    ] = 0.0,
    jsonl: Annotated[
        Path | None,
        typer.Option(help="Write every event sent to this file, one JSON object a line."),
    ] = None,
    bootstrap_servers: Annotated[
        str | None,
        typer.Option(
            help="Kafka bootstrap servers; default KAFKA_BOOTSTRAP_SERVERS, else the local broker."
        ),
    ] = None,
    topic: Annotated[str, typer.Option(help="Topic to produce to.")] = RAW_TOPIC,
    backend: Annotated[
        Backend, typer.Option(help="Producer backend of the SDK.")
    ] = Backend.CONFLUENT,
    days: Annotated[
        int, typer.Option(min=1, max=365, help="Event times span this many days up to now.")
    ] = 30,
    now: Annotated[
        str | None,
        typer.Option(help="End of the simulated time, ISO 8601 UTC (default: the current second)."),
    ] = None,
) -> None:
    """Send realistic synthetic traffic of Korean shops through the SDK.

    Buyers with invented Korean names, phone numbers and addresses sign up, browse in
    sessions, buy baskets of tangible and intangible goods, cancel, refund and review
    (some reviews carry phone numbers, e-mails, RRN-like and card numbers). With
    --bad-fraction, that share of the events is malformed or out of range on purpose,
    for the dead-letter path.
    """
    end = _parse_now(now)
    config = SimulationConfig(
        shops=shops, buyers=buyers, events=events, seed=seed, bad_fraction=bad_fraction, days=days
    )
    try:
        stream = generate(config, end)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    servers = bootstrap_servers or _default_bootstrap_servers()
    summary = SimulationSummary()
    tracker = open_tracker(servers, topic, backend)
    err = Console(stderr=True)
    undelivered, interrupted = 0, False
    try:
        with _open_jsonl(jsonl) as out, _progress(err) as progress:
            task = progress.add_task(f"simulating → {topic}", total=events)

            def on_sent(simulated: SimulatedEvent) -> None:
                summary.add(simulated)
                if out is not None:
                    out.write(to_jsonl_line(simulated) + "\n")
                if (summary.valid + summary.bad) % _PROGRESS_EVERY == 0:
                    progress.update(task, completed=summary.valid + summary.bad)

            try:
                send(stream, tracker, rate=rate, on_sent=on_sent)
            except KeyboardInterrupt:
                interrupted = True  # what was sent is still flushed and summarised
            progress.update(task, completed=summary.valid + summary.bad)
    finally:
        undelivered = tracker.flush(timeout=30.0)
        tracker.close()
    typer.echo(summary.render())
    stats = tracker.stats()
    typer.echo(
        f"delivery    sent {stats.sent:,}, failed {stats.failed:,}, dropped {stats.dropped:,}, "
        f"spooled {stats.spooled:,}, rejected {stats.rejected:,}, undelivered after flush {undelivered:,}"
    )
    if jsonl is not None:
        typer.echo(f"wrote {jsonl}", err=True)
    if interrupted:
        raise typer.Exit(130)
    if undelivered or stats.failed or stats.dropped or stats.rejected:
        raise typer.Exit(1)


def _parse_now(value: str | None) -> dt.datetime:
    if value is None:
        return dt.datetime.now(dt.UTC).replace(microsecond=0)
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"--now: not an ISO 8601 time: {value!r}") from exc
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)


def _default_bootstrap_servers() -> str:
    from shopstream.deploy.kafka import KafkaLauncherError, bootstrap_servers

    try:
        return bootstrap_servers()
    except KafkaLauncherError as exc:
        raise typer.BadParameter(str(exc), param_hint="--bootstrap-servers") from exc


def _open_jsonl(path: Path | None) -> contextlib.AbstractContextManager[IO[str] | None]:
    if path is None:
        return contextlib.nullcontext()
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("w", encoding="utf-8")


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


__all__ = ["RAW_TOPIC", "Backend", "open_tracker", "simulate"]
