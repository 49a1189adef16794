"""A throwaway PostgreSQL schema for a benchmark run: made fresh, dropped (CASCADE) at the end."""

from __future__ import annotations

import contextlib
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def scratch_schema(server: str = POSTGRES) -> Iterator[str]:
    """A new schema `bench_<random>` on `server`; yields a URL whose search_path is that schema."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            yield f"{server}?options=-csearch_path%3D{schema}"
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        admin.dispose()


@contextmanager
def kept_schema(name: str, server: str = POSTGRES) -> Iterator[str]:
    """The schema `bench_keep_<name>` on `server`, made if missing and left in place, so a later
    run can time reads without recording its ledger again (drop it by hand when done)."""
    if not name.isidentifier():
        raise SystemExit(f"--keep takes letters, digits and _, got {name!r}")
    schema = f"bench_keep_{name}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        yield f"{server}?options=-csearch_path%3D{schema}"
    finally:
        admin.dispose()


def brief_database(stack: contextlib.ExitStack) -> tuple[str, str]:
    """A brief run's ledger: (backend, URL) of a scratch PostgreSQL schema, or of a SQLite file in a
    temporary folder when PostgreSQL is not running; both gone when `stack` closes."""
    from bench import figures

    if figures.postgres_reachable():
        return "postgresql", stack.enter_context(scratch_schema())
    folder = stack.enter_context(tempfile.TemporaryDirectory())
    return "sqlite (PostgreSQL not running)", f"sqlite:///{folder}/bench.db"


@contextmanager
def ledger_url(postgres: bool) -> Iterator[str]:
    """A fresh ledger's URL for a full run: a scratch PostgreSQL schema, or a SQLite file in a
    temporary folder; gone at the end."""
    if postgres:
        with scratch_schema() as url:
            yield url
        return
    with tempfile.TemporaryDirectory() as folder:
        yield f"sqlite:///{folder}/bench.db"
