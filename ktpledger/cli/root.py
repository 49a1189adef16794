"""The `ktpledger` command itself: its `--db` option, the settings read once for a run, and the
App each command opens (`opened`). The commands are added to `app` by the modules of this package
(`ktpledger/cli/__init__.py`).

Start-up is kept cheap (issue 18, "a fast CLI"): this module and the modules that add commands
import the composition root, the service, the adapters and the renderers inside the functions that
use them, so parsing a command line (and `--help`) loads none of SQLAlchemy, fpdf or openpyxl."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import AbstractContextManager, contextmanager
from importlib import import_module
from typing import TYPE_CHECKING, Any, Protocol

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup

from ktpledger.cli.coercion import plain_first
from ktpledger.cli.errors import database_refused, refuse_missing_file, settings_refused

if TYPE_CHECKING:
    from ktpledger.bootstrap import App
    from ktpledger.domain.recorded import Channel, RecordedBy
    from ktpledger.settings import Settings

# typer coerces the command line's values without pydantic where it can (cli/coercion.py).
plain_first()

# The order `ktpledger --help` lists the commands in, as it did when they were all in one module
# (commands first, then groups of subcommands). The modules of this package add theirs by job.
HELP_ORDER = (
    "record",
    "import",
    "projects",
    "events",
    "allowances",
    "alerts",
    "acknowledge",
    "reconcile",
    "claim-pack",
    "claim",  # grant claims
    "invoice",
    "invoice-payment",
    "transactions",
    "replay",
    "worker",
    "beat",
    "verify",
    "costing",
    "offer",
    "demo",
    "serve",
    "system-alerts",
    "db",
    "projection",
    "checkpoint",
    "token",
    "notifications",
    "digest",
)


# The module of this package that adds each command (its `register(app, opened)`), in the order
# the modules added them (commands, then groups): the order `--help` lists what HELP_ORDER leaves
# out. A module is imported when one of its commands is run (the listing of `ktpledger --help` is
# drawn from SUMMARIES, below), so a command line loads its command's module alone (issue 18, "a
# fast CLI"). tests/test_cli_startup.py checks the table against what the modules add.
COMMAND_MODULES = {
    "record": "ledger",
    "events": "ledger",
    "verify": "ledger",
    "import": "imports",
    "projects": "reports",
    "allowances": "reports",
    "alerts": "reports",
    "reconcile": "reports",
    "claim-pack": "reports",
    "costing": "reports",
    "acknowledge": "acknowledgements",
    "invoice": "invoices",
    "invoice-payment": "invoices",
    "transactions": "transactions",
    "offer": "offers",
    "replay": "workers",
    "worker": "workers",
    "beat": "workers",
    "demo": "demo",
    "serve": "serve",
    "system-alerts": "notifications",
    "profile": "profile",  # spend profiles
    "portfolio": "portfolio",  # the KTP office's portfolio
    "claim": "claims",  # grant claims
    "projection": "workers",
    "db": "admin",
    "checkpoint": "admin",
    "token": "serve",
    "notifications": "notifications",
    "digest": "digest",  # digest notifications (issue 16)
}


# What `ktpledger --help` lists beside each command: the first sentence of its help, which click
# shortens to the terminal's width. The listing is drawn from this table (`InHelpOrder`), so that
# `ktpledger --help` builds no command: importing every module and typer's building of every
# command were ~50 ms of it (issue 18, "a fast CLI"). tests/test_cli_startup.py checks the table
# against the commands' own help: change a command's first sentence, change its line here.
SUMMARIES = {
    "record": "Append events; prints one JSON result a line; exit 1 if any was refused.",
    "import": "Import a finance export's spend rows as events; exit 1 if any row is rejected (a real run then records nothing unless --skip-rejected), 2 for a bad profile or an unreadable file.",
    "projects": "The projects in the ledger: status, period, where each stands as of --today and its open alerts (JSON: the body of `GET /projects` for an admin token).",
    "events": "The project's stream, oldest first.",
    "allowances": "Each category's budget, limit, spent, remaining, eligible and ineligible (R-40).",
    "alerts": "Open alerts (R-41) with their figures now; with --all, resolved ones too.",
    "acknowledge": "Acknowledge an alert with a note (R-39): records an `AlertAcknowledged` event naming the alert, by `--as NAME` (default: the operating-system user).",
    "reconcile": "The end-of-grant statement (R-42); final once the project is closed, the statement so far before.",
    "claim-pack": "A quarterly claim: the quarter's spend, cumulative spend against budget, eligible and ineligible, alerts open at the quarter's end and a forecast to the end date.",
    "claim": "The quarter's grant claims (R-45) and their approvals (R-46).",
    "invoice": "The business's contribution due for a quarter (R-44): its share of the eligible costs dated in the quarter as the reconciliation works it, a prior-period adjustment for costs of invoiced quarters that arrived since, and on the final quarter the top-up to the offer's business total (R-32).",
    "invoice-payment": "A payment from the business against one of its invoices (R-44): no more than is outstanding on it.",
    "transactions": "The events behind each allowance line's figures: the decisions that set or moved its budget, its claims and reversals, each claim eligible, partly eligible or ineligible with the reasons and rules (JSON: the body of `GET /projects/{project}/transactions`; CSV: its download).",
    "replay": "Rebuild every projection from the ledger alone.",
    "worker": "A Celery worker for the projection, alert and notification tasks.",
    "beat": "The one Celery beat: the sweeper and notification retries.",
    "verify": "Re-check every project's hash chain and versions; exit 1 naming the first bad event.",
    "costing": "The eligible costs of a project and each party's share, as the guidance tables (R-20, R-21); with --offer, the project's GrantOffered event built from them.",
    "offer": "The GrantOffered event of an offer letter (XLSX or TOML) as one line of JSON for `record`; the options give or override the letter's terms.",
    "demo": "The main job on the embedded default: a 24-month fec project's life recorded quarter by quarter, its allowances and alerts shown as it goes, its reconciliation shown; its reconciliation and last claim pack written in every format, and those of a 12-month non-fec project (KTP-DEMO-02, recorded after it in the same ledger) under non-fec/.",
    "serve": 'The HTTP API (OpenAPI at /docs) and the LMC dashboard (/dashboard), with limits on connections, timeouts and sizes (README.md, "A bounded server").',
    "system-alerts": "The service's own troubles, for administrators: `projection_failed` (a project's projection is quarantined) and `channel_down` (a notification channel keeps failing).",
    "db": "The database schema.",
    "projection": "Quarantined projections: a project whose recorded events cannot be folded.",
    "checkpoint": "Signed checkpoints of the whole ledger (print one with no subcommand).",
    "token": "Access tokens of the HTTP API and the dashboard.",
    "notifications": "Alert notifications per channel: list failed or pending ones, resend them.",
    "digest": "Digest notifications: one e-mail a day or a week per recipient.",
    "profile": "The spend profile of each budget line (R-43): per calendar quarter the plan and the spend, both cumulated, and at each quarter end passed whether the spend is behind or ahead of the plan (more than 10%); each line's forecast at the end date (JSON: the body of `GET /projects/{project}/profile`).",
    "portfolio": "Every project's health as of --today (R-47): red, amber or green with its reasons, beside budget, spent, % spent against % of the period elapsed, forecast at the end date, grant claimed and paid, and the next deadline; most pressing first, then the totals.",
}


class LazyCommands(MutableMapping[str, Any]):
    """A group's commands by name: every name of `COMMAND_MODULES` known at once, each command built
    by its module (`load`) when it is first looked up; a command added directly is kept as given.
    Its values are click commands: `Any`, as the click they come from differs by typer version."""

    def __init__(self, built: Mapping[str, Any], load: Callable[[str], Mapping[str, Any]]) -> None:
        self._built = dict(built)
        self._names = [*COMMAND_MODULES, *(name for name in built if name not in COMMAND_MODULES)]
        self._load = load

    def __getitem__(self, name: str) -> Any:
        if name not in self._built and name in COMMAND_MODULES:
            self._built.update(self._load(COMMAND_MODULES[name]))
        return self._built[name]

    def __contains__(self, name: object) -> bool:
        return name in self._names  # without building the command

    def built(self, name: str) -> Any | None:
        """The command `name` if it is built already (None if not), without building it."""
        return self._built.get(name)

    def __setitem__(self, name: str, command: Any) -> None:
        if name not in self._names:
            self._names.append(name)
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        if name not in self._names:
            raise KeyError(name)
        self._names.remove(name)
        self._built.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._names))

    def __len__(self) -> int:
        return len(self._names)


def commands_of(module: str) -> dict[str, Any]:
    """The commands `ktpledger.cli.MODULE` adds, built as the root's own: registered on a Typer
    of the root's settings, with the root's `opened`."""
    part = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)
    import_module(f"ktpledger.cli.{module}").register(part, opened)
    return dict(typer.main.get_group(part).commands)


class InHelpOrder(TyperGroup):
    """The root group: its commands built by their modules as they are needed (`LazyCommands`),
    listed in `HELP_ORDER` (any other after them, as added) by their `SUMMARIES`."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = LazyCommands(self.commands, commands_of)

    # `ctx` is passed through unread. Its class is click's Context up to typer 0.2x and the Context of
    # typer's private copy of click (`typer._click`) after: no public name covers both.
    def list_commands(self, ctx: Any) -> list[str]:
        return sorted(
            self.commands,
            key=lambda name: HELP_ORDER.index(name) if name in HELP_ORDER else len(HELP_ORDER),
        )

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The "Commands" section of `--help`, as typer's own, each command that is not built yet
        shown by its line of `SUMMARIES` (a stand-in command of that help) rather than built."""
        shown = []
        for name in self.list_commands(ctx):
            command = self.listed(ctx, name)
            if command is not None and not command.hidden:
                shown.append((name, command))
        if not shown:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in shown)
        with formatter.section("Commands"):
            formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in shown])

    def listed(self, ctx: Any, name: str) -> Any:
        """The command `name` as the listing shows it: itself if built, else a stand-in with its
        summary, else (a command `SUMMARIES` does not name) itself, built."""
        commands = self.commands
        built = commands.built(name) if isinstance(commands, LazyCommands) else None
        if built is None and name in SUMMARIES:
            return TyperCommand(name, help=SUMMARIES[name])
        return built if built is not None else self.get_command(ctx, name)


app = typer.Typer(
    name="ktpledger",
    help="Event-driven budget ledger for UK Knowledge Transfer Partnerships.",
    cls=InHelpOrder,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Help and usage errors as click draws them, plain: typer's default (with rich installed) draws
    # them with rich, whose import (rich, markdown_it: ~95 ms) was most of every `--help` (issue 18,
    # "a fast CLI"). The Typers of `commands_of` say the same, as their commands are built by them.
    rich_markup_mode=None,
)


@app.callback()
def configure(
    ctx: typer.Context,
    db: str | None = typer.Option(
        None,
        "--db",
        help="SQLAlchemy database URL (default: KTPLEDGER_DATABASE_URL or sqlite:///ktpledger.db)",
    ),
    as_name: str | None = typer.Option(
        None,
        "--as",
        envvar="KTPLEDGER_AS",
        show_envvar=True,
        help="who records the events this run records (their `recorded_by` name, 1-200 characters; "
        "default: the operating-system user)",
    ),
) -> None:
    """Event-driven budget ledger for UK Knowledge Transfer Partnerships."""
    from ktpledger.settings import Settings

    try:
        ctx.obj = Settings.from_env().with_database(db)
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    if as_name is not None:
        from ktpledger.domain.errors import RuleViolation
        from ktpledger.domain.recorded import recorded_by

        try:
            ctx.meta[AS_NAME] = recorded_by(as_name, None, "cli").name
        except RuleViolation as error:
            typer.echo(f"error: {error.rule}: {error.message}", err=True)
            raise typer.Exit(2) from None


AS_NAME = "ktpledger.as"  # the context's meta key of a valid `--as` name


def operating_system_user() -> str:
    """The operating-system user running the command, or "unknown" when there is none to be found
    (no login name, no passwd entry) or it cannot be a name (`recorded_by`)."""
    import getpass

    from ktpledger.domain.recorded import recorded_by

    try:
        name = getpass.getuser()
        return recorded_by(name, None, "cli").name
    except Exception:  # noqa: BLE001 - getpass raises OSError, KeyError, ImportError by platform
        return "unknown"


def recorder_of(ctx: typer.Context, channel: Channel = "cli") -> RecordedBy:
    """Who the events a command records are recorded by: `--as NAME` (or KTPLEDGER_AS), else the
    operating-system user. The command line holds no token, so there is no role: null."""
    from ktpledger.domain.recorded import RecordedBy

    name = ctx.find_root().meta.get(AS_NAME) or operating_system_user()
    return RecordedBy(name, None, channel)


def record_draft(
    application: App, ctx: typer.Context, event: dict[str, Any], *, dry_run: bool
) -> dict[str, Any]:
    """Record a drafted event (a claim, an approval, an invoice) unless `dry_run`: its `status`
    ("would record", "recorded" or "duplicate") and, once recorded, its `version`, for the command's
    document. A refusal is raised, naming its rule."""
    if dry_run:
        return {"status": "would record"}
    [result] = application.ledger.append([event], recorded_by=recorder_of(ctx, "cli"))
    if result.error is not None:
        raise result.error
    return {"status": result.status, "version": result.version}


def settings_of(ctx: typer.Context) -> Settings:
    """The settings the root command read for this run (from the environment if no root callback
    put them on the context, as for a command run on its own)."""
    from ktpledger.settings import Settings

    settings: Settings | None = ctx.find_root().obj
    return settings or Settings.from_env()


class Opened(Protocol):
    """`opened`: the App for one command (`write=False` for a command that only reads)."""

    def __call__(
        self, ctx: typer.Context, *, write: bool = True, migrate: bool = True
    ) -> AbstractContextManager[App]: ...


def bootstrap(settings: Settings, *, read_only: bool = False) -> App:
    """The composition root's App (`ktpledger.bootstrap.bootstrap`), imported when a command opens
    the ledger rather than when the command line starts; tests replace this name to watch it."""
    from ktpledger.bootstrap import bootstrap as build

    return build(settings, read_only=read_only)


@contextmanager
def opened(ctx: typer.Context, *, write: bool = True, migrate: bool = True) -> Iterator[App]:
    """The composition root's objects for one command; a database that cannot be reached or has no
    schema is a clear error (exit 1), not a traceback.

    `write=False` is for commands that only read: they never create a database nor migrate one
    (an SQLite file that is not there is an error, and none is left behind), and their App
    delivers no notifications and wakes nothing (`bootstrap(read_only=True)`). Commands that
    write (`write=True`) migrate the embedded SQLite default on first use, unless `migrate=False`."""
    from ktpledger.service.schema import ensure_schema

    settings = settings_of(ctx)
    if not write:
        refuse_missing_file(settings.database_url)
    with settings_refused(settings):
        application = bootstrap(settings, read_only=not write)
    try:
        with database_refused(application):
            if not write:
                ensure_schema(application.database, create_embedded=False)
            elif migrate:
                ensure_schema(application.database)
            yield application
    finally:
        application.close()


def refuse_unknown(application: App, project: str) -> None:
    """Refuse (R-31) a read of `project` if it has no events, naming the database read and the
    nearest projects it has."""
    from ktpledger.domain.errors import unknown_project

    known = application.ledger.projects()
    if project not in known:
        raise unknown_project(project, known, application.database.shown_url)


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
