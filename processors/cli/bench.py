"""`shopstream bench ...`: benchmarks (figures side by side in one run, not timed tests)."""

from __future__ import annotations

import json
import time
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


@app.command("producer")
def producer(
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the results to this JSON file.")
    ] = None,
    events: Annotated[int, typer.Option(help="Timed track calls per system.")] = 20_000,
    rounds: Annotated[
        int, typer.Option(help="Rounds; the systems take turns within each round.")
    ] = 5,
    warmup: Annotated[int, typer.Option(help="Untimed calls per system first.")] = 1_000,
    system: Annotated[
        list[str] | None,
        typer.Option(
            "--system", help="Measure only these (repeat); default: shopstream and every peer."
        ),
    ] = None,
) -> None:
    """track() latency p50/p99 on the caller's thread, events/s and wire bytes per event:
    our Tracker to a real Kafka broker beside snowplow, segment, rudderstack and posthog.

    Starts a throwaway local broker unless KAFKA_BOOTSTRAP_SERVERS is set. The peers post
    to a local HTTP endpoint that accepts everything; a peer that is not installed is
    skipped (install them with: pip install 'shopstream[bench]').
    """
    import contextlib
    import logging

    from shopstream.processors.benchmarks import producer as bench

    # snowplow-tracker calls logging.basicConfig() and sets its loggers to INFO at import,
    # which would print a line per batch; a site would not run it like that.
    with contextlib.suppress(ImportError):
        import snowplow_tracker  # noqa: F401

        for name in ("snowplow_tracker.emitters", "snowplow_tracker.snowplow"):
            logging.getLogger(name).setLevel(logging.WARNING)

    try:
        results = bench.run(
            events=events,
            rounds=rounds,
            warmup=warmup,
            systems=tuple(system) if system else bench.SYSTEMS,
            progress=lambda m: typer.echo(m, err=True),
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    for line in bench.table(results):
        typer.echo(line)
    verdict = bench.goal(results)
    if verdict is not None:
        typer.echo(
            f"\nfastest peer (p50): {verdict['fastest_peer']}; our p50 is "
            f"{verdict['p50_ratio']:.2f}× its p50 (goal ≤ 0.33: {'met' if verdict['p50_met'] else 'NOT met'}); "
            f"our p99 {results['shopstream']['p99_us']:.1f} µs (goal < 100: {'met' if verdict['p99_met'] else 'NOT met'})"
        )
    typer.echo(
        "wire bytes: ours = librdkafka tx_bytes (Kafka requests, zstd batches); "
        "peers = HTTP requests as received (headers + body, gzip only where the SDK sends gzip)"
    )
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(results, indent=2) + "\n", "utf-8")
        typer.echo(f"wrote {json_path}", err=True)


@app.command("pipeline")
def pipeline(
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the results to this JSON file.")
    ] = None,
    events: Annotated[
        int, typer.Option(help="Simulated events produced to the raw topic.")
    ] = 100_000,
    buyers: Annotated[int, typer.Option(help="Simulated buyers (members).")] = 2_000,
    bad_fraction: Annotated[float, typer.Option(help="Share of bad events.")] = 0.02,
    rounds: Annotated[
        int,
        typer.Option(help="Rounds of limit, stage 1, stage 2 in turn; the median is reported."),
    ] = 5,
    latency_seconds: Annotated[
        float, typer.Option(help="Seconds of the steady-rate latency run (after a warm-up).")
    ] = 30.0,
    latency_rate: Annotated[float, typer.Option(help="Events/s of the latency run.")] = 2_000.0,
    latency_warmup: Annotated[
        float, typer.Option(help="Seconds at the steady rate before latencies count.")
    ] = 3.0,
    commit_interval: Annotated[
        float | None,
        typer.Option(help="Seconds between the stages' commits; default: the stages' default."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the simulator.")] = 7,
) -> None:
    """Events/s of stage 1, stage 2 and both together, beside the machine's limit (a bare
    confluent-kafka loop that decodes and re-encodes, not exactly-once), the limit and the
    stages taking turns over the rounds; p50/p99 end-to-end latency at a steady rate;
    state bytes per buyer.

    Starts a throwaway local broker unless KAFKA_BOOTSTRAP_SERVERS is set (then it keeps
    to bench-<id>.* topics and deletes them afterwards). See docs/benchmarks.md.
    """
    from shopstream.processors.benchmarks import pipeline as bench

    parameters = bench.Parameters(
        events=events,
        buyers=buyers,
        bad_fraction=bad_fraction,
        seed=seed,
        rounds=rounds,
        latency_seconds=latency_seconds,
        latency_rate=latency_rate,
        latency_warmup_s=latency_warmup,
        commit_interval_s=commit_interval,
    )
    started = time.monotonic()
    try:
        results = bench.run(
            parameters,
            progress=lambda m: typer.echo(f"[{time.monotonic() - started:5.0f} s] {m}", err=True),
        )
    except bench.BenchmarkError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    for line in bench.table(results):
        typer.echo(line)
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(results, indent=2) + "\n", "utf-8")
        typer.echo(f"wrote {json_path}", err=True)


@app.command("sinks")
def sinks(
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the results to this JSON file.")
    ] = None,
    rows: Annotated[
        int, typer.Option(help="Clean events, and features versions, produced (each).")
    ] = 100_000,
    rounds: Annotated[
        int, typer.Option(help="Rounds of every system in turn; the median is reported.")
    ] = 3,
    batch_size: Annotated[
        int, typer.Option(help="The sinks' batch size (messages of one partition per write).")
    ] = 5_000,
    dsn: Annotated[
        str | None,
        typer.Option(
            envvar="SHOPSTREAM_BENCH_POSTGRES_DSN",
            help="An existing PostgreSQL server (its user must be able to CREATE DATABASE; "
            "each round gets a database of its own, dropped afterwards). Default: a throwaway "
            "server started with initdb + pg_ctl (Debian's postgresql: make postgres), "
            "PostgreSQL's durable defaults (fsync on).",
        ),
    ] = None,
    days: Annotated[
        int,
        typer.Option(
            help="Days of event time the input spans (the Parquet sink writes one file per "
            "shop, event date and type in a batch: 30 is a backfill, 1 live traffic)."
        ),
    ] = 30,
    seed: Annotated[int, typer.Option(help="Seed of the simulated input.")] = 7,
) -> None:
    """Rows/s of the Parquet and PostgreSQL sinks, in-process, beside a bare consume loop
    over the same input and the sinks' runner with a writer that discards.

    The input is N real clean events and N features versions (simulated traffic through
    stage 1 and 2's logic), produced in Kafka transactions to two topics of 6 partitions;
    the sinks read them read_committed, as in production. Starts a throwaway local broker
    unless KAFKA_BOOTSTRAP_SERVERS is set (then it keeps to bench-sinks-<id>.* topics and
    deletes them afterwards). See docs/benchmarks.md.
    """
    from shopstream.processors.benchmarks import sinks as bench

    parameters = bench.Parameters(
        rows=rows, rounds=rounds, batch_size=batch_size, days=days, seed=seed
    )
    started = time.monotonic()
    try:
        results = bench.run(
            parameters,
            dsn=dsn,
            progress=lambda m: typer.echo(f"[{time.monotonic() - started:5.0f} s] {m}", err=True),
        )
    except bench.BenchmarkError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    for line in bench.table(results):
        typer.echo(line)
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(results, indent=2) + "\n", "utf-8")
        typer.echo(f"wrote {json_path}", err=True)
