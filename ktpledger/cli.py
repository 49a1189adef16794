"""The `ktpledger` command line (CONTRACT.md): parse, call the library, print.

Exit status: 0 done; 1 some input was rejected (the message names the rule); 2 usage error.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from enum import StrEnum
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from ktpledger.adapters.roles import RoleError
from ktpledger.adapters.signing import KeyFileError, load_verifier
from ktpledger.adapters.signing import generate as generate_key_pair
from ktpledger.bootstrap import App, bootstrap
from ktpledger.domain.alert_views import RESOLUTION_LABELS, message
from ktpledger.domain.anchor import Checkpoint, parse_checkpoint
from ktpledger.domain.chain import format_instant
from ktpledger.domain.costing import CostingRequest, cost_project, parse_request
from ktpledger.domain.errors import RuleViolation, unknown_project
from ktpledger.domain.events import parse_day
from ktpledger.domain.labels import category_label as label_of
from ktpledger.domain.labels import kind_label
from ktpledger.domain.money import format_pounds
from ktpledger.domain.rules import BusinessType, Methodology
from ktpledger.service import statements
from ktpledger.service.alert_reader import read_alerts
from ktpledger.service.checkpoints import AnchorReport, Checkpoints, UnknownPosition, verify_against
from ktpledger.service.json_input import decode_input, json_lines, parse_json
from ktpledger.service.ledger import shown_stream
from ktpledger.service.projection_check import ProjectionCheck, check_projections
from ktpledger.service.schema import SchemaNotReady, ensure_schema, grant_service_role, renew_grants, upgrade
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


FORMAT_OPTION = typer.Option(OutputFormat.TABLE, "--format", help="table for people, json for scripts")
WAIT_OPTION = typer.Option(
    False, "--wait", help="with a broker: wait until projections reach the ledger's head"
)


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
    try:
        ctx.obj = Settings.from_env().with_database(db)
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None


@contextmanager
def opened(ctx: typer.Context, *, write: bool = True, migrate: bool = True) -> Iterator[App]:
    """The composition root's objects for one command; a database that cannot be reached or has no
    schema is a clear error (exit 1), not a traceback.

    `write=False` is for commands that only read: they never create a database nor migrate one
    (an SQLite file that is not there is an error, and none is left behind), and their App
    delivers no notifications and wakes nothing (`bootstrap(read_only=True)`). Commands that
    write (`write=True`) migrate the embedded SQLite default on first use, unless `migrate=False`."""
    settings: Settings = ctx.find_root().obj or Settings.from_env()
    if not write:
        refuse_missing_file(settings.database_url)
    try:
        application = bootstrap(settings, read_only=not write)
    except ArgumentError as error:
        typer.echo(f"error: bad database URL {settings.database_url!r}: {error}", err=True)
        raise typer.Exit(2) from None
    except ValueError as error:  # a setting that cannot work, e.g. an alert channel missing its address
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    try:
        if not write:
            ensure_schema(application.database, create_embedded=False)
        elif migrate:
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


def sqlite_file(url: str) -> Path | None:
    """The file an SQLite URL names, or None (another database, an in-memory one, a bad URL)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None  # bootstrap reports it
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    name = parsed.database
    if str(parsed.query.get("uri", "")).lower() in ("true", "1"):
        if "mode=memory" in name:
            return None
        name = name.removeprefix("file:").split("?", 1)[0]
    return Path(name)


def refuse_missing_file(url: str) -> None:
    """Exit 1 if `url` names an SQLite file that is not there: a read never creates a ledger."""
    path = sqlite_file(url)
    if path is None or path.exists():
        return
    shown = make_url(url).render_as_string(hide_password=True)
    typer.echo(
        f"error: there is no ledger at {path.resolve()} ({shown}): record events there first "
        "(`ktpledger record FILE`) or run `ktpledger db upgrade`; or read another with --db or "
        "KTPLEDGER_DATABASE_URL",
        err=True,
    )
    raise typer.Exit(1)


db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(
    ctx: typer.Context,
    grant: list[str] = typer.Option(
        [], "--grant", help="PostgreSQL: then give this role the service's privileges (repeatable)"
    ),
) -> None:
    """Create or migrate the schema (Alembic, to head). On PostgreSQL, run it as the tables' owner:
    every role granted the service's privileges before (and each --grant ROLE) is granted them again."""
    with opened(ctx, migrate=False) as application:
        before, after = upgrade(application.database)
        typer.echo(f"schema at {after}" + ("" if before == after else f" (was {before or 'empty'})"))
        if application.database.dialect != "postgresql":
            if grant:
                typer.echo("error: --grant: roles are PostgreSQL's; an SQLite ledger has none", err=True)
                raise typer.Exit(2)
            return
        try:
            renewed = renew_grants(application.database, grant)
        except RoleError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(1) from None
        for role in renewed:
            typer.echo(f"granted {role} the service's privileges (INSERT and SELECT on the ledger)")


@db_app.command("grant")
def db_grant(
    ctx: typer.Context, role: str = typer.Argument(..., help="the role the service connects as")
) -> None:
    """PostgreSQL, as the tables' owner after `db upgrade`: give ROLE exactly what the service needs,
    INSERT and SELECT on the ledger (never UPDATE, DELETE, TRUNCATE or ALTER), read and write on the
    projections, tokens and notifications. Prints the statements run."""
    with opened(ctx, write=False) as application:
        try:
            statements = grant_service_role(application.database, role)
        except RoleError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(1) from None
    for statement in statements:
        typer.echo(statement + ";")
    typer.echo(f"granted {role} the service's privileges", err=True)


@app.command()
def record(
    ctx: typer.Context,
    file: str = typer.Argument(..., help="a JSON Lines file of events, or - for stdin"),
    wait: bool = WAIT_OPTION,
) -> None:
    """Append events; prints one JSON result a line; exit 1 if any was refused."""
    try:
        data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as error:
        typer.echo(f"error: cannot read {file}: {error}", err=True)
        raise typer.Exit(2) from None
    # Judged line by line, the lines numbered as in the file: see service/json_input.py.
    numbered = json_lines(decode_input(data))
    with opened(ctx) as application:
        results = application.ledger.append(parse_json(line) for _, line in numbered)
        wait_for_projections(application, wait)
    for (number, _), result in zip(numbered, results, strict=True):
        sys.stdout.write(json.dumps(result.to_json(line=number)) + "\n")
    if any(result.status == "rejected" for result in results):
        raise typer.Exit(1)


@app.command()
@refuses_input
def events(
    ctx: typer.Context,
    project: str = typer.Argument(..., help="the project's reference"),
    output_format: OutputFormat = FORMAT_OPTION,
) -> None:
    """The project's stream, oldest first. A recorded event that cannot be read is shown as it is
    stored and marked (JSON: `unreadable`, the refusal naming it), and the command exits 1."""
    with opened(ctx, write=False) as application:
        stream = application.ledger.stream(project)
        if not stream:
            refuse_unknown(application, project)
    shown = shown_stream(stream)
    bad = [document["unreadable"] for document in shown if "unreadable" in document]
    if output_format is OutputFormat.JSON:
        print_json(shown)
    else:
        rows = [
            (
                str(item.version),
                item.date.isoformat(),
                item.type,
                item.key,
                "UNREADABLE (see below)" if "unreadable" in document else summarise(document["data"]),
                format_instant(item.recorded_at)[:19].replace("T", " "),
            )
            for item, document in zip(stream, shown, strict=True)
        ]
        typer.echo(f"{project}: {len(stream)} events, head {stream[-1].hash[:16]}")
        typer.echo(render_table(("v", "date", "type", "key", "what", "recorded (UTC)"), rows, numeric={0}))
    for error in bad:
        typer.echo(f"error: {error['rule']}: {error['message']}", err=True)
    if bad:
        raise typer.Exit(1)


def refuse_unknown(application: App, project: str) -> None:
    """Refuse (R-31) a read of `project` if it has no events, naming the database read and the
    nearest projects it has."""
    known = application.ledger.projects()
    if project not in known:
        raise unknown_project(project, known, application.database.shown_url)


def summarise(data: dict[str, Any]) -> str:
    """A short line for people about an event's data."""
    parts = [
        f"{name}={value}"
        for name, value in data.items()
        if not isinstance(value, (dict, list)) and name not in ("description", "title", "reason")
    ]
    text = " ".join(parts)
    return text if len(text) <= 60 else text[:57] + "..."


WAIT_TIMEOUT = 120.0


def wait_for_projections(application: App, wait: bool, *, timeout: float = WAIT_TIMEOUT) -> None:
    """With a broker, block until every projection has folded in every event (or fail, exit 1)."""
    if not wait or application.settings.broker_url is None:
        return
    deadline = time.monotonic() + timeout
    while (behind := application.projector.behind()) > 0:
        if time.monotonic() > deadline:
            typer.echo(
                f"error: projections are still {behind} events behind the ledger after {timeout:.0f} s: "
                "are `ktpledger worker` processes running?",
                err=True,
            )
            raise typer.Exit(1)
        time.sleep(0.05)
    # Quarantined projects wait for a retry, not for workers: `behind` leaves them out; say so.
    for failed in application.projector.quarantined():
        typer.echo(
            f"warning: the projection of {failed['project']} is quarantined at version {failed['version']}: "
            f"{failed['error']}",
            err=True,
        )


@app.command()
@refuses_input
def allowances(
    ctx: typer.Context,
    project: str = typer.Argument(..., help="the project's reference"),
    as_of: str | None = typer.Option(
        None, "--as-of", help="answer for a past date (YYYY-MM-DD), by the events' date"
    ),
    output_format: OutputFormat = FORMAT_OPTION,
    wait: bool = WAIT_OPTION,
) -> None:
    """Each category's budget, limit, spent, remaining, eligible and ineligible (R-40)."""
    day = parse_day(as_of, field="as_of")
    with opened(ctx, write=False) as application:
        wait_for_projections(application, wait)
        report = application.projector.allowances(project, as_of=day)
    if output_format is OutputFormat.JSON:
        print_json(report.to_json())
        return
    document = report.to_json()
    typer.echo(
        f"{report.project}: allowances as of {document['as_of'] or 'the ledger head (version ' + str(report.version) + ')'}"
        f", ends {document['end']}, grant rate {report.grant_rate * 100:.0f}%"
    )
    rows = [
        (
            line["category"],
            line["limit_kind"],
            pounds(line["budget"]),
            pounds(line["limit"]),
            pounds(line["spent"]),
            pounds(line["remaining"]),
            pounds(line["eligible"]),
            pounds(line["ineligible"]),
        )
        for line in document["lines"]
    ]
    header = ("category", "limit kind", "budget", "limit", "spent", "remaining", "eligible", "ineligible")
    typer.echo(render_table(header, rows, numeric={2, 3, 4, 5, 6, 7}))


def pounds(text: str | None) -> str:
    """A contract money string for people: thousands separators, pence kept."""
    return "-" if text is None else format_pounds(Decimal(text), pence=True)


TODAY_OPTION = typer.Option(
    None,
    "--today",
    help="judge time-based figures (forecasts, ended-not-closed) as of this date, YYYY-MM-DD "
    "(default: KTPLEDGER_TODAY, else today)",
)


@app.command()
@refuses_input
def alerts(
    ctx: typer.Context,
    project: str | None = typer.Argument(None, help="only this project's alerts"),
    include_resolved: bool = typer.Option(False, "--all", help="resolved alerts too"),
    today: str | None = TODAY_OPTION,
    output_format: OutputFormat = FORMAT_OPTION,
    wait: bool = WAIT_OPTION,
) -> None:
    """Open alerts (R-41) with their figures now; with --all, resolved ones too. Projects past their
    end date and not closed are listed as `ended_not_closed`; an unknown PROJECT is an error (R-31)."""
    day = parse_day(today, field="today")
    with opened(ctx, write=False) as application:
        if project is not None:
            refuse_unknown(application, project)
        wait_for_projections(application, wait)
        on = application.settings.reading_day(day)
        found = read_alerts(application.database, project, include_resolved=include_resolved, today=on)
    if output_format is OutputFormat.JSON:
        print_json(found)
        return
    if not found:
        typer.echo("no open alerts" if not include_resolved else "no alerts")
        return
    rows = [
        (
            "-" if alert["id"] is None else str(alert["id"]),
            alert["project"],
            alert["kind"],
            alert["status"] + ("" if alert.get("notified", True) else ", not notified"),
            "calendar"
            if alert["raised_at_version"] is None
            else f"v{alert['raised_at_version']}"
            + (f"-v{alert['resolved_at_version']}" if alert["resolved_at_version"] else ""),
            alert["message"],
        )
        for alert in found
    ]
    typer.echo(
        f"alerts judged as of {on.isoformat()}; figures are as they stand now (JSON `detail`: as raised)"
    )
    typer.echo(render_table(("id", "project", "kind", "status", "versions", "now"), rows, numeric={0}))


class ReportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"
    HTML = "html"
    PDF = "pdf"


def write_report(document: dict[str, Any], kind: str, fmt: ReportFormat, out: str | None) -> None:
    """Render `document` and write it to `out` (or stdout); binary formats need `--out` on a terminal."""
    from ktpledger.reports import render

    body = render(document, kind, fmt.value)
    if out is None:
        if fmt in (ReportFormat.XLSX, ReportFormat.PDF) and sys.stdout.isatty():
            typer.echo(f"error: --format {fmt.value} is binary: give --out FILE", err=True)
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


REPORT_FORMAT = typer.Option(ReportFormat.JSON, "--format", help="json, csv, xlsx, html or pdf")
OUT_OPTION = typer.Option(None, "--out", help="write to this file instead of stdout")


@app.command()
@refuses_input
def reconcile(
    ctx: typer.Context,
    project: str = typer.Argument(..., help="the project's reference"),
    output_format: ReportFormat = REPORT_FORMAT,
    out: str | None = OUT_OPTION,
) -> None:
    """The end-of-grant statement (R-42); final once the project is closed, the statement so far before."""
    with opened(ctx, write=False) as application:
        document = statements.reconciliation(
            application.database, project, checkpoints=application.checkpoints
        )
    write_report(document, "reconciliation", output_format, out)


@app.command("claim-pack")
@refuses_input
def claim_pack(
    ctx: typer.Context,
    project: str = typer.Argument(..., help="the project's reference"),
    quarter: str = typer.Option(..., "--quarter", help="the quarter claimed, e.g. 2025Q2"),
    output_format: ReportFormat = REPORT_FORMAT,
    out: str | None = OUT_OPTION,
) -> None:
    """A quarterly claim: the quarter's spend, cumulative spend against budget, eligible and
    ineligible, alerts open at the quarter's end and a forecast to the end date."""
    with opened(ctx, write=False) as application:
        document = statements.claim_pack(
            application.database, project, quarter, checkpoints=application.checkpoints
        )
    write_report(document, "claim_pack", output_format, out)


@app.command()
def replay(ctx: typer.Context) -> None:
    """Rebuild every projection from the ledger alone."""
    with opened(ctx) as application:
        started = time.perf_counter()
        events_read, projects = application.projector.replay()
        took = time.perf_counter() - started
    typer.echo(f"replayed {events_read} events of {projects} projects in {took:.2f} s")


projection_app = typer.Typer(
    help="Quarantined projections: a project whose recorded events cannot be folded.", no_args_is_help=True
)
app.add_typer(projection_app, name="projection")


@projection_app.command("status")
def projection_status(ctx: typer.Context, output_format: OutputFormat = FORMAT_OPTION) -> None:
    """The quarantined projects, each with the row that stopped its projection and why, and how
    many events the other projections have still to fold in. Exit 1 if any is quarantined."""
    with opened(ctx, write=False) as application:
        failed = application.projector.quarantined()
        behind = application.projector.behind()
    if output_format is OutputFormat.JSON:
        print_json({"quarantined": failed, "behind": behind})
    elif not failed:
        typer.echo(f"no projection is quarantined; {behind} events still to fold in")
    else:
        rows = [
            (
                item["project"],
                str(item["version"]),
                f"v{item['failed_version']} (position {item['failed_position']})",
                item["since"][:19].replace("T", " "),
            )
            for item in failed
        ]
        typer.echo(f"{len(failed)} quarantined; the other projections have {behind} events still to fold in")
        typer.echo(render_table(("project", "folded to", "stopped at", "since (UTC)"), rows, numeric={1}))
        for item in failed:
            typer.echo(f"{item['project']}: {item['error']}")
    if failed:
        raise typer.Exit(1)


@projection_app.command("retry")
@refuses_input
def projection_retry(
    ctx: typer.Context,
    project: str | None = typer.Argument(None, help="the project to refold from its whole stream"),
    every: bool = typer.Option(False, "--all", help="every quarantined project"),
    output_format: OutputFormat = FORMAT_OPTION,
) -> None:
    """Refold a project's projection from its whole stream, as replay does for one project: if it
    folds now, it is healthy again and its projection_failed alert is resolved; if not, it stays
    quarantined with the new error (exit 1). With --all, every quarantined project."""
    if (project is None) == (not every):
        typer.echo("error: give a PROJECT or --all (not both)", err=True)
        raise typer.Exit(2)
    with opened(ctx) as application:
        results = application.projector.retry(None if every else [project or ""])
    if output_format is OutputFormat.JSON:
        print_json([result.to_json() for result in results])
    elif not results:
        typer.echo("no projection is quarantined")
    else:
        for result in results:
            if result.error is None:
                was = "was quarantined; " if result.was_failed else ""
                typer.echo(f"{result.project}: {was}folds now, projected to version {result.version}")
            else:
                typer.echo(f"{result.project}: still quarantined, projected to version {result.version}")
    failed = [result.error for result in results if result.error is not None]
    for error in failed:
        typer.echo(f"error: {error.rule}: {error.message}", err=True)
    if failed:
        raise typer.Exit(1)


def celery_command(ctx: typer.Context, *arguments: str) -> None:
    """Run Celery for `workers.app` in this process's place, with the library's settings."""
    settings: Settings = ctx.find_root().obj or Settings.from_env()
    if settings.broker_url is None:
        typer.echo("error: set KTPLEDGER_BROKER_URL (e.g. redis://127.0.0.1:6379/0) to run workers", err=True)
        raise typer.Exit(2)
    environment = {
        **os.environ,
        "KTPLEDGER_DATABASE_URL": settings.database_url,
        "KTPLEDGER_BROKER_URL": settings.broker_url,
    }
    command = [sys.executable, "-m", "celery", "-A", "workers.app", *arguments]
    os.execvpe(command[0], command, environment)


@app.command()
def worker(
    ctx: typer.Context,
    concurrency: int = typer.Option(1, "--concurrency", "-c", min=1, max=64, help="pool processes (prefork)"),
    loglevel: str = typer.Option("info", "--loglevel", help="debug, info, warning or error"),
    hostname: str | None = typer.Option(None, "--hostname", help="a unique node name"),
    pool: str = typer.Option(
        "auto",
        "--pool",
        help="solo (tasks in this process), prefork or threads; auto: solo for -c 1, else prefork",
    ),
) -> None:
    """A Celery worker for the projection, alert and notification tasks."""
    if pool == "auto":
        # A catch-up is short database work: on a small machine one process per core with the solo
        # pool beats a prefork pool, whose per-task hand-off costs more than the task.
        pool = "solo" if concurrency == 1 else "prefork"
    if pool not in ("prefork", "solo", "threads"):
        typer.echo(f"error: --pool must be prefork, solo or threads, got {pool!r}", err=True)
        raise typer.Exit(2)
    arguments = [
        "worker",
        "--pool",
        pool,
        "-Q",
        "ktpledger",
        "-c",
        str(concurrency),
        "--loglevel",
        loglevel,
        "--without-gossip",
        "--without-mingle",
    ]
    if hostname:
        arguments += ["--hostname", hostname]
    celery_command(ctx, *arguments)


@app.command()
def beat(
    ctx: typer.Context,
    schedule: str = typer.Option(
        str(Path(tempfile.gettempdir()) / "ktpledger-beat-schedule"), "--schedule", help="beat's state file"
    ),
    loglevel: str = typer.Option("info", "--loglevel"),
) -> None:
    """The one Celery beat: the sweeper and notification retries."""
    celery_command(ctx, "beat", "--schedule", schedule, "--loglevel", loglevel)


@app.command()
def verify(
    ctx: typer.Context,
    against: str | None = typer.Option(
        None,
        "--against",
        help="a checkpoint (`ktpledger checkpoint`, or a report's JSON): check its signature and that the "
        "ledger up to its position is exactly what it attests",
    ),
    public_key: str | None = typer.Option(
        None,
        "--public-key",
        help="the PEM public key to check the checkpoint with (default: KTPLEDGER_CHECKPOINT_PUBLIC_KEY)",
    ),
    projections: bool = typer.Option(
        False,
        "--projections",
        help="also recompute every projection from the ledger and name each row that differs",
    ),
    output_format: OutputFormat = FORMAT_OPTION,
) -> None:
    """Re-check every project's hash chain and versions; exit 1 naming the first bad event. With
    --against and --projections, also the ledger against a signed checkpoint and the projections
    against the ledger."""
    checkpoint = read_checkpoint(against) if against is not None else None
    with opened(ctx, write=False) as application:
        verifier = application.verifier
        if public_key is not None:
            try:
                verifier = load_verifier(public_key, setting="--public-key")
            except KeyFileError as error:
                typer.echo(f"error: {error}", err=True)
                raise typer.Exit(2) from None
        checked, problem = application.ledger.verify()
        anchored = verify_against(application.database, checkpoint, verifier) if checkpoint else None
        drift = check_projections(application.database) if projections else None
    ok = problem is None and (anchored is None or anchored.ok) and (drift is None or drift.ok)
    if output_format is OutputFormat.JSON:
        document: dict[str, Any] = {
            "ok": ok,
            "events_checked": checked,
            "problem": None
            if problem is None
            else {
                "project": problem.project,
                "version": problem.version,
                "position": problem.position,
                "message": problem.message,
            },
        }
        if anchored is not None:
            document["against"] = anchored.to_json()
        if drift is not None:
            document["projections"] = drift.to_json()
        print_json(document)
    else:
        show_verified(checked, problem, anchored, drift)
    if not ok:
        raise typer.Exit(1)


def read_checkpoint(path: str) -> Checkpoint:
    """The checkpoint in the JSON file at `path` (`-`: stdin), or exit 2 saying what is wrong."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        return parse_checkpoint(json.loads(text))
    except (OSError, UnicodeDecodeError) as error:
        message = f"cannot read {path}: {error}"
    except ValueError as error:  # bad JSON, or not a checkpoint
        message = f"{path} is not a ktpledger checkpoint: {error}"
    typer.echo(f"error: --against: {message}", err=True)
    raise typer.Exit(2)


def show_verified(
    checked: int, problem: Any, anchored: AnchorReport | None, drift: ProjectionCheck | None
) -> None:
    """`verify`'s findings for people: errors on stderr, the summary on stdout."""
    if problem is not None:
        typer.echo(
            f"error: R-30: project {problem.project} version {problem.version} (position {problem.position}): "
            f"{problem.message}",
            err=True,
        )
        typer.echo(f"{checked} events verified before it")
    else:
        typer.echo(f"ok: {checked} events verified, every chain intact")
    if anchored is not None:
        point = anchored.checkpoint.point
        signature = anchored.checkpoint.signature
        by = "unsigned" if signature is None else f"signed by key {signature.key_id}: {anchored.signature}"
        typer.echo(
            f"checkpoint at position {point.position}: {point.events} events, chain head {point.head[:16] or '(none)'}, {by}"
        )
        for finding in anchored.problems:
            typer.echo(f"error: R-30: {finding.message}", err=True)
        for note in anchored.notes:
            typer.echo(f"note: {note}", err=True)
        if anchored.ok:
            typer.echo(
                f"ok: the ledger up to position {point.position} is exactly what the checkpoint attests"
            )
        else:
            typer.echo(f"the ledger does not match the checkpoint: {len(anchored.problems)} finding(s)")
    if drift is not None:
        for item in drift.drifts:
            typer.echo(f"error: {item.message}", err=True)
        if drift.ok:
            typer.echo(
                f"ok: projections of {drift.projects} projects equal a replay of the ledger ({drift.rows} rows)"
            )
        else:
            typer.echo(f"{len(drift.drifts)} projection row(s) differ from a replay of the ledger")


checkpoint_app = typer.Typer(
    help="Signed checkpoints of the whole ledger (print one with no subcommand).", invoke_without_command=True
)
app.add_typer(checkpoint_app, name="checkpoint")


@checkpoint_app.callback()
def checkpoint(
    ctx: typer.Context,
    out: str | None = typer.Option(None, "--out", help="write the checkpoint to this file instead of stdout"),
    position: int | None = typer.Option(
        None, "--position", min=0, help="the checkpoint at this position (default: the last)"
    ),
) -> None:
    """The checkpoint of the whole ledger now, as JSON: position, events, chain head, and an Ed25519
    signature with KTPLEDGER_CHECKPOINT_KEY (unsigned without one). Keep it outside the database:
    `ktpledger verify --against FILE` finds any deletion, truncation or rewrite since."""
    if ctx.invoked_subcommand is not None:
        return
    with opened(ctx, write=False) as application:
        try:
            application.checkpoints.extend()  # recorded first, so reports made later read it off the record
        except DBAPIError as error:  # e.g. a role that may only read: the checkpoint is the same
            typer.echo(
                f"warning: the chain was not recorded ({error.orig}); worked out from the events", err=True
            )
        try:
            made = application.checkpoints.now(position)
        except UnknownPosition as error:
            typer.echo(f"error: --position: {error}", err=True)
            raise typer.Exit(2) from None
    body = json.dumps(made.to_json(), indent=2) + "\n"
    if made.signature is None:
        typer.echo(
            "warning: unsigned checkpoint: set KTPLEDGER_CHECKPOINT_KEY (make a key with "
            "`ktpledger checkpoint keygen --out FILE`) so it proves who made it",
            err=True,
        )
    if out is None:
        sys.stdout.write(body)
        return
    try:
        Path(out).write_text(body, encoding="utf-8")
    except OSError as error:
        typer.echo(f"error: cannot write {out}: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"wrote {out}: position {made.point.position}, {made.point.events} events", err=True)


@checkpoint_app.command("keygen")
def checkpoint_keygen(
    out: str = typer.Option(
        ..., "--out", help="the private key's file (mode 0600); the public key goes to FILE.pub"
    ),
) -> None:
    """Make an Ed25519 key pair for signing checkpoints. Keep the private key off the database's
    machine and its backups; give auditors the public key."""
    try:
        private, public, key = generate_key_pair(Path(out))
    except KeyFileError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"key {key}: private key {private} (mode 0600), public key {public}")
    typer.echo(f"export KTPLEDGER_CHECKPOINT_KEY={private.resolve()}")
    typer.echo(f"export KTPLEDGER_CHECKPOINT_PUBLIC_KEY={public.resolve()}")


@checkpoint_app.command("rebuild")
def checkpoint_rebuild(ctx: typer.Context) -> None:
    """Make the record of the ledger-wide chain (ledger_chain) again from the ledger as it stands,
    after it was damaged (on PostgreSQL, as the tables' owner: the service's role cannot delete it)."""
    with opened(ctx, write=False) as application:
        point = Checkpoints(application.database).rebuild()
    typer.echo(f"recorded the chain of {point.events} events, to position {point.position}")


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
    request = parse_request(
        methodology=methodology,
        business_type=business_type,
        months=months,
        salary=salary,
        london=london,
        virtual=virtual,
        supervisor_cost=supervisor_cost,
        supervisor_fte=supervisor_fte,
        support_costs=support_costs,
        support_rate=support_rate,
        estates=estates,
        grant_rate=grant_rate,
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


SHOW_ALLOWANCES_AFTER = {"2024 Q4", "2025 Q3", "LMC, October 2025", "2026 Q1 and closure"}


@app.command()
def demo(
    ctx: typer.Context,
    reports: str = typer.Option("reports", "--reports", help="folder for the HTML and PDF reconciliation"),
) -> None:
    """The main job on the embedded default: a 24-month fec project's life recorded quarter by quarter,
    its allowances and alerts shown as it goes, its reconciliation shown and written as HTML and PDF."""
    from ktpledger.demo_story import PROJECT, quarters
    from ktpledger.reports import render

    # The demo shows each alert as it is raised; the log channel would print it a second time.
    logging.getLogger("ktpledger.alerts").setLevel(logging.ERROR)

    with opened(ctx) as application:
        url = application.database.engine.url.render_as_string(hide_password=True)
        typer.echo(f"ktpledger demo: project {PROJECT} into {url}")
        typer.echo("(the guidance's worked costing for the offer's shape comes first)\n")
        show_costing(
            CostingRequest(
                methodology=Methodology.FEC,
                business_type=BusinessType.SME,
                months=24,
                salary=Decimal(50000),
                supervisor_cost=Decimal(80000),
                support_costs=Decimal(36000),
            ),
            OutputFormat.TABLE,
        )
        known = {
            alert["id"]: alert["status"]
            for alert in application.projector.alerts(PROJECT, include_resolved=True)
        }
        for label, items in quarters():
            results = application.ledger.append(items)
            counts = {
                status: sum(r.status == status for r in results)
                for status in ("recorded", "duplicate", "rejected")
            }
            summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
            typer.echo(f"\n== {label}: {len(items)} events ({summary})")
            for result in results:
                if result.error is not None:
                    typer.echo(f"   refused {result.key}: {result.error.rule}: {result.error.message}")
            # As raised: the demo tells the project's story as it happened, quarter by quarter.
            for alert in application.projector.alerts(PROJECT, include_resolved=True):
                before = known.get(alert["id"])
                if before == alert["status"]:
                    continue
                known[alert["id"]] = alert["status"]
                what = f"{kind_label(alert['kind'])}: {message(alert['kind'], alert['category'], alert['detail'])}"
                if alert["status"] == "open":
                    typer.echo(f"   alert raised    {what}")
                elif before is None:
                    typer.echo(f"   alert came and went within these events (not notified): {what}")
                else:
                    reason = RESOLUTION_LABELS.get(alert["resolved_reason"] or "", "resolved")
                    typer.echo(
                        f"   alert {reason}: {kind_label(alert['kind'])}, {label_of(alert['category'])}"
                    )
            if label in SHOW_ALLOWANCES_AFTER:
                report = application.projector.allowances(PROJECT).to_json()
                rows = [
                    (
                        line["category"],
                        pounds(line["budget"]),
                        pounds(line["spent"]),
                        pounds(line["remaining"]),
                        pounds(line["eligible"]),
                        pounds(line["ineligible"]),
                    )
                    for line in report["lines"]
                ]
                header = ("category", "budget", "spent", "remaining", "eligible", "ineligible")
                typer.echo(render_table(header, rows, numeric={1, 2, 3, 4, 5}))
        document = statements.reconciliation(
            application.database, PROJECT, checkpoints=application.checkpoints
        )
        from ktpledger.service.access import create_token

        viewer = create_token(application.database, "viewer", [PROJECT], label="ktpledger demo")
    typer.echo(
        f"\n== Reconciliation ({'final' if document['final'] else 'statement so far'}), "
        f"grant rate {Decimal(document['grant_rate']) * 100:.0f}%"
    )
    rows = [
        (
            line["category"],
            pounds(line["original_budget"]),
            pounds(line["final_budget"]),
            pounds(line["claimed"]),
            pounds(line["eligible"]),
            pounds(line["ineligible"]),
            pounds(line["grant"]),
            pounds(line["business"]),
        )
        for line in document["lines"]
    ]
    totals = document["totals"]
    rows.append(
        (
            "total",
            pounds(totals["original_budget"]),
            pounds(totals["final_budget"]),
            pounds(totals["claimed"]),
            pounds(totals["eligible"]),
            pounds(totals["ineligible"]),
            pounds(totals["grant"]),
            pounds(totals["business"]),
        )
    )
    header = (
        "category",
        "original",
        "final budget",
        "claimed",
        "eligible",
        "ineligible",
        "grant",
        "business",
    )
    typer.echo(render_table(header, rows, numeric={1, 2, 3, 4, 5, 6, 7}))
    leave = document["parental_leave"]
    typer.echo(
        f"parental leave incurred {pounds(leave['incurred'])}, reimbursable {pounds(leave['reimbursable'])}; "
        f"grant paid {pounds(document['grant_paid'])}; balance due {pounds(document['balance_due'])}"
    )
    typer.echo(
        f"made from ledger position {document['ledger']['position']}, "
        f"head {document['ledger']['head_hash'][:16]}"
    )
    folder = Path(reports)
    folder.mkdir(parents=True, exist_ok=True)
    for fmt in ("html", "pdf"):
        path = folder / f"{PROJECT}-reconciliation.{fmt}"
        path.write_bytes(render(document, "reconciliation", fmt))
        typer.echo(f"wrote {path.resolve()}")
    typer.echo(
        "\nsee it on the LMC dashboard: run `ktpledger serve`, open http://127.0.0.1:8000/dashboard/login and "
        f"paste this read-only token for {PROJECT}:\n  {viewer}"
    )


def _register_api() -> None:
    from ktpledger.api.commands import register
    from ktpledger.cli_admin import register as register_admin

    register(app, opened)
    register_admin(app, opened)


_register_api()


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
