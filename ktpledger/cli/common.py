"""What the command line's modules share: the options several commands take, and how output is printed."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from decimal import Decimal

# json is imported where a document is printed, not here: `--help` prints none (~2 ms).


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


FORMAT_OPTION = typer.Option(OutputFormat.TABLE, "--format", help="table for people, json for scripts")
WAIT_OPTION = typer.Option(
    False, "--wait", help="with a broker: wait until projections reach the ledger's head"
)
TODAY_OPTION = typer.Option(
    None,
    "--today",
    help="judge time-based figures (forecasts, ended-not-closed) as of this date, YYYY-MM-DD "
    "(default: KTPLEDGER_TODAY, else today)",
)


def print_or_write(body: str, out: str | None) -> bool:
    """`body` on stdout, or written to the file `out` (exit 2 naming it when it cannot be);
    True when it went to a file, for the caller to say so on stderr."""
    if out is None:
        sys.stdout.write(body)
        return False
    try:
        Path(out).write_text(body, encoding="utf-8")
    except OSError as error:
        typer.echo(f"error: cannot write {out}: {error}", err=True)
        raise typer.Exit(2) from None
    return True


def print_json(document: Any) -> None:
    """One JSON document on stdout."""
    import json

    sys.stdout.write(json.dumps(document, indent=2) + "\n")


def print_body_json(document: Any) -> None:
    """`document` byte for byte as the HTTP API writes a JSON body (compact, UTF-8, as
    Starlette's `JSONResponse` renders it), then a line feed."""
    import json

    print_json_text(
        json.dumps(document, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))
    )


def print_json_text(body: str) -> None:
    """A JSON body already written as the HTTP API writes it, then a line feed."""
    sys.stdout.buffer.write(body.encode("utf-8") + b"\n")
    sys.stdout.flush()


def render_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, numeric: set[int]) -> str:
    """`ktpledger.views.render_table`, imported when a table is drawn: a command that prints JSON
    never imports the views (nor the costing they lay out, ~10 ms)."""
    from ktpledger.views import render_table as render

    return render(header, rows, numeric=numeric)


def pounds(amount: Decimal | None) -> str:
    """An amount for people: thousands separators, pence kept ("-" for none)."""
    from ktpledger.domain.money import format_pounds

    return "-" if amount is None else format_pounds(amount, pence=True)


def write_output(body: bytes, fmt: str, out: str | None, *, binary: bool) -> None:
    """A rendered report to `out` (or stdout); a binary format needs `--out` on a terminal."""
    if out is None:
        if binary and sys.stdout.isatty():
            typer.echo(f"error: --format {fmt} is binary: give --out FILE", err=True)
            raise typer.Exit(2)
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
        return
    try:
        Path(out).write_bytes(body)
    except OSError as error:
        typer.echo(f"error: cannot write {out}: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"wrote {out} ({len(body):,} bytes)", err=True)
