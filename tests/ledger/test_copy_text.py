"""PostgreSQL's batched append writes COPY's text format itself (`ledger_store.copy_line`): every
value must reach the table exactly as given (an INSERT would bind it), whatever its characters."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest

from ktpledger.adapters import ledger_store
from ktpledger.adapters.database import Database
from ktpledger.adapters.errors import BackendDataError

MOMENT = datetime(2026, 12, 6, 10, 30, 5, 123456, tzinfo=UTC)

# Text COPY reads specially (backslash escapes, tab, newline, carriage return, "\N" for NULL, "\."
# for the end of data), the other control characters, and text beyond ASCII.
AWKWARD = [
    "back\\slash",
    "ends with a backslash\\",
    "\\N",
    "\\.",
    "\\t not a tab",
    "a\ttab",
    "a\nnewline",
    "a\r\ncarriage return",
    "\b\v\f\x01\x1b\x7f",
    "£ é ø 中文 😀",
    "",
    '"quoted" {"json": "\\"escaped\\""}',
]


def row(number: int, **values: Any) -> dict[str, Any]:
    """A ledger row (`INSERT_COLUMNS`) of project P, version `number`; no chain is checked here."""
    made = {
        "project": "P",
        "version": number,
        "type": "SpendClaimed",
        "schema_version": 1,
        "key": f"k{number}",
        "date": date(2025, 3, 4),
        "data": '{"amount":"1.00"}',
        "recorded_at": MOMENT,
        "prev_hash": "a" * 64,
        "hash": "b" * 64,
        "chain_version": 2,
        "recorded_by": '{"channel":"cli","name":"me","role":null}',
    }
    made.update(values)
    return made


def test_a_plain_row_is_its_values_tab_separated() -> None:
    assert ledger_store.copy_line(row(7)) == (
        "P\t7\tSpendClaimed\t1\tk7\t2025-03-04\t"
        '{"amount":"1.00"}\t2026-12-06T10:30:05.123456+00:00\t'
        + "a" * 64
        + "\t"
        + "b" * 64
        + '\t2\t{"channel":"cli","name":"me","role":null}\n'
    )


def test_none_is_null_and_empty_text_is_empty() -> None:
    assert ledger_store.copy_line(row(1, recorded_by=None)).endswith("\t2\t\\N\n")
    assert ledger_store.copy_line(row(1, recorded_by="")).endswith("\t2\t\n")


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("a\\b", "a\\\\b"),
        ("a\tb", "a\\tb"),
        ("a\nb", "a\\nb"),
        ("a\rb", "a\\rb"),
        ("\\N", "\\\\N"),
        ("\\t\t", "\\\\t\\t"),
        ("£ 中 😀", "£ 中 😀"),
    ],
)
def test_text_copy_reads_specially_is_escaped(text: str, written: str) -> None:
    fields = ledger_store.copy_line(row(1, data=text, recorded_by=text)).rstrip("\n").split("\t")
    assert len(fields) == len(ledger_store.INSERT_COLUMNS)
    assert fields[6] == written
    assert fields[11] == written


def test_a_nul_is_refused_as_psycopg_refuses_it() -> None:
    with pytest.raises(psycopg.DataError, match="NUL"):
        ledger_store.copy_line(row(1, key="a\x00b"))


def test_values_of_other_types_are_written_as_psycopg_writes_them() -> None:
    """A caller's row may hold a date as text, or a naive datetime: each value converted alone."""
    naive = datetime(2026, 1, 2, 3, 4, 5)
    fields = ledger_store.copy_line(row(1, date="2025-03-04", recorded_at=naive)).rstrip("\n").split("\t")
    assert fields[5] == "2025-03-04"
    assert fields[7] == "2026-01-02T03:04:05"


def test_the_text_comes_in_pieces_of_whole_lines() -> None:
    """Each piece whole lines; together, each row's line as written alone (the dates and times
    written once a batch are each row's own)."""
    rows = [
        row(
            number,
            date=date(2025, 1, 1) + timedelta(days=number % 7),
            recorded_at=MOMENT if number % 3 else MOMENT + timedelta(seconds=number),
        )
        for number in range(1, 101)
    ]
    rows[5]["date"] = datetime(2025, 1, 1, 12, 0)  # a caller's datetime, equal to no date
    rows[6]["date"] = "2025-01-01"
    pieces = list(ledger_store.copy_chunks(rows, size=1000))
    assert len(pieces) > 1
    assert all(piece.endswith("\n") for piece in pieces)
    assert "".join(pieces) == "".join(ledger_store.copy_line(item) for item in rows)
    assert list(ledger_store.copy_chunks([])) == []


@pytest.fixture
def postgres(postgres_database: Database) -> Database:
    return postgres_database


@pytest.mark.postgres
def test_every_value_is_stored_as_given_through_copy(postgres: Database) -> None:
    """Awkward text in every text column, NULL and empty `recorded_by`, a time in another zone and
    a date before 1000: read back, each value is the one given (COPY: at least `COPY_FROM_ROWS`)."""
    rows = []
    for number, text in enumerate(AWKWARD * 2, start=1):
        rows.append(
            row(
                number,
                key=f"{text} {number}",
                type=text[:40],
                data=text,
                prev_hash=text[:64],
                hash=text[:64],
                recorded_by=None if number % 3 == 0 else text,
                date=date(999, 1, 2) if number == 1 else date(2025, 3, 4) + timedelta(days=number),
                recorded_at=MOMENT.astimezone(timezone(timedelta(hours=5, minutes=30))),
            )
        )
    assert len(rows) >= ledger_store.COPY_FROM_ROWS
    with postgres.write() as connection:
        ledger_store.insert(connection, rows)
        connection.commit()
    with postgres.read() as connection:
        stored = ledger_store.stream(connection, "P")
    assert len(stored) == len(rows)
    for given, item in zip(rows, stored, strict=True):
        for name in ledger_store.INSERT_COLUMNS:
            assert getattr(item, name) == given[name], name


@pytest.mark.postgres
def test_a_nul_through_copy_is_a_data_error(postgres: Database) -> None:
    rows = [row(number) for number in range(1, ledger_store.COPY_FROM_ROWS + 1)]
    rows[-1] = row(len(rows), data="a\x00b")
    with pytest.raises(BackendDataError) as caught, postgres.write() as connection:
        ledger_store.insert(connection, rows)
    assert isinstance(caught.value.__cause__, psycopg.DataError)
    assert caught.value.message == f"the database cannot store this input: {caught.value.driver_message}"
    with postgres.read() as connection:
        assert ledger_store.stream(connection, "P") == []


def test_psycopg_binds_every_column_as_it_is() -> None:
    """The COPY writes a row's own values: what SQLAlchemy's INSERT would bind only while no column
    of `events` has a bind processor on PostgreSQL with psycopg (one added must be applied there)."""
    from sqlalchemy.dialects.postgresql.psycopg import dialect

    from ktpledger.adapters.tables import events

    psycopg_dialect = dialect()
    for name in ledger_store.INSERT_COLUMNS:
        column_type = events.c[name].type.dialect_impl(psycopg_dialect)
        assert column_type.bind_processor(psycopg_dialect) is None, name
