"""How the command line fails: the errors it turns into a message on stderr and an exit status.

Exit status: 0 done; 1 some input was rejected (the message names the rule), or the database
cannot be used; 2 usage error (an option, a setting or a file named on the command line).

The database's troubles arrive as ktpledger's own errors (`ktpledger.adapters.errors`), translated
by the adapters; they are caught here and nowhere else in the command line. Each is imported where
it is caught, when a command runs: the command line starts without the adapters (SQLAlchemy).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import typer

from ktpledger.cli.common import OutputFormat, print_json

if TYPE_CHECKING:
    from ktpledger.bootstrap import App
    from ktpledger.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")


def refuses_input(command: Callable[P, R]) -> Callable[P, R]:
    """Turn a `RuleViolation` into its message on stderr (and a JSON error with --format json), exit 1."""

    @wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        from ktpledger.domain.errors import RuleViolation

        try:
            return command(*args, **kwargs)
        except RuleViolation as error:
            if kwargs.get("output_format") == OutputFormat.JSON:
                print_json({"error": error.as_dict()})
            typer.echo(f"error: {error.rule}: {error.message}", err=True)
            raise typer.Exit(1) from None

    return run


@contextmanager
def settings_refused(settings: Settings) -> Iterator[None]:
    """Building the App from `settings`: a setting that cannot work is a usage error (exit 2)."""
    from ktpledger.adapters.errors import BadDatabaseUrl

    try:
        yield
    except BadDatabaseUrl as error:
        typer.echo(f"error: bad database URL {settings.database_url!r}: {error}", err=True)
        raise typer.Exit(2) from None
    except ValueError as error:  # a setting that cannot work, e.g. an alert channel missing its address
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None


@contextmanager
def database_refused(application: App) -> Iterator[None]:
    """Using the App's database: one that cannot be reached or has no schema is a clear error
    (exit 1), not a traceback."""
    from ktpledger.adapters.errors import DatabaseUnavailable
    from ktpledger.service.schema import SchemaNotReady

    try:
        yield
    except SchemaNotReady as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    except DatabaseUnavailable as error:
        url = application.database.shown_url
        typer.echo(f"error: cannot use the database at {url}: {error.driver_message}", err=True)
        raise typer.Exit(1) from None


@contextmanager
def chain_not_recorded_warned() -> Iterator[None]:
    """Recording the ledger-wide chain before a checkpoint: a refusal (e.g. a role that may only
    read) is a warning, as the checkpoint is the same, worked out from the events."""
    from ktpledger.adapters.errors import BackendError

    try:
        yield
    except BackendError as error:
        typer.echo(
            f"warning: the chain was not recorded ({error.driver_message}); worked out from the events",
            err=True,
        )


def refuse_missing_file(url: str) -> None:
    """Exit 1 if `url` names an SQLite file that is not there: a read never creates a ledger."""
    from ktpledger.adapters.database import shown_url, sqlite_file

    path = sqlite_file(url)
    if path is None or path.exists():
        return
    shown = shown_url(url)
    typer.echo(
        f"error: there is no ledger at {path.resolve()} ({shown}): record events there first "
        "(`ktpledger record FILE`) or run `ktpledger db upgrade`; or read another with --db or "
        "KTPLEDGER_DATABASE_URL",
        err=True,
    )
    raise typer.Exit(1)
