"""`shopstream kafka up | down | status`: a local single-node Kafka, or an existing cluster."""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer

from shopstream.deploy.kafka import (
    ClusterUnreachableError,
    KafkaLauncherError,
    LauncherSettings,
    kafka_libs,
    local_status,
    probe_cluster,
    start_detached,
    stop_detached,
)

app = typer.Typer(
    name="kafka",
    help=(
        "Run a local single-node Apache Kafka (KRaft) in the background, or point every "
        "command at an existing cluster with KAFKA_BOOTSTRAP_SERVERS."
    ),
    no_args_is_help=True,
)


def _say(message: str) -> None:
    typer.echo(message, err=True)


def _fail(exc: Exception, code: int = 1) -> NoReturn:
    _say(f"error: {exc}")
    raise typer.Exit(code) from exc


@app.command()
def fetch() -> None:
    """Fetch Kafka's jars from Maven Central (once) and print the folder holding them.

    Needs Maven (`mvn`). Cached in ~/.cache/shopstream/kafka/<version>/libs
    (or under $SHOPSTREAM_CACHE_DIR); later calls do nothing.
    """
    try:
        libs = kafka_libs(progress=_say)
    except KafkaLauncherError as exc:
        _fail(exc)
    typer.echo(libs)


@app.command()
def up(
    port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="Broker port. Default: the previous run's, else 9092 if free, else any free port.",
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the broker to answer.")
    ] = 120.0,
) -> None:
    """Start the local Kafka broker in the background and print its bootstrap address.

    Idempotent: when it already runs, only prints the address.
    The first run fetches Kafka's jars from Maven Central with Maven,
    cached in ~/.cache/shopstream (or $SHOPSTREAM_CACHE_DIR).
    Data, pid file and ports live in ~/.local/state/shopstream/kafka
    (or $SHOPSTREAM_STATE_DIR).
    With KAFKA_BOOTSTRAP_SERVERS set, starts nothing and prints that address.
    """
    settings = LauncherSettings()
    if settings.external_bootstrap_servers:
        _say("KAFKA_BOOTSTRAP_SERVERS is set: using that cluster, not starting a local broker.")
        typer.echo(settings.external_bootstrap_servers)
        return
    before = local_status(settings)
    try:
        status = start_detached(port=port, settings=settings, progress=_say, timeout=timeout)
    except KafkaLauncherError as exc:
        _fail(exc)
    if before.running:
        _say(f"Kafka is already running (pid {status.pid}).")
        if port is not None and status.bootstrap_servers != f"127.0.0.1:{port}":
            _say("--port ignored: run `shopstream kafka down` first to change it.")
    else:
        _say(
            f"Kafka {status.version} is running (pid {status.pid}, data in {status.data_dir}); "
            "stop it with `shopstream kafka down`."
        )
    typer.echo(status.bootstrap_servers)


@app.command()
def down(
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for a clean shutdown before SIGKILL.")
    ] = 60.0,
) -> None:
    """Stop the local Kafka broker started by `up` (SIGTERM, then wait for it to exit).

    The data dir is kept, so the next `up` finds its topics again.
    """
    settings = LauncherSettings()
    if settings.external_bootstrap_servers:
        _say("KAFKA_BOOTSTRAP_SERVERS is set: that cluster is not ours to stop.")
    try:
        stopped = stop_detached(settings=settings, timeout=timeout)
    except KafkaLauncherError as exc:
        _fail(exc)
    if stopped is None:
        _say("No local Kafka broker is running.")
    else:
        _say(f"Stopped Kafka (pid {stopped.pid}, {stopped.bootstrap_servers}).")


@app.command()
def status(
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for an external cluster to answer.")
    ] = 10.0,
) -> None:
    """Say whether Kafka runs: pid, bootstrap address, data dir, version. Exit 1 if not.

    With KAFKA_BOOTSTRAP_SERVERS set, reports whether that cluster answers
    and lists its brokers.
    """
    settings = LauncherSettings()
    if settings.external_bootstrap_servers:
        try:
            cluster = probe_cluster(settings.external_bootstrap_servers, timeout=timeout)
        except ClusterUnreachableError as exc:
            typer.echo(f"cluster: {settings.external_bootstrap_servers} (KAFKA_BOOTSTRAP_SERVERS)")
            typer.echo("reachable: no")
            _fail(exc)
        typer.echo(f"cluster: {cluster.bootstrap_servers} (KAFKA_BOOTSTRAP_SERVERS)")
        typer.echo("reachable: yes")
        typer.echo(f"cluster id: {cluster.cluster_id}")
        typer.echo(f"controller: {cluster.controller_id}")
        typer.echo(f"brokers: {', '.join(cluster.brokers)}")
        return
    local = local_status(settings)
    typer.echo(f"running: {'yes' if local.running else 'no'}")
    if local.running:
        typer.echo(f"pid: {local.pid}")
        typer.echo(f"bootstrap servers: {local.bootstrap_servers}")
    typer.echo(f"data dir: {local.data_dir}")
    typer.echo(f"version: {local.version or settings.kafka_version}")
    if not local.running:
        raise typer.Exit(1)
