"""PostgreSQL roles (issue 11, item 5): migrations run as the owner of the tables; the service runs
as a role that may only INSERT and SELECT the ledger, and does all its work so.

Roles are cluster-wide: each test makes its own, uniquely named, and drops them after."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from ktpledger.adapters.database import Database, build_engine
from ktpledger.adapters.errors import BackendError
from ktpledger.adapters.ledger_store import DirectAppender
from ktpledger.adapters.roles import SERVICE_PRIVILEGES, unlisted_tables
from ktpledger.adapters.tokens import list_tokens, revoke_token
from ktpledger.bootstrap import bootstrap
from ktpledger.cli import app as cli
from ktpledger.domain.chain import format_instant
from ktpledger.domain.events import parse_event
from ktpledger.service.access import create_token
from ktpledger.service.checkpoints import Checkpoints, verify_against
from ktpledger.service.ledger import new_row
from ktpledger.service.projection_check import check_projections
from ktpledger.service.schema import migrate
from ktpledger.settings import Settings
from tests.ledger.factory import PROJECT, claim, offer


def test_every_table_declares_the_service_s_privileges() -> None:
    assert unlisted_tables() == []
    assert SERVICE_PRIVILEGES["events"] == ("SELECT", "INSERT")
    assert SERVICE_PRIVILEGES["ledger_chain"] == ("SELECT", "INSERT")


@dataclass
class Roles:
    owner: str
    service: str
    owner_url: str
    service_url: str


def url_as(server: str, role: str, schema: str) -> str:
    base = server.replace("postgres@", f"{role}@", 1)
    return f"{base}?options=-csearch_path%3D{schema}"


@pytest.fixture
def roles(postgres_server: str) -> Iterator[Roles]:
    tag = uuid.uuid4().hex[:10]
    owner, service, schema = f"ktp_owner_{tag}", f"ktp_app_{tag}", f"t_roles_{tag}"
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE ROLE {owner} LOGIN"))
        connection.execute(text(f"CREATE ROLE {service} LOGIN"))
        connection.execute(text(f"CREATE SCHEMA {schema} AUTHORIZATION {owner}"))
    try:
        yield Roles(
            owner, service, url_as(postgres_server, owner, schema), url_as(postgres_server, service, schema)
        )
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            for role in (service, owner):
                connection.execute(text(f"DROP OWNED BY {role}"))
                connection.execute(text(f"DROP ROLE {role}"))
        admin.dispose()


def cli_run(url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--db", url, *args], env={})
    return result.exit_code, result.stdout, result.stderr


def refused(database: Database, statement: str) -> str:
    with pytest.raises(BackendError) as caught, database.engine.begin() as connection:
        connection.execute(text(statement))
    return caught.value.driver_message


@pytest.mark.postgres
def test_the_service_role_does_its_work_and_cannot_change_the_ledger(roles: Roles) -> None:
    code, out, err = cli_run(roles.owner_url, "db", "upgrade", "--grant", roles.service)
    assert code == 0, err
    assert f"granted {roles.service} the service's privileges" in out

    app = bootstrap(Settings(database_url=roles.service_url))
    try:
        # Appends: the general path (a batch) and the one-round-trip path (`ktpledger_append_one`).
        results = app.ledger.append([offer(), claim("c1", "3500.00"), claim("c2", "10.00")])
        assert [r.status for r in results] == ["recorded"] * 3
        state = app.ledger.state(PROJECT)
        now = datetime.now(UTC)
        row = new_row(parse_event(claim("c3", "20.00")), state, now, format_instant(now))
        raw = app.database.engine.raw_connection()
        try:
            raw.driver_connection.autocommit = True  # type: ignore[union-attr]
            assert DirectAppender(raw.driver_connection).append(row) is True
        finally:
            raw.driver_connection.autocommit = False  # type: ignore[union-attr]
            raw.close()
        # Catch-up (in-process, on append), an alert raised and delivered, replay, the sweeper.
        app.projector.catch_up(PROJECT)
        assert app.projector.allowances(PROJECT).version == 4
        assert any(alert["kind"] == "threshold" for alert in app.projector.alerts(PROJECT))
        assert app.projector.replay() == (4, 1)
        changed, position = app.projector.changed_since_sweep()
        app.projector.save_sweep(position)
        assert changed == {PROJECT}
        # Tokens, checkpoints and the checks.
        create_token(app.database, "viewer", [PROJECT])
        [token] = list_tokens(app.database)
        assert revoke_token(app.database, int(str(token["id"])))
        checkpoint = Checkpoints(app.database).now()
        assert checkpoint.point.events == 4
        assert verify_against(app.database, checkpoint, None).comparison.matches
        assert check_projections(app.database).ok
        assert app.ledger.verify() == (4, None)
    finally:
        app.close()
    with app.database.engine.connect() as connection:
        delivered = connection.execute(text("SELECT count(*) FROM notifications WHERE status = 'delivered'"))
        assert delivered.scalar_one() >= 1

    # What an attacker holding the service's credentials cannot do.
    database = Database(build_engine(roles.service_url))
    try:
        for statement in (
            "UPDATE events SET data = '{}' WHERE version = 2",
            "DELETE FROM events WHERE version = 4",
            "TRUNCATE events",
            "DELETE FROM ledger_chain",
            "UPDATE ledger_chain SET link = 'x'",
            "LOCK TABLE events IN EXCLUSIVE MODE",
        ):
            assert "permission denied" in refused(database, statement), statement
        for statement in (
            "ALTER TABLE events DISABLE TRIGGER events_refuse_update_delete",
            "ALTER TABLE events DISABLE TRIGGER USER",
            "DROP TRIGGER events_refuse_truncate ON events",
        ):
            assert "must be owner" in refused(database, statement), statement
        assert "permission denied" in refused(
            database, "SELECT setval(pg_get_serial_sequence('events', 'position'), 1)"
        )
        with database.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM events")).scalar_one() == 4
    finally:
        database.dispose()


@pytest.mark.postgres
def test_a_migration_keeps_the_service_role_working(roles: Roles) -> None:
    assert cli_run(roles.owner_url, "db", "upgrade")[0] == 0
    code, out, err = cli_run(roles.owner_url, "db", "grant", roles.service)
    assert code == 0, err
    assert "GRANT SELECT, INSERT ON TABLE" in out and "events TO" in out
    # A migration that drops and makes a table again (here: 0011 down and up) loses its grants ...
    owner = Database(build_engine(roles.owner_url))
    try:
        migrate(owner, "downgrade", "0008")
        migrate(owner, "upgrade", "head")
    finally:
        owner.dispose()
    service = Database(build_engine(roles.service_url))
    try:
        assert "permission denied" in refused(service, "SELECT count(*) FROM ledger_chain")
        # ... and `db upgrade`, run as the owner, gives every service role its privileges again.
        code, out, err = cli_run(roles.owner_url, "db", "upgrade")
        assert code == 0 and f"granted {roles.service}" in out, err
        app = bootstrap(Settings(database_url=roles.service_url))
        try:
            assert [r.status for r in app.ledger.append([offer()])] == ["recorded"]
            assert app.checkpoints.extend().events == 1
        finally:
            app.close()
    finally:
        service.dispose()


@pytest.mark.postgres
def test_grants_that_cannot_be_made_are_refused(roles: Roles, sqlite_url: str) -> None:
    assert cli_run(roles.owner_url, "db", "upgrade")[0] == 0
    code, _, err = cli_run(roles.owner_url, "db", "grant", roles.owner)
    assert code == 1 and "owns the ledger's tables" in err
    code, _, err = cli_run(roles.owner_url, "db", "grant", "ktp_no_such_role")
    assert code == 1 and "there is no role 'ktp_no_such_role'" in err
    assert cli_run(sqlite_url, "db", "upgrade")[0] == 0
    code, _, err = cli_run(sqlite_url, "db", "grant", "anyone")
    assert code == 1 and "roles and grants are PostgreSQL's" in err
    code, _, err = cli_run(sqlite_url, "db", "upgrade", "--grant", "anyone")
    assert code == 2 and "roles are PostgreSQL's" in err
