"""`shopstream bench ...`: benchmarks (figures side by side in one run, not timed tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Run benchmarks and write their figures as JSON.", no_args_is_help=True)


@app.command("codec")
def codec(
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the results to this JSON file.")
    ] = None,
    calls: Annotated[int, typer.Option(help="Calls per timing round.")] = 20_000,
    rounds: Annotated[int, typer.Option(help="Rounds; the median is reported.")] = 5,
) -> None:
    """Encode and decode µs per event for each type, beside bare fastavro on the same records.

    The codec adds the single-object header, the fingerprint lookup and schema
    resolution; the ratio column shows what that costs over the library itself.
    """
    from shopstream.processors.benchmarks import codec as bench

    results = bench.run(
        calls=calls, rounds=rounds, progress=lambda n: typer.echo(f"measuring {n}...", err=True)
    )
    typer.echo(
        f"{'type':10} {'encode µs':>10} {'fastavro':>9} {'ratio':>6} {'decode µs':>10} {'fastavro':>9} {'ratio':>6}"
    )
    for name in [k for k in results if not k.startswith("fastavro_")]:
        ours, bare = results[name], results[f"fastavro_{name}"]
        typer.echo(
            f"{name:10} {ours['encode_us']:10.2f} {bare['encode_us']:9.2f} {ours['encode_us'] / bare['encode_us']:6.2f}"
            f" {ours['decode_us']:10.2f} {bare['decode_us']:9.2f} {ours['decode_us'] / bare['decode_us']:6.2f}"
        )
    if json_path:
        json_path.write_text(json.dumps(results, indent=2) + "\n", "utf-8")
        typer.echo(f"wrote {json_path}", err=True)
