"""`shopstream process clean | aggregate`: run a stage until SIGTERM or Ctrl-C."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from shopstream.processors.cli.logs import configure_logging

app = typer.Typer(
    name="process",
    help=(
        "Run a stream-processing stage. Settings come from SHOPSTREAM_* environment variables "
        "(see docs/processors.md); the options below override them. Stops cleanly on SIGTERM or "
        "Ctrl-C: the open transaction is committed or aborted, never left half-done."
    ),
    no_args_is_help=True,
)

Bootstrap = Annotated[
    str | None,
    typer.Option(
        "--bootstrap-servers",
        help="Kafka to use; default KAFKA_BOOTSTRAP_SERVERS, else the broker of `shopstream kafka up`.",
    ),
]
MetricsPort = Annotated[
    int | None,
    typer.Option(help="Serve /metrics, /healthz, /readyz on this port (0: any free port)."),
]
CommitInterval = Annotated[
    float | None, typer.Option(help="Seconds between transaction commits (default 0.5).")
]
LogFormat = Annotated[str, typer.Option(help="json (default, one object per line) or text.")]
LogLevel = Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")]
CreateTopics = Annotated[
    bool, typer.Option(help="Create the pipeline's topics when they are missing.")
]

log = logging.getLogger("shopstream.process")


def _overrides(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _bootstrap(option: str | None) -> str:
    if option:
        return option
    if os.environ.get("SHOPSTREAM_BOOTSTRAP_SERVERS"):
        return os.environ["SHOPSTREAM_BOOTSTRAP_SERVERS"]
    from shopstream.deploy.kafka import bootstrap_servers

    try:
        return bootstrap_servers()
    except Exception as exc:  # BrokerNotFoundError explains what to do
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _run_stage(name: str, build: Callable[[], Any]) -> None:
    """Build the stage (retrying a topic that Kafka has created but not yet shows) and run it.

    A crash is logged as one JSON line with the exception's type, and the command exits 1:
    an orchestrator restarts it, and the last committed transaction is where it resumes.
    """
    from quixstreams.models.topics.exceptions import TopicNotFoundError

    for attempt in range(1, _BUILD_ATTEMPTS + 1):
        try:
            runtime = build()
            break
        except TopicNotFoundError:
            # Quix creates the changelog topic, then reads it back; on a busy broker the
            # metadata can lag the creation for a moment.
            if attempt == _BUILD_ATTEMPTS:
                raise
            log.warning("stage %s: a topic is not visible yet; retrying (%d)", name, attempt)
            time.sleep(attempt)
    log.info("stage %s starting", name)
    try:
        runtime.run()
    except Exception as exc:
        log.critical("stage %s stopped on %s", name, type(exc).__name__, exc_info=True)
        raise typer.Exit(1) from exc
    log.info("stage %s stopped", name)


_BUILD_ATTEMPTS = 5


def _settings_error(exc: ValidationError) -> typer.Exit:
    for error in exc.errors():
        name = ".".join(str(p) for p in error["loc"])
        # Never echo the input: it may be a secret.
        typer.echo(f"error: setting {name} (SHOPSTREAM_{name.upper()}): {error['msg']}", err=True)
    return typer.Exit(2)


@app.command()
def clean(
    bootstrap_servers: Bootstrap = None,
    metrics_port: MetricsPort = None,
    commit_interval: CommitInterval = None,
    create_topics: CreateTopics = True,
    log_format: LogFormat = "json",
    log_level: LogLevel = "INFO",
) -> None:
    """Stage 1: validate raw events, pseudonymise them, dead-letter the invalid ones.

    Needs SHOPSTREAM_PSEUDONYM_KEY and SHOPSTREAM_DLQ_KEY (`shopstream keys generate`).
    """
    configure_logging(log_format, log_level)
    from shopstream.processors.engine.clean_app import build_clean_runtime
    from shopstream.processors.engine.runtime import ensure_pipeline_topics
    from shopstream.processors.engine.settings import CleanSettings

    try:
        settings = CleanSettings(
            **_overrides(
                bootstrap_servers=_bootstrap(bootstrap_servers),
                metrics_port=metrics_port,
                commit_interval_s=commit_interval,
            )
        )
    except ValidationError as exc:
        raise _settings_error(exc) from None
    if create_topics:
        ensure_pipeline_topics(settings)
    log.info(
        "stage clean: %s -> %s | %s", settings.raw_topic, settings.clean_topic, settings.dlq_topic
    )
    _run_stage("clean", lambda: build_clean_runtime(settings))


@app.command()
def aggregate(
    bootstrap_servers: Bootstrap = None,
    metrics_port: MetricsPort = None,
    commit_interval: CommitInterval = None,
    state_dir: Annotated[
        Path | None, typer.Option(help="Folder of the local state store (default ./state).")
    ] = None,
    create_topics: CreateTopics = True,
    log_format: LogFormat = "json",
    log_level: LogLevel = "INFO",
) -> None:
    """Stage 2: per-buyer aggregates from the clean events, to the compacted features topic."""
    configure_logging(log_format, log_level)
    from shopstream.processors.engine.aggregate_app import build_aggregate_runtime
    from shopstream.processors.engine.runtime import ensure_pipeline_topics
    from shopstream.processors.engine.settings import AggregateStageSettings

    try:
        settings = AggregateStageSettings(
            **_overrides(
                bootstrap_servers=_bootstrap(bootstrap_servers),
                metrics_port=metrics_port,
                commit_interval_s=commit_interval,
                state_dir=state_dir,
            )
        )
    except ValidationError as exc:
        raise _settings_error(exc) from None
    if create_topics:
        ensure_pipeline_topics(settings)
    log.info("stage aggregate: %s -> %s", settings.clean_topic, settings.features_topic)
    _run_stage("aggregate", lambda: build_aggregate_runtime(settings))


keys_app = typer.Typer(name="keys", help="Make the secrets the stages need.", no_args_is_help=True)


@keys_app.command("generate")
def generate_keys() -> None:
    """Print new random keys as environment assignments (keep them in a secret store)."""
    from shopstream.processors.deadletter import DeadLetterKey
    from shopstream.processors.privacy import PseudonymKeys

    typer.echo(f"SHOPSTREAM_PSEUDONYM_KEY={PseudonymKeys.generate()}")
    typer.echo(f"SHOPSTREAM_DLQ_KEY={DeadLetterKey.generate()}")


@app.command("settings")
def print_settings() -> None:
    """Print every stage setting as a Markdown table (the one in docs/processors.md)."""
    from shopstream.processors.engine.settings import settings_table

    typer.echo(settings_table(), nl=False)
