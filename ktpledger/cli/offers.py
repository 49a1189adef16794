"""`ktpledger offer FILE`: the `GrantOffered` event of a grant offer letter (issue 13), read from
the letter's budget sheet (XLSX) or its terms written as TOML, printed as one line of JSON for
`ktpledger record`. Needs no database and records nothing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ktpledger.cli.errors import refuses_input
from ktpledger.cli.reports import parse_justifications, print_offer, usage_error
from ktpledger.cli.root import Opened

if TYPE_CHECKING:
    from ktpledger.domain.offer_letter import OfferLetter


def option_of(term: str) -> str:
    """The option that supplies a term of the letter: project -> --project, knowledge_base -> --knowledge-base."""
    return "--" + term.replace("_", "-")


def register(app: typer.Typer, opened: Opened) -> None:
    """Add `offer` to `app`."""

    @app.command()
    @refuses_input
    def offer(
        file: Path = typer.Argument(
            ..., help="the offer letter: its budget sheet (.xlsx) or its terms (.toml)"
        ),
        sheet: str | None = typer.Option(None, "--sheet", help="XLSX: the sheet to read (default the first)"),
        project: str | None = typer.Option(None, "--project", help="the project's reference"),
        key: str | None = typer.Option(None, "--key", help='the idempotency key (default "offer")'),
        date: str | None = typer.Option(
            None, "--date", help="the event's date (YYYY-MM-DD; default the start)"
        ),
        title: str | None = typer.Option(None, "--title", help="the project's title"),
        start: str | None = typer.Option(None, "--start", help="the first day (YYYY-MM-DD)"),
        months: str | None = typer.Option(None, "--months", help="the duration in whole months (R-02)"),
        knowledge_base: str | None = typer.Option(None, "--knowledge-base", help="the university or college"),
        business: str | None = typer.Option(None, "--business", help="the business partner"),
        methodology: str | None = typer.Option(None, "--methodology", help="fec or non_fec (R-01)"),
        business_type: str | None = typer.Option(
            None, "--business-type", help="sme, large, not_for_profit or public_sector (R-03)"
        ),
        london: bool = typer.Option(False, "--london", help="London weighting (R-10)"),
        virtual: bool = typer.Option(False, "--virtual", help="a virtual business (R-11, R-14)"),
        supervisor_cost: str | None = typer.Option(
            None, "--supervisor-cost", help="fec: the supervisor's annual salary plus overheads (R-16)"
        ),
        grant_rate: str | None = typer.Option(
            None, "--grant-rate", help="the offer letter's grant rate (0.67 or 67%), if not R-03's"
        ),
        justification: list[str] | None = typer.Option(
            None,
            "--justification",
            help="CATEGORY=TEXT, why a standard line is above its standard (R-31); repeatable",
        ),
        out: str | None = typer.Option(None, "--out", help="write the event to this file instead of stdout"),
    ) -> None:
        """The GrantOffered event of an offer letter (XLSX or TOML) as one line of JSON for `record`;
        the options give or override the letter's terms. Records nothing."""
        from ktpledger.domain.offer_letter import (
            TERM_WHAT,
            MissingTerms,
            Written,
            offer_from_letter,
            overheads_note,
        )

        options = {
            "project": project,
            "key": key,
            "date": date,
            "title": title,
            "start": start,
            "months": months,
            "knowledge_base": knowledge_base,
            "business": business,
            "methodology": methodology,
            "business_type": business_type,
            "supervisor_cost": supervisor_cost,
            "grant_rate": grant_rate,
            "london": "yes" if london else None,
            "virtual": "yes" if virtual else None,
        }
        given = {
            term: Written(value, option_of(term)) for term, value in options.items() if value is not None
        }
        justifications = parse_justifications(justification or [])
        letter = read_letter(file, sheet)
        try:
            read = offer_from_letter(letter, given, justifications)
        except MissingTerms as error:
            listed = "; ".join(f"{TERM_WHAT[term]} ({option_of(term)})" for term in error.missing)
            usage_error(f"{file} does not give {listed}: give them as options")
        note = overheads_note(read)
        if note is not None:
            typer.echo(f"note: {note}", err=True)
        print_offer(read.draft, out)


def read_letter(file: Path, sheet: str | None) -> OfferLetter:
    """The offer letter in `file`; a file that cannot be read as one is a usage error (exit 2)."""
    from ktpledger.adapters.offer_files import OfferFileError, file_kind, read_sheet, read_toml
    from ktpledger.domain.offer_letter import letter_from_cells, letter_from_toml

    try:
        kind = file_kind(file)
        if kind == "toml":
            if sheet is not None:
                usage_error(f"--sheet is for an XLSX workbook; {file} is TOML")
            return letter_from_toml(read_toml(file))
        read = read_sheet(file, sheet)
    except OfferFileError as error:
        usage_error(str(error))
    return letter_from_cells(read.cells, sheet=read.name)
