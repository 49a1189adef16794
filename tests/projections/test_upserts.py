"""The projection store's upserts (`Backend.upsert`; on PostgreSQL one statement a table, its rows
as one JSON document) keep each column's value and type as given, update rows already there, and
leave the last of two rows given for one key, as upserts made one after another would."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from ktpledger.adapters.projection_sql import projection_store
from ktpledger.bootstrap import App, bootstrap
from ktpledger.service.schema import upgrade
from ktpledger.service.wakeup import Asleep
from ktpledger.settings import Settings

LINE = {
    "project": "KTP-A",
    "category": "travel_subsistence",
    "ordinal": 0,
    "budget_pence": 250000,
    "limit_pence": None,
    "limit_kind": "budget",
    "spent_pence": 12345,
    "eligible_pence": 12345,
}


def test_upserted_rows_keep_their_values_and_types_and_the_last_row_of_a_key_wins(app: App) -> None:
    store = projection_store(app.database)
    at = datetime(2026, 12, 6, 13, 5, 7, 123456, tzinfo=UTC)
    later = at + timedelta(seconds=1)
    with store.write() as unit:
        unit.heads.advance(
            [
                {"project": "KTP-A", "version": 1, "position": 7, "clock": None, "updated_at": at},
                {
                    "project": "KTP-B",
                    "version": 2,
                    "position": 2**40,
                    "clock": date(2025, 1, 31),
                    "updated_at": at,
                },
            ]
        )
        unit.lines.upsert([LINE])
        unit.facts.upsert([{"project": "KTP-A", "version": 1, "facts": '{"title": "Café \\"Ω\\"\\n"}'}])
        unit.commit()
    with store.write() as unit:
        unit.heads.advance(
            [
                {
                    "project": "KTP-A",
                    "version": 2,
                    "position": 8,
                    "clock": date(2024, 10, 1),
                    "updated_at": at,
                },
                {
                    "project": "KTP-A",
                    "version": 3,
                    "position": 9,
                    "clock": date(2024, 10, 2),
                    "updated_at": later,
                },
            ]
        )
        unit.commit()
    with store.read() as unit:
        heads = {row["project"]: row for row in unit.heads.of(["KTP-A", "KTP-B"])}
        lines = unit.lines.of("KTP-A")
        facts = unit.facts.of_projects(["KTP-A"])
    assert [heads["KTP-A"][c] for c in ("version", "position", "clock")] == [3, 9, date(2024, 10, 2)]
    assert [heads["KTP-B"][c] for c in ("version", "position", "clock")] == [2, 2**40, date(2025, 1, 31)]
    # SQLite keeps no zone: compared as UTC without one there
    updated = [heads[project]["updated_at"] for project in ("KTP-A", "KTP-B")]
    assert [stored if stored.tzinfo else stored.replace(tzinfo=UTC) for stored in updated] == [later, at]
    assert [(row["budget_pence"], row["limit_pence"], row["spent_pence"]) for row in lines] == [
        (250000, None, 12345)
    ]
    assert [row["facts"] for row in facts] == ['{"title": "Café \\"Ω\\"\\n"}']


@pytest.mark.postgres
def test_an_upserted_time_keeps_its_instant_whatever_its_zone(postgres_url: str) -> None:
    """PostgreSQL reads the JSON's text of an aware time with its offset: the same instant, not
    the session's zone's reading of the clock time (SQLite keeps no zone, as before)."""
    app = bootstrap(Settings(database_url=postgres_url), wakeup=Asleep())
    upgrade(app.database)
    try:
        store = projection_store(app.database)
        there = datetime(2026, 12, 6, 15, 5, 7, 250000, tzinfo=timezone(timedelta(hours=2)))
        move = {"project": "KTP-Z", "version": 1, "position": 1, "clock": None, "updated_at": there}
        with store.write() as unit:
            unit.heads.advance([move])
            unit.commit()
        with store.read() as unit:
            [row] = unit.heads.of(["KTP-Z"])
        assert row["updated_at"] == datetime(2026, 12, 6, 13, 5, 7, 250000, tzinfo=UTC)
    finally:
        app.close()


@pytest.mark.postgres
def test_upserts_in_a_pipeline_go_together_as_one_statement_at_the_commit(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In `unit.pipelined()` (a catch-up's writes) PostgreSQL holds the upserts back and sends them
    as one statement when the unit commits; a second upsert of a table already held sends what is
    held first, so the later rows win, as ever."""
    from tests.projections.sent import statements_sent

    app = bootstrap(Settings(database_url=postgres_url), wakeup=Asleep())
    upgrade(app.database)
    sent = statements_sent(app.database.engine, monkeypatch)
    try:
        store = projection_store(app.database)
        at = datetime(2026, 12, 6, 13, 5, 7, tzinfo=UTC)
        with store.write() as unit, unit.pipelined():
            unit.lines.upsert([LINE])
            unit.facts.upsert([{"project": "KTP-A", "version": 1, "facts": "{}"}])
            unit.heads.advance(
                [{"project": "KTP-A", "version": 1, "position": 1, "clock": None, "updated_at": at}]
            )
            assert [text for text in sent if "INSERT" in text] == []  # held until the commit
            unit.heads.advance(
                [{"project": "KTP-A", "version": 2, "position": 5, "clock": None, "updated_at": at}]
            )
            unit.commit()
        inserts = [text for text in sent if "INSERT" in text]
        assert len(inserts) == 2 and inserts[0].startswith("WITH ")  # lines, facts, heads; then heads
        with store.read() as unit:
            assert [(row["version"], row["position"]) for row in unit.heads.of(["KTP-A"])] == [(2, 5)]
            assert [row["spent_pence"] for row in unit.lines.of("KTP-A")] == [12345]
            assert [row["version"] for row in unit.facts.of_projects(["KTP-A"])] == [1]
        # Committed after the pipeline's end: what it held was sent as it ended.
        with store.write() as unit:
            with unit.pipelined():
                unit.heads.advance(
                    [{"project": "KTP-B", "version": 1, "position": 6, "clock": None, "updated_at": at}]
                )
            unit.commit()
        with store.read() as unit:
            assert [row["position"] for row in unit.heads.of(["KTP-B"])] == [6]
    finally:
        app.close()
