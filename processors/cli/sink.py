"""`shopstream sink parquet | ...`: land the clean events and the features (docs/sinks.md)."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from shopstream.processors.cli.logs import configure_logging

app = typer.Typer(
    name="sink",
    help=(
        "Land the clean events and the per-buyer features in a destination (docs/sinks.md). "
        "Settings come from SHOPSTREAM_* environment variables; the options below override "
        "them. Stops cleanly on SIGTERM or Ctrl-C; a kill -9 loses and duplicates nothing."
    ),
    no_args_is_help=True,
)

Bootstrap = Annotated[
    str | None,
    typer.Option(
        "--bootstrap-servers",
        help="Kafka to use; default SHOPSTREAM_BOOTSTRAP_SERVERS / KAFKA_BOOTSTRAP_SERVERS, else the broker of `shopstream kafka up`.",
    ),
]
CleanTopic = Annotated[
    str | None, typer.Option(help="Clean events topic (default shop.events.clean).")
]
FeaturesTopic = Annotated[
    str | None, typer.Option(help="Features topic (default shop.buyers.features).")
]
Group = Annotated[
    str | None, typer.Option("--group", help="Consumer group (default shopstream-sink-<sink>).")
]
UntilCaughtUp = Annotated[
    bool,
    typer.Option(
        "--until-caught-up", help="Exit once every partition is written to its end (no new data)."
    ),
]
IdleTimeout = Annotated[
    float,
    typer.Option(
        help="With --until-caught-up: seconds without a message before it counts as drained."
    ),
]
LogFormat = Annotated[str, typer.Option(help="json (default, one object per line) or text.")]
LogLevel = Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")]

log = logging.getLogger("shopstream.sink")


def overrides(**values: Any) -> dict[str, Any]:
    """The options given on the command line (None: not given, the setting decides)."""
    return {k: v for k, v in values.items() if v is not None}


def bootstrap(option: str | None) -> str | None:
    """The option, else the environment (left to the settings), else the local broker."""
    if option:
        return option
    if os.environ.get("SHOPSTREAM_BOOTSTRAP_SERVERS") or os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return None
    from shopstream.deploy.kafka import bootstrap_servers

    try:
        return bootstrap_servers()
    except Exception as exc:  # BrokerNotFoundError explains what to do
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def settings_error(exc: ValidationError) -> typer.Exit:
    for error in exc.errors():
        name = ".".join(str(p) for p in error["loc"])
        # Never echo the input: it may be a secret.
        typer.echo(f"error: setting {name} (SHOPSTREAM_{name.upper()}): {error['msg']}", err=True)
    return typer.Exit(2)


def stop_on_signals(stop: Callable[[], None]) -> None:
    """SIGTERM and SIGINT ask the runner to flush what it holds and return."""

    def handle(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: stopping after the current batch", signum)
        stop()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


@app.command()
def parquet(
    out: Annotated[Path, typer.Option("--out", help="Folder of the Parquet datasets.")],
    bootstrap_servers: Bootstrap = None,
    clean_topic: CleanTopic = None,
    features_topic: FeaturesTopic = None,
    group: Group = None,
    compact_every: Annotated[
        int | None,
        typer.Option(
            help="Compact a directory once it holds this many small files of one partition (default 16)."
        ),
    ] = None,
    latest_interval: Annotated[
        float | None,
        typer.Option(
            help="Rewrite features/latest at most every this many seconds (default 0: after each features batch)."
        ),
    ] = None,
    until_caught_up: UntilCaughtUp = False,
    idle_timeout: IdleTimeout = 5.0,
    log_format: LogFormat = "json",
    log_level: LogLevel = "INFO",
) -> None:
    """Clean events and per-buyer features to Parquet datasets under --out.

    events/ is Hive-partitioned by shop, event date and event type; features/history/
    keeps every version of every buyer aggregate, features/latest/ the newest per buyer.
    """
    configure_logging(log_format, log_level)
    from shopstream.processors.sinks.parquet import ParquetSink
    from shopstream.processors.sinks.settings import ParquetSinkSettings

    try:
        settings = ParquetSinkSettings(
            **overrides(
                bootstrap_servers=bootstrap(bootstrap_servers),
                clean_topic=clean_topic,
                features_topic=features_topic,
                sink_group=group,
                compact_every=compact_every,
                latest_interval_s=latest_interval,
            )
        )
    except ValidationError as exc:
        raise settings_error(exc) from None
    sink = ParquetSink(settings, out)
    stop_on_signals(sink.stop)
    log.info(
        "sink parquet: %s, %s -> %s", settings.clean_topic, settings.features_topic, out.resolve()
    )
    try:
        stats = sink.run(until_caught_up=until_caught_up, idle_timeout_s=idle_timeout)
    except Exception as exc:
        log.critical("sink parquet stopped on %s", type(exc).__name__, exc_info=True)
        raise typer.Exit(1) from exc
    log.info(
        "sink parquet stopped: %d rows in %d batches, %d undecodable skipped",
        stats.written,
        stats.batches,
        stats.skipped,
    )


# --- PostgreSQL ---------------------------------------------------------------------------

Dsn = Annotated[
    str | None,
    typer.Option(
        "--dsn",
        help="libpq connection string or postgresql:// URI; default SHOPSTREAM_POSTGRES_DSN (prefer it: a command line is visible to every user of the host).",
        show_default=False,
    ),
]

postgres_app = typer.Typer(
    name="postgres",
    help=(
        "Per-buyer features into PostgreSQL: buyer_features (newest version per buyer) and "
        "buyer_features_history (every version once). Without a subcommand, runs the sink."
    ),
    invoke_without_command=True,
)
app.add_typer(postgres_app, name="postgres")


@postgres_app.callback()
def postgres(
    ctx: typer.Context,
    dsn: Dsn = None,
    bootstrap_servers: Bootstrap = None,
    features_topic: FeaturesTopic = None,
    group: Group = None,
    migrate: Annotated[
        bool | None,
        typer.Option(
            "--migrate/--no-migrate",
            help="Apply pending schema migrations at start (default on; SHOPSTREAM_POSTGRES_MIGRATE).",
            show_default=False,
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(help="Messages of one partition per transaction at most (default 5000)."),
    ] = None,
    until_caught_up: UntilCaughtUp = False,
    idle_timeout: IdleTimeout = 5.0,
    log_format: LogFormat = "json",
    log_level: LogLevel = "INFO",
) -> None:
    """Run the PostgreSQL sink: the features topic into buyer_features and its history.

    Each batch is one database transaction with the partition's progress, so a kill -9
    neither loses nor duplicates a row. Stops cleanly on SIGTERM or Ctrl-C.
    """
    if ctx.invoked_subcommand is not None:
        return
    configure_logging(log_format, log_level)
    from shopstream.processors.sinks.postgres import masked_dsn, postgres_sink_runner
    from shopstream.processors.sinks.postgres.settings import PostgresSinkSettings

    try:
        settings = PostgresSinkSettings(
            **overrides(
                postgres_dsn=dsn,
                bootstrap_servers=bootstrap(bootstrap_servers),
                features_topic=features_topic,
                sink_group=group,
                postgres_migrate=migrate,
                batch_size=batch_size,
            )
        )
    except ValidationError as exc:
        raise settings_error(exc) from None

    dsn_value = settings.postgres_dsn.get_secret_value()
    log.info("sink postgres: %s -> %s", settings.features_topic, masked_dsn(dsn_value))
    try:
        runner = postgres_sink_runner(
            settings.bootstrap_servers,
            dsn_value,
            topic=settings.features_topic,
            group=settings.group("postgres"),
            apply_migrations=settings.postgres_migrate,
            batch_size=settings.batch_size,
            batch_interval_s=settings.batch_interval_s,
            kafka_config=settings.kafka_config,
        )
        stop_on_signals(runner.stop)
        stats = runner.run(until_caught_up=until_caught_up, idle_timeout_s=idle_timeout)
    except Exception as exc:
        log.critical("sink postgres stopped on %s: %s", type(exc).__name__, exc)
        raise typer.Exit(1) from exc
    log.info(
        "sink postgres stopped: %d rows in %d batches, %d undecodable skipped",
        stats.written,
        stats.batches,
        stats.skipped,
    )


@postgres_app.command("migrate")
def postgres_migrate(
    dsn: Dsn = None,
    log_format: LogFormat = "json",
    log_level: LogLevel = "INFO",
) -> None:
    """Apply the pending schema migrations, in order, and exit (nothing else is read)."""
    configure_logging(log_format, log_level)
    from shopstream.processors.sinks.postgres import MigrationError, masked_dsn, migrate
    from shopstream.processors.sinks.postgres.settings import PostgresSinkSettings

    try:
        settings = PostgresSinkSettings(**overrides(postgres_dsn=dsn))
    except ValidationError as exc:
        raise settings_error(exc) from None
    dsn_value = settings.postgres_dsn.get_secret_value()
    log.info("migrations: %s", masked_dsn(dsn_value))
    try:
        applied = migrate(dsn_value)
    except MigrationError as exc:
        log.critical("%s", exc)
        raise typer.Exit(1) from exc
    for migration in applied:
        log.info("applied %04d_%s", migration.version, migration.name)
    if not applied:
        log.info("nothing to apply: the database is up to date")
