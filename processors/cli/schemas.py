"""`shopstream schemas ...`: the contract's checks and generated docs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shopstream.schemas.contract import Contract
from shopstream.schemas.conventions import check_contract
from shopstream.schemas.dictionary import render
from shopstream.schemas.pseudonymised import clean_root, render_clean

app = typer.Typer(
    help="Inspect, check and document the event contract (schemas/).", no_args_is_help=True
)

SchemasDir = Annotated[
    Path | None,
    typer.Option(
        "--schemas-dir", help="Folder of <name>/v<N>.avsc files; defaults to the shipped contract."
    ),
]


@app.command("list")
def list_schemas(schemas_dir: SchemasDir = None) -> None:
    """List every event schema with its versions and the current fingerprint."""
    contract = Contract.load(schemas_dir)
    for name in contract.names:
        versions = contract.versions(name)
        current = versions[-1]
        typer.echo(
            f"{name:10} v{current.version}  {current.fingerprint_hex}  {current.full_name}"
            f"  (versions: {', '.join(f'v{s.version}' for s in versions)})"
        )


@app.command("check")
def check(schemas_dir: SchemasDir = None) -> None:
    """Prove every schema FULL_TRANSITIVE compatible with its earlier versions and the conventions kept.

    Exits 1 and names the schema, the field and the rule for each problem found.
    """
    contract = Contract.load(schemas_dir)
    problems = check_contract(contract)
    for problem in problems:
        typer.echo(str(problem), err=True)
    if problems:
        typer.echo(f"{len(problems)} problem(s) in the contract", err=True)
        raise typer.Exit(1)
    total = sum(len(contract.versions(n)) for n in contract.names)
    typer.echo(
        f"ok: {len(contract.names)} schemas, {total} versions, all FULL_TRANSITIVE compatible"
    )


@app.command("docs")
def docs(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Where to write the data dictionary.")
    ] = Path("docs/data-dictionary.md"),
    schemas_dir: SchemasDir = None,
    check_only: Annotated[
        bool, typer.Option("--check", help="Do not write; exit 1 if the file is not up to date.")
    ] = False,
) -> None:
    """Regenerate the data dictionary (field, type, format, range, personal-data class, treatment)."""
    text = render(Contract.load(schemas_dir))
    if check_only:
        current = out.read_text("utf-8") if out.exists() else ""
        if current != text:
            typer.echo(f"{out} is stale: run `shopstream schemas docs`", err=True)
            raise typer.Exit(1)
        typer.echo(f"{out} is up to date")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, "utf-8")
    typer.echo(f"wrote {out}")


@app.command("derive")
def derive(
    check_only: Annotated[
        bool, typer.Option("--check", help="Do not write; exit 1 if a clean schema is stale.")
    ] = False,
) -> None:
    """Rewrite the pseudonymised (clean) schemas from the event schemas' x-treatment annotations.

    They live in schemas/avro/clean/<type>/v<N>.avsc, beside the event schemas they come from.
    """
    contract = Contract.load()
    stale = []
    for name in contract.names:
        schema = contract.latest(name)
        path = clean_root() / name / f"v{schema.version}.avsc"
        text = render_clean(schema)
        if not path.exists() or path.read_text("utf-8") != text:
            stale.append(path)
            if not check_only:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, "utf-8")
    for path in stale:
        typer.echo(f"{'stale' if check_only else 'wrote'} {path}", err=check_only)
    if check_only and stale:
        typer.echo("run `shopstream schemas derive`", err=True)
        raise typer.Exit(1)
    if not stale:
        typer.echo("clean schemas are up to date")
