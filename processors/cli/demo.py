"""`shopstream demo`: the main job end to end on a local broker."""

from __future__ import annotations

import json
from typing import Any

import typer

from shopstream.processors import demo as demo_job


def demo() -> None:
    """Run the pipeline end to end on a throwaway local broker and print what came back.

    Starts a local Kafka node (or uses KAFKA_BOOTSTRAP_SERVERS), creates the topics,
    sends one event of each type, reads them back decoded, and stops the broker.
    """

    def say(message: str) -> None:
        typer.secho(f"• {message}", err=True, fg=typer.colors.CYAN)

    with demo_job.broker(say) as target:
        result = demo_job.run(target.bootstrap_servers, say, topic_prefix=target.topic_prefix)
        say(
            f"read back from {target.topic_prefix}{demo_job.RAW_TOPIC}: the raw topic still holds the (synthetic) personal "
            "data; pseudonymisation is stage 1's job"
        )
        for event in result.received:
            typer.secho(
                f"\n{event.name} (schema v{event.writer_version}, fingerprint {event.fingerprint.hex()})",
                bold=True,
            )
            typer.echo(json.dumps(event.record, default=_plain, ensure_ascii=False, indent=2))
    typer.echo(f"\nsent {result.sent}, read back {len(result.received)} decoded")
    if len(result.received) != result.sent:
        raise typer.Exit(1)


def _plain(value: Any) -> str:
    return str(value.isoformat() if hasattr(value, "isoformat") else value)
