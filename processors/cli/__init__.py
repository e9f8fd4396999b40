"""The `shopstream` command line."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="shopstream",
    help="Streaming pipeline for e-commerce shopper behaviour on Apache Kafka.",
    no_args_is_help=True,
    add_completion=False,
)

from shopstream.processors.cli import bench as _bench  # noqa: E402
from shopstream.processors.cli import dlq as _dlq  # noqa: E402
from shopstream.processors.cli import features as _features  # noqa: E402
from shopstream.processors.cli import kafka as _kafka  # noqa: E402
from shopstream.processors.cli import process as _process  # noqa: E402
from shopstream.processors.cli import schemas as _schemas  # noqa: E402
from shopstream.processors.cli import sink as _sink  # noqa: E402
from shopstream.processors.cli import status as _status  # noqa: E402
from shopstream.processors.cli import topics as _topics  # noqa: E402
from shopstream.processors.cli.demo import demo as _demo  # noqa: E402
from shopstream.producers.collector.cli import collector as _collector  # noqa: E402
from shopstream.producers.simulator.cli import simulate as _simulate  # noqa: E402

app.add_typer(_schemas.app, name="schemas")
app.add_typer(_bench.app, name="bench")
app.command("demo")(_demo)
app.command("simulate")(_simulate)
app.command("collector")(_collector)
app.add_typer(_kafka.app, name="kafka")
app.add_typer(_topics.app, name="topics")
app.add_typer(_dlq.app, name="dlq")
app.add_typer(_features.app, name="features")
app.add_typer(_process.app, name="process")
app.add_typer(_process.keys_app, name="keys")
app.command("status")(_status.status)
app.add_typer(_sink.app, name="sink")


def main() -> None:
    app()
