"""The `ktpledger` command line (CONTRACT.md): parse, call the library, print.

Exit status: 0 done; 1 some input was rejected (the message names the rule); 2 usage error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import typer
from sqlalchemy.exc import ArgumentError, OperationalError

from ktpledger.bootstrap import App, bootstrap
from ktpledger.domain.chain import format_instant
from ktpledger.domain.costing import CostingRequest, cost_project
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.money import parse_money
from ktpledger.domain.rules import BusinessType, Methodology, parse_choice
from ktpledger.service.ledger import parse_json
from ktpledger.service.schema import SchemaNotReady, ensure_schema, upgrade
from ktpledger.settings import Settings
from ktpledger.views import costing_json, costing_rows, render_table

P = ParamSpec("P")
R = TypeVar("R")

app = typer.Typer(
    name="ktpledger",
    help="Event-driven budget ledger for UK Knowledge Transfer Partnerships.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def print_json(document: Any) -> None:
    """One JSON document on stdout."""
    sys.stdout.write(json.dumps(document, indent=2) + "\n")


def refuses_input(command: Callable[P, R]) -> Callable[P, R]:
    """Turn a `RuleViolation` into its message on stderr (and a JSON error with --format json), exit 1."""

    @wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except RuleViolation as error:
            if kwargs.get("output_format") == OutputFormat.JSON:
                print_json({"error": error.as_dict()})
            typer.echo(f"error: {error.rule}: {error.message}", err=True)
            raise typer.Exit(1) from None

    return run


def parse_months(text: str) -> int:
    """Whole months, or `RuleViolation` R-02."""
    try:
        return int(text.strip())
    except ValueError:
        raise RuleViolation("R-02", f"months must be a whole number of months, got {text!r}") from None


def parse_fraction(text: str, *, field: str, rule: str) -> Decimal:
    """A decimal fraction such as 0.1, not money, so up to 4 places are allowed."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise RuleViolation(rule, f"{field} must be a decimal such as 0.1, got {text!r}") from None
    if not value.is_finite() or not 0 <= value <= 1:
        raise RuleViolation(rule, f"{field} must be between 0 and 1, got {text!r}")
    return value


FORMAT_OPTION = typer.Option(OutputFormat.TABLE, "--format", help="table for people, json for scripts")


@app.callback()
def configure(
    ctx: typer.Context,
    db: str | None = typer.Option(
        None,
        "--db",
        help="SQLAlchemy database URL (default: KTPLEDGER_DATABASE_URL or sqlite:///ktpledger.db)",
    ),
) -> None:
    """Event-driven budget ledger for UK Knowledge Transfer Partnerships."""
    ctx.obj = Settings.from_env().with_database(db)


@contextmanager
def opened(ctx: typer.Context, *, migrate: bool = True) -> Iterator[App]:
    """The composition root's objects for one command; a database that cannot be reached or has no
    schema is a clear error (exit 1), not a traceback."""
    settings: Settings = ctx.find_root().obj or Settings.from_env()
    try:
        application = bootstrap(settings)
    except (ValueError, ArgumentError) as error:
        typer.echo(f"error: bad database URL {settings.database_url!r}: {error}", err=True)
        raise typer.Exit(2) from None
    try:
        if migrate:
            ensure_schema(application.database)
        yield application
    except SchemaNotReady as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    except OperationalError as error:
        url = application.database.engine.url.render_as_string(hide_password=True)
        typer.echo(f"error: cannot use the database at {url}: {error.orig}", err=True)
        raise typer.Exit(1) from None
    finally:
        application.close()


db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Create or migrate the schema (Alembic, to head)."""
    with opened(ctx, migrate=False) as application:
        before, after = upgrade(application.database)
        typer.echo(f"schema at {after}" + ("" if before == after else f" (was {before or 'empty'})"))


@app.command()
def record(
    ctx: typer.Context,
    file: str = typer.Argument(..., help="a JSON Lines file of events, or - for stdin"),
) -> None:
    """Append events; prints one JSON result a line; exit 1 if any was refused."""
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        typer.echo(f"error: cannot read {file}: {error}", err=True)
        raise typer.Exit(2) from None
    numbered = [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    with opened(ctx) as application:
        results = application.ledger.append(parse_json(line) for _, line in numbered)
    for (number, _), result in zip(numbered, results, strict=True):
        sys.stdout.write(json.dumps(result.to_json(line=number)) + "\n")
    if any(result.status == "rejected" for result in results):
        raise typer.Exit(1)


@app.command()
def events(
    ctx: typer.Context,
    project: str = typer.Argument(..., help="the project's reference"),
    output_format: OutputFormat = FORMAT_OPTION,
) -> None:
    """The project's stream, oldest first."""
    with opened(ctx) as application:
        stream = application.ledger.stream(project)
    if not stream:
        typer.echo(f"error: R-31: unknown project {project!r}: it has no events", err=True)
        raise typer.Exit(1)
    if output_format is OutputFormat.JSON:
        print_json([item.to_json() for item in stream])
        return
    rows = [
        (
            str(item.version),
            item.date.isoformat(),
            item.type,
            item.key,
            summarise(item.to_json()["data"]),
            format_instant(item.recorded_at)[:19].replace("T", " "),
        )
        for item in stream
    ]
    typer.echo(f"{project}: {len(stream)} events, head {stream[-1].hash[:16]}")
    typer.echo(render_table(("v", "date", "type", "key", "what", "recorded (UTC)"), rows, numeric={0}))


def summarise(data: dict[str, Any]) -> str:
    """A short line for people about an event's data."""
    parts = [
        f"{name}={value}"
        for name, value in data.items()
        if not isinstance(value, (dict, list)) and name not in ("description", "title", "reason")
    ]
    text = " ".join(parts)
    return text if len(text) <= 60 else text[:57] + "..."


@app.command()
def verify(ctx: typer.Context) -> None:
    """Re-check every project's hash chain and versions; exit 1 naming the first bad event."""
    with opened(ctx) as application:
        checked, problem = application.ledger.verify()
    if problem is not None:
        typer.echo(
            f"error: R-30: project {problem.project} version {problem.version} (position {problem.position}): "
            f"{problem.message}",
            err=True,
        )
        typer.echo(f"{checked} events verified before it")
        raise typer.Exit(1)
    typer.echo(f"ok: {checked} events verified, every chain intact")


@app.command()
@refuses_input
def costing(
    methodology: str = typer.Option(..., help="fec or non_fec (R-01)"),
    business_type: str = typer.Option(..., help="sme, large, not_for_profit or public_sector (R-03)"),
    months: str = typer.Option(..., help="duration in whole months, 1..60 (R-02)"),
    salary: str = typer.Option(..., help="the associate's annual employment cost in pounds (R-10)"),
    london: bool = typer.Option(False, "--london", help="London weighting (R-10)"),
    virtual: bool = typer.Option(False, "--virtual", help="a virtual business (R-11, R-14)"),
    supervisor_cost: str | None = typer.Option(None, help="fec: supervisor's annual salary plus overheads"),
    supervisor_fte: str = typer.Option("0.1", help="fec: supervisor FTE (standard 0.1, R-16)"),
    support_costs: str | None = typer.Option(None, help="fec: annual additional associate support costs"),
    support_rate: str = typer.Option("0.5", help="fec: charge rate for additional support"),
    estates: str = typer.Option("0", help="fec: associate estates for the project (max 10,000, R-17)"),
    grant_rate: str | None = typer.Option(None, help="grant rate of the offer letter, if not R-03's"),
    output_format: OutputFormat = FORMAT_OPTION,
) -> None:
    """The eligible costs of a project and each party's share, as the guidance tables (R-20, R-21)."""
    request = CostingRequest(
        methodology=parse_choice(Methodology, methodology, field="methodology"),
        business_type=parse_choice(BusinessType, business_type, field="business type", rule="R-03"),
        months=parse_months(months),
        salary=parse_money(salary, field="salary"),
        london=london,
        virtual=virtual,
        supervisor_cost=None
        if supervisor_cost is None
        else parse_money(supervisor_cost, field="supervisor cost"),
        supervisor_fte=parse_fraction(supervisor_fte, field="supervisor FTE", rule="R-16"),
        support_costs=None if support_costs is None else parse_money(support_costs, field="support costs"),
        support_rate=parse_fraction(support_rate, field="support rate", rule="R-01"),
        estates=parse_money(estates, field="estates"),
        grant_rate=None
        if grant_rate is None
        else parse_fraction(grant_rate, field="grant rate", rule="R-03"),
    )
    show_costing(request, output_format)


def show_costing(request: CostingRequest, output_format: OutputFormat) -> None:
    """Print the costing of `request` as a table or JSON."""
    result = cost_project(request)
    if output_format is OutputFormat.JSON:
        print_json(costing_json(result))
        return
    rate = f"{result.grant_rate * 100:.0f}%"
    typer.echo(
        f"{request.methodology.value} costing, {request.business_type.value}, {request.months} months, "
        f"grant rate {rate}" + (", London weighting" if request.london else "")
    )
    typer.echo(
        render_table(
            ("line", "eligible", f"grant {rate}", "business", "note"),
            costing_rows(result),
            numeric={1, 2, 3},
        )
    )


@app.command()
def demo() -> None:
    """The main job on the embedded default (until the ledger exists: the guidance's worked costings)."""
    for request in (
        CostingRequest(
            methodology=Methodology.FEC,
            business_type=BusinessType.SME,
            months=12,
            salary=Decimal(45000),
            supervisor_cost=Decimal(80000),
            support_costs=Decimal(36000),
        ),
        CostingRequest(
            methodology=Methodology.NON_FEC, business_type=BusinessType.SME, months=12, salary=Decimal(45000)
        ),
    ):
        typer.echo("")
        show_costing(request, OutputFormat.TABLE)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
