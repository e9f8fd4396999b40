"""The `shopstream` command line."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="shopstream",
    help="Streaming pipeline for e-commerce shopper behaviour on Apache Kafka.",
    no_args_is_help=True,
    add_completion=False,
)

from shopstream.processors.cli import schemas as _schemas  # noqa: E402

app.add_typer(_schemas.app, name="schemas")


def main() -> None:
    app()
