"""Every Alembic migration goes down and up again on both backends, and the ledger works after."""

from __future__ import annotations

from ktpledger.adapters.database import Database, build_engine
from ktpledger.service.ledger import Ledger
from ktpledger.service.schema import current_revision, head_revision, migrate, upgrade
from tests.ledger.factory import claim, offer
from tests.ledger.plans import rows_read_from_events


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


def test_the_facts_index_of_0022_names_the_fact_types_the_query_reads() -> None:
    """Migration 0022 keeps its own copy of the fact events' predicate (frozen with it): it must be
    the one `ledger_store.fact_streams` reads by (`tables.EVENTS_FACTS_PREDICATE`), or the query no
    longer matches the index. A change to `month_ends.FACT_TYPES` is a new migration."""
    import importlib.util
    from pathlib import Path

    from ktpledger.adapters.tables import EVENTS_FACTS_PREDICATE
    from ktpledger.domain.month_ends import FACT_TYPES

    path = Path(__file__).parents[2] / "alembic" / "versions" / "0022_events_facts_index.py"
    spec = importlib.util.spec_from_file_location("migration_0022", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert migration.FACTS_PREDICATE == EVENTS_FACTS_PREDICATE
    assert all(f"'{kind}'" in EVENTS_FACTS_PREDICATE for kind in FACT_TYPES)
    assert EVENTS_FACTS_PREDICATE.count("'") == 2 * len(FACT_TYPES)


def test_a_projects_facts_are_read_through_the_facts_index(database_url: str) -> None:
    """`fact_streams` reads a project's fact rows alone (`ix_events_facts`), not every claim of its
    stream filtered by type: on PostgreSQL the scan reads the project's one fact row of 60, on
    SQLite the plan goes through the index."""
    from sqlalchemy.dialects import postgresql, sqlite

    from ktpledger.adapters import ledger_store
    from tests.ledger.factory import PROJECT

    database = Database(build_engine(database_url))
    try:
        upgrade(database)
        ledger = Ledger(database)
        try:
            ledger.append([offer(), *(claim(f"c{n}") for n in range(1, 60))])
            ledger.append([offer(project="KTP-B"), claim("b1", project="KTP-B")])
        finally:
            ledger.close()
        facts = ledger_store.fact_streams
        with database.read() as connection:
            streams = facts(connection, [PROJECT, "KTP-B"])
            assert {name: [e.type for e in found] for name, found in streams.items()} == {
                PROJECT: ["GrantOffered"],
                "KTP-B": ["GrantOffered"],
            }
            dialect = connection.dialect
            if dialect.name == "postgresql":
                sql = str(
                    ledger_store._FACTS.params(projects=[PROJECT]).compile(
                        dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
                    )
                )
                [(plan,)] = connection.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}").all()
                assert "ix_events_facts" in str(plan)
                assert rows_read_from_events(plan[0]["Plan"]) == 1
            else:
                sql = str(
                    ledger_store._FACTS.params(projects=[PROJECT]).compile(
                        dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}
                    )
                )
                plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}").all()
                assert any("ix_events_facts" in str(row) for row in plan), plan
    finally:
        database.dispose()
