"""`shopstream features export | package`: training sets and the shareable data set."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

# The features modules import pyarrow (the processors extra): they load when a command
# runs, so that `shopstream` starts without them.
DEFAULT_K = 5

app = typer.Typer(
    help=(
        "Features from the Parquet sink's dataset (`shopstream sink parquet --out DIR`): "
        "point-in-time training sets and the shareable data set. Exit status: 0 ok, "
        "1 no data or bad input, 2 usage."
    ),
    no_args_is_help=True,
)

Data = Annotated[
    Path,
    typer.Option("--data", help="The Parquet sink's folder (its --out)."),
]
Shop = Annotated[str | None, typer.Option("--shop", help="Only this shop (default: all).")]


@app.command("export")
def export(
    as_of: Annotated[
        str,
        typer.Option(
            "--as-of",
            help="A UTC date (the end of that day) or an ISO date-time; no version after it is used.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="The training set, .parquet or .csv.")],
    shop: Shop = None,
    data: Data = Path("data"),
) -> None:
    """Write a point-in-time-correct training set with RFM scores and customer grades.

    Each buyer's latest features at or before --as-of (never a later version), RFM scores
    1-5 by quintile within the shop, recency counted to the as-of date, and the grade.
    """
    from shopstream.processors.features import FeaturesError, export_training_set
    from shopstream.processors.features.export import parse_as_of

    try:
        summary = export_training_set(data, parse_as_of(as_of), out, shop=shop)
    except FeaturesError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(
        f"wrote {summary.path}: {summary.buyers} buyers of {summary.shops} shop(s) "
        f"as of {summary.as_of.isoformat()}"
    )


@app.command("package")
def package(
    out: Annotated[Path, typer.Option("--out", help="A new (or empty) folder for the data set.")],
    data: Data = Path("data"),
    k: Annotated[
        int, typer.Option("--k", min=1, help="Smallest group of buyers sharing quasi-identifiers.")
    ] = DEFAULT_K,
    shop: Shop = None,
    drop_review_text: Annotated[
        bool,
        typer.Option("--drop-review-text", help="Leave the reviews' free text out."),
    ] = False,
) -> None:
    """Write the shareable data set, k-anonymous over (age_band, gender, region).

    Pseudonymised events and latest features with dates instead of times, the data
    dictionary, and a k-anonymity report; groups below k are suppressed.
    """
    from shopstream.processors.features import FeaturesError, build_package

    try:
        summary = build_package(data, out, k=k, shop=shop, review_text=not drop_review_text)
    except FeaturesError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    plan = summary.plan
    typer.echo(
        f"wrote {summary.path}: {summary.buyers} buyers, {summary.event_rows} events; "
        f"k={plan.k}: {len(plan.suppressed)} buyers suppressed, {len(plan.dropped)} dropped, "
        f"{len(plan.groups)} groups left (see k-anonymity.md)"
    )
