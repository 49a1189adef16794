"""Every Alembic migration goes down and up again on both backends, and the ledger works after."""

from __future__ import annotations

from ktpledger.adapters.database import Database, build_engine
from ktpledger.service.ledger import Ledger
from ktpledger.service.schema import current_revision, head_revision, migrate, upgrade
from tests.ledger.factory import claim, offer


def test_migrations_go_down_to_base_and_up_to_head(database_url: str) -> None:
    database = Database(build_engine(database_url))
    try:
        upgrade(database)
        migrate(database, "downgrade", "base")
        assert current_revision(database) is None
        upgrade(database)
        assert current_revision(database) == head_revision()
        ledger = Ledger(database)
        try:
            results = ledger.append([offer(), claim("c1")])
            assert [r.status for r in results] == ["recorded", "recorded"]
            [single] = ledger.append([claim("c2")])  # the one-round-trip path on PostgreSQL
            assert (single.status, single.version) == ("recorded", 3)
            assert ledger.verify() == (3, None)
        finally:
            ledger.close()
    finally:
        database.dispose()


def test_each_migration_steps_down_and_back_up(database_url: str) -> None:
    database = Database(build_engine(database_url))
    try:
        upgrade(database)
        head = head_revision()
        while current_revision(database) is not None:
            before = current_revision(database)
            migrate(database, "downgrade", "-1")
            migrate(database, "upgrade", "+1")
            assert current_revision(database) == before
            migrate(database, "downgrade", "-1")
        upgrade(database)
        assert current_revision(database) == head
    finally:
        database.dispose()


def test_the_schema_head_every_command_checks_is_alembic_s(database_url: str) -> None:
    """`schema_head.SCHEMA_HEAD` is the newest migration (raise it with each one), and a database
    at head reads as at head without Alembic; one not migrated reads as nothing."""
    from ktpledger.adapters.database import Database, build_engine
    from ktpledger.adapters.schema_head import SCHEMA_HEAD, stored_revision

    assert head_revision() == SCHEMA_HEAD
    database = Database(build_engine(database_url))
    try:
        assert stored_revision(database) is None  # no alembic_version table yet
        upgrade(database)
        assert stored_revision(database) == SCHEMA_HEAD
    finally:
        database.engine.dispose()
