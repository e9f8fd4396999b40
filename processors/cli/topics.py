"""`shopstream topics create | check`: the declared pipeline topics against the cluster."""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer

from shopstream.deploy.kafka import KafkaLauncherError, admin_client, bootstrap_servers
from shopstream.processors.topics import (
    TopicAdminError,
    check_topics,
    create_topics,
    pipeline_topics,
)

app = typer.Typer(
    name="topics",
    help=(
        "Create and check the pipeline's topics as declared in shopstream.processors.topics. "
        "Talks to KAFKA_BOOTSTRAP_SERVERS, else the broker of `shopstream kafka up`."
    ),
    no_args_is_help=True,
)

Partitions = Annotated[
    int | None, typer.Option(min=1, help="Partitions per topic (default: as declared, 6).")
]
ReplicationFactor = Annotated[
    int | None, typer.Option(min=1, help="Replicas per partition (default: as declared, 1).")
]
Prefix = Annotated[str, typer.Option(help="Prefix for every topic name, e.g. one per environment.")]
Timeout = Annotated[float, typer.Option(help="Seconds to wait for the cluster.")]


def _fail(exc: Exception) -> NoReturn:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(2) from exc


@app.command()
def create(
    partitions: Partitions = None,
    replication_factor: ReplicationFactor = None,
    prefix: Prefix = "",
    timeout: Timeout = 30.0,
) -> None:
    """Create the declared topics that are missing; list those that already exist.

    Existing topics are never altered:
    run `shopstream topics check` to see how they differ.
    """
    specs = pipeline_topics(
        partitions=partitions, replication_factor=replication_factor, prefix=prefix
    )
    try:
        report = create_topics(admin_client(bootstrap_servers()), specs, timeout=timeout)
    except (KafkaLauncherError, TopicAdminError) as exc:
        _fail(exc)
    for spec in specs:
        if spec.name in report.created:
            typer.echo(
                f"created  {spec.name} ({spec.partitions} partitions, "
                f"replication factor {spec.replication_factor})"
            )
        else:
            typer.echo(f"exists   {spec.name}")


@app.command()
def check(
    partitions: Partitions = None,
    replication_factor: ReplicationFactor = None,
    prefix: Prefix = "",
    timeout: Timeout = 30.0,
) -> None:
    """Compare the cluster's topics with the declarations; change nothing.

    Reports per topic: missing, a different partition count or replication factor,
    or a declared config (cleanup.policy, retention.ms) with another value.
    Exit status: 0 no drift, 1 drift found, 2 the cluster could not be asked.
    """
    specs = pipeline_topics(
        partitions=partitions, replication_factor=replication_factor, prefix=prefix
    )
    try:
        drifts = check_topics(admin_client(bootstrap_servers()), specs, timeout=timeout)
    except (KafkaLauncherError, TopicAdminError) as exc:
        _fail(exc)
    drifted = {drift.topic for drift in drifts}
    for spec in specs:
        if spec.name not in drifted:
            typer.echo(f"ok       {spec.name}")
    for drift in drifts:
        typer.echo(f"drift    {drift}")
    if drifts:
        typer.echo(
            f"{len(drifted)} of {len(specs)} topics drifted from their declaration.", err=True
        )
        raise typer.Exit(1)
