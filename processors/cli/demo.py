"""`shopstream demo`: the whole pipeline on a throwaway local broker, then a summary."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from shopstream.processors import demo as demo_job
from shopstream.processors.rfm import GRADES

_PSEUDONYM_CHARS = 12


def demo(
    events: Annotated[
        int, typer.Option(min=1, help="Events to simulate, bad ones included.")
    ] = demo_job.DemoOptions.events,
    buyers: Annotated[
        int, typer.Option(min=1, help="Members, spread over 3 shops.")
    ] = demo_job.DemoOptions.buyers,
    bad_fraction: Annotated[
        float,
        typer.Option(
            min=0.0, max=0.5, help="Share of events malformed or out of range on purpose."
        ),
    ] = demo_job.DemoOptions.bad_fraction,
    seed: Annotated[int, typer.Option(help="Seed of the simulator.")] = demo_job.DemoOptions.seed,
    keep_logs: Annotated[
        Path | None,
        typer.Option(help="Write the stages' JSON logs into this folder and keep them."),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option(min=1.0, help="Seconds to wait for the stages to drain after the simulator."),
    ] = demo_job.DemoOptions.drain_timeout_s,
) -> None:
    """Run the whole pipeline end to end and summarise what came out.

    Starts a local Kafka node (or uses KAFKA_BOOTSTRAP_SERVERS, with demo-only topic
    names), creates the topics, generates fresh pseudonymisation and dead-letter keys
    (never printed), starts stage 1 (`process clean`) and stage 2 (`process aggregate`)
    as subprocesses logging into files, sends the simulator's traffic (~3 % bad) through
    the SDK into the raw topic, and waits until both stages have drained, showing live
    counts. Then it prints: events in, clean, dead letters by reason, buyers aggregated,
    the top 5 buyers by spend (pseudonyms shortened) and the distribution of RFM grades;
    stops the stages with SIGTERM (each must exit 0) and the broker.

    On failure it says where the stages' logs are and exits non-zero.
    """
    started = time.monotonic()

    def say(message: str) -> None:
        typer.secho(
            f"[{time.monotonic() - started:6.1f} s] {message}", err=True, fg=typer.colors.CYAN
        )

    # Library warnings (the SDK's client retrying while a fresh broker loads its
    # coordinators) join the progress lines instead of Python's bare last-resort output.
    logging.getLogger().addHandler(_SayHandler(say))
    options = demo_job.DemoOptions(
        events=events, buyers=buyers, bad_fraction=bad_fraction, seed=seed, drain_timeout_s=timeout
    )
    log_dir, temporary = demo_job.open_log_dir(keep_logs)
    try:
        with (
            demo_job.broker(say) as target,
            tempfile.TemporaryDirectory(prefix="shopstream-demo-state-") as state,
        ):
            summary = demo_job.run_pipeline(
                target, say, log_dir=log_dir, state_dir=Path(state), options=options
            )
    except KeyboardInterrupt:
        typer.secho(
            f"interrupted; the stages' logs are in {log_dir}", err=True, fg=typer.colors.RED
        )
        raise typer.Exit(130) from None
    except Exception as exc:  # every failure ends the same way: what, and where the logs are
        typer.secho(f"demo failed: {exc}", err=True, fg=typer.colors.RED)
        typer.secho(f"the stages' logs are in {log_dir}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from exc

    typer.echo(render(summary))
    say(f"done in {time.monotonic() - started:.1f} s")
    if not summary.adds_up or not summary.stages_stopped_cleanly:
        typer.secho(
            "the counts do not add up or a stage did not stop cleanly; "
            f"the stages' logs are in {log_dir}",
            err=True,
            fg=typer.colors.RED,
        )
        raise typer.Exit(1)
    if temporary:
        shutil.rmtree(log_dir, ignore_errors=True)
    else:
        say(f"the stages' logs are in {log_dir}")


class _SayHandler(logging.Handler):
    def __init__(self, say: Callable[[str], None]) -> None:
        super().__init__(logging.WARNING)
        self._say = say

    def emit(self, record: logging.LogRecord) -> None:
        self._say(f"{record.levelname.lower()}: {record.getMessage()}")


def render(summary: demo_job.DemoSummary) -> str:
    """The summary as aligned text for a terminal."""
    types = ", ".join(f"{name} {n:,}" for name, n in summary.clean_by_type.items())
    check = "✓" if summary.adds_up else "✗ DOES NOT ADD UP"
    lines = [
        "",
        "pipeline summary",
        f"  events in        {summary.events_in:>8,}   (raw topic; the simulator sent {summary.sent:,})",
        f"  clean            {summary.clean:>8,}   ({types})",
        f"  dead-lettered    {summary.dead_letters:>8,}   by reason (a letter may have several):",
    ]
    lines += [f"      {rule:<26}{n:>6,}" for rule, n in summary.dead_letters_by_rule.items()]
    lines += [
        f"  in = clean + dead-lettered: {summary.events_in:,} = {summary.clean:,} + "
        f"{summary.dead_letters:,} {check}",
        f"  buyers aggregated {summary.buyers:>7,}   ({len(summary.grades)} shops)",
        "",
        f"top {len(summary.top_buyers)} buyers by spend (pseudonyms: first {_PSEUDONYM_CHARS} hex digits)",
        f"  {'shop':<14}{'buyer':<15}{'orders':>6}{'spend':>16}  {'RFM':<10}grade",
    ]
    for buyer in summary.top_buyers:
        lines.append(
            f"  {buyer.shop_id:<14}{buyer.buyer_pseudonym[:_PSEUDONYM_CHARS]:<15}{buyer.orders:>6}"
            f"{_money(buyer.spend, buyer.currency):>16}  {buyer.score!s:<10}{buyer.grade}"
        )
    shops = list(summary.grades)
    width = max([11, *(len(s) + 2 for s in shops)])
    lines += [
        "",
        "RFM grades (quintiles per shop; rules in shopstream.processors.rfm)",
        f"  {'grade':<10}" + "".join(f"{s:>{width}}" for s in shops) + f"{'total':>8}",
    ]
    totals = summary.grade_totals
    for g in GRADES:
        cells = "".join(f"{summary.grades[s][g]:>{width},}" for s in shops)
        lines.append(f"  {g:<10}{cells}{totals[g]:>8,}")
    return "\n".join(lines)


def _money(amount: int, currency: str) -> str:
    # KRW has no minor unit: the amount is in won.
    return f"₩{amount:,}" if currency == "KRW" else f"{amount:,} {currency} (minor units)"
