"""ktpledger's own errors for what the database behind it did, raised at the adapter boundary.

The engines `database.build_engine` makes translate every driver error into one of these (an engine
event, so a statement anywhere, a connect or a commit is covered), as do the adapters that use the
driver directly: callers above the adapters catch these, never SQLAlchemy's or a driver's. Each
keeps the driver's error as `__cause__`, its text as `driver_message`, and says what happened in
words fit for a person (`message`, also its `str()`).
"""

from __future__ import annotations

from sqlalchemy import exc as sa_exc


class BackendError(Exception):
    """The database could not do what was asked (the base of ktpledger's database errors)."""

    def __init__(self, message: str, driver_message: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.driver_message = driver_message  # the driver's own words ("" when no driver spoke)

    def __str__(self) -> str:
        return self.message


class DatabaseUnavailable(BackendError):
    """The database cannot be reached or cannot work just now (refused or lost connection, a
    server shutting down, a locked or unreadable file): trying again later may succeed."""


class BadDatabaseUrl(BackendError):
    """A database URL that cannot be used: it does not parse, or names no backend installed."""


class BackendDataError(BackendError):
    """A value the database refused to store (PostgreSQL takes no NUL character in text...)."""


class WriteConflict(BackendError):
    """A write refused by a uniqueness or integrity constraint: typically another writer recorded
    the same row first."""


def translated(error: sa_exc.DBAPIError) -> BackendError:
    """`error` (SQLAlchemy's wrapping of a driver error) as ktpledger's: raise it `from` the
    driver's error (`error.orig`)."""
    driver_message = str(error.orig)
    if isinstance(error, sa_exc.OperationalError):
        kind: type[BackendError] = DatabaseUnavailable
        message = f"cannot use the database: {driver_message}"
    elif isinstance(error, sa_exc.DataError):
        kind, message = BackendDataError, f"the database cannot store this input: {driver_message}"
    elif isinstance(error, sa_exc.IntegrityError):
        kind, message = WriteConflict, f"the database refused a conflicting write: {driver_message}"
    else:
        kind, message = BackendError, f"the database refused the operation: {driver_message}"
    return kind(message, driver_message)


def bad_url(error: sa_exc.ArgumentError) -> BadDatabaseUrl:
    """An URL SQLAlchemy could not make an engine of, as ktpledger's error (its message unchanged:
    SQLAlchemy's says what is wrong with the URL)."""
    return BadDatabaseUrl(str(error))
