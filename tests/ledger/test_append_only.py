"""R-30 enforced by the database itself, and tamper evidence through the hash chain."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from ktpledger.adapters.errors import BackendError
from ktpledger.bootstrap import App
from ktpledger.cli import app as cli
from ktpledger.domain.chain import canonical_json, format_instant
from ktpledger.domain.recorded import RecordedBy
from tests.ledger.factory import PROJECT, claim, offer

BY = RecordedBy('Siân "finance" Ó Briain', "finance", "api")


@pytest.fixture
def recorded(app: App) -> App:
    results = app.ledger.append([offer(), claim("c1", "100.00"), claim("c2", "200.00")], recorded_by=BY)
    assert [r.status for r in results] == ["recorded"] * 3
    return app


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE events SET data = '{}' WHERE version = 2",
        "UPDATE events SET recorded_at = recorded_at",
        "DELETE FROM events WHERE version = 3",
        "DELETE FROM events",
    ],
)
def test_update_and_delete_are_refused_by_the_database(recorded: App, statement: str) -> None:
    with pytest.raises(BackendError, match="append-only"), recorded.database.engine.begin() as connection:
        connection.execute(text(statement))
    assert [e.version for e in recorded.ledger.stream(PROJECT)] == [1, 2, 3]


@pytest.mark.postgres
@pytest.mark.parametrize("replica", [False, True])
@pytest.mark.parametrize(
    "statement", ["TRUNCATE events", "DELETE FROM events", "UPDATE events SET key = 'x'"]
)
def test_postgres_refuses_even_as_replica(postgres_url: str, statement: str, replica: bool) -> None:
    from ktpledger.bootstrap import bootstrap
    from ktpledger.service.schema import upgrade
    from ktpledger.settings import Settings

    application = bootstrap(Settings(database_url=postgres_url))
    try:
        upgrade(application.database)
        application.ledger.append([offer(), claim("c1")])
        with (
            pytest.raises(BackendError, match="append-only"),
            application.database.engine.begin() as connection,
        ):
            if replica:
                connection.execute(text("SET LOCAL session_replication_role = replica"))
            connection.execute(text(statement))
        assert len(application.ledger.stream(PROJECT)) == 2
    finally:
        application.close()


def disable_guard(app: App) -> None:
    """What an attacker with DDL rights would do first."""
    with app.database.engine.begin() as connection:
        if app.database.dialect == "postgresql":
            connection.execute(text("ALTER TABLE events DISABLE TRIGGER events_refuse_update_delete"))
        else:
            connection.execute(text("DROP TRIGGER events_refuse_update"))


def run_verify(app: App) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--db", app.settings.database_url, "verify"])
    return result.exit_code, result.output


def test_verify_passes_an_intact_ledger(recorded: App) -> None:
    code, output = run_verify(recorded)
    assert code == 0 and "3 events verified" in output


def test_verify_names_an_edited_event(recorded: App) -> None:
    disable_guard(recorded)
    forged = json.dumps({"category": "consumables", "amount": "1.00", "description": "claim c1", "tags": []})
    with recorded.database.engine.begin() as connection:
        connection.execute(text("UPDATE events SET data = :data WHERE version = 2"), {"data": forged})
    code, output = run_verify(recorded)
    assert code == 1
    assert f"project {PROJECT} version 2" in output and "changed after it was recorded" in output


def test_verify_names_a_rewritten_chain_and_a_gap(recorded: App) -> None:
    disable_guard(recorded)
    with recorded.database.engine.begin() as connection:
        connection.execute(text("UPDATE events SET hash = :h WHERE version = 2"), {"h": "0" * 64})
    code, output = run_verify(recorded)
    assert code == 1 and "version 2" in output
    with recorded.database.engine.begin() as connection:
        if recorded.database.dialect != "postgresql":
            connection.execute(text("DROP TRIGGER events_refuse_delete"))
        else:
            connection.execute(text("ALTER TABLE events DISABLE TRIGGER ALL"))
        connection.execute(text("DELETE FROM events WHERE version = 2"))
    code, output = run_verify(recorded)
    assert code == 1 and "version 3" in output and "gap" in output


def test_the_hash_is_sha256_of_the_documented_canonical_encoding(recorded: App) -> None:
    import hashlib

    second = recorded.ledger.stream(PROJECT)[1]
    assert (second.chain_version, second.recorded_by) == (2, canonical_json(BY.to_json()))
    document = {
        "chain_version": 2,
        "data": json.loads(second.data),
        "date": second.date.isoformat(),
        "key": second.key,
        "prev": second.prev_hash,
        "project": second.project,
        "recorded_at": format_instant(second.recorded_at),
        "recorded_by": {"channel": "api", "name": BY.name, "role": "finance"},
        "schema_version": second.schema_version,
        "type": second.type,
        "version": second.version,
    }
    assert second.data == canonical_json(json.loads(second.data))
    assert hashlib.sha256(canonical_json(document).encode()).hexdigest() == second.hash
