"""`ktpledger db upgrade`, `record`, `events`, `verify` as docs/cli.md gives them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ktpledger.cli import app as cli
from tests.examples import LIFECYCLE
from tests.ledger.factory import claim, offer

EXAMPLE = LIFECYCLE


def run(url: str, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--db", url, *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines()]


def test_record_prints_one_result_a_line_and_events_lists_the_stream(database_url: str) -> None:
    assert run(database_url, "db", "upgrade")[0] == 0
    code, out, _ = run(database_url, "record", str(EXAMPLE))
    assert code == 0
    results = lines(out)
    assert [r["line"] for r in results] == list(range(1, 11))
    assert all(r["status"] == "recorded" for r in results)
    code, out, _ = run(database_url, "record", str(EXAMPLE))
    assert code == 0 and {r["status"] for r in lines(out)} == {"duplicate"}
    code, out, _ = run(database_url, "events", "KTP-0042", "--format", "json")
    stream = json.loads(out)
    assert code == 0 and [e["version"] for e in stream] == list(range(1, 11))
    assert set(stream[0]) >= {
        "type",
        "project",
        "key",
        "date",
        "data",
        "version",
        "position",
        "recorded_at",
        "hash",
    }
    code, out, _ = run(database_url, "events", "KTP-0042")
    assert code == 0 and "SpendClaimed" in out
    code, out, _ = run(database_url, "verify")
    assert code == 0 and "10 events verified" in out


def test_record_refuses_bad_lines_and_keeps_the_good_ones(database_url: str) -> None:
    assert run(database_url, "db", "upgrade")[0] == 0
    text = "\n".join(
        [
            json.dumps(offer()),
            "{not json",
            "",
            json.dumps(claim("c1", "-5")),
            json.dumps(claim("c2", "5.00")),
            "[]",
            '{"type": "SpendClaimed", "amount": NaN}',
        ]
    )
    code, out, _ = run(database_url, "record", "-", stdin=text)
    assert code == 1
    results = lines(out)
    assert [(r["line"], r["status"]) for r in results] == [
        (1, "recorded"),
        (2, "rejected"),
        (4, "rejected"),
        (5, "recorded"),
        (6, "rejected"),
        (7, "rejected"),
    ]
    assert all(r["error"]["rule"].startswith("R-") for r in results if r["status"] == "rejected")
    assert "version" not in results[1] and "error" not in results[0]
    assert run(database_url, "verify")[0] == 0


def test_record_of_a_missing_file_is_a_usage_error(sqlite_url: str, tmp_path: Path) -> None:
    code, _, err = run(sqlite_url, "record", str(tmp_path / "nope.jsonl"))
    assert code == 2 and "cannot read" in err


def test_events_of_an_unknown_project_exits_1(sqlite_url: str) -> None:
    assert run(sqlite_url, "db", "upgrade")[0] == 0
    code, _, err = run(sqlite_url, "events", "KTP-0000")
    assert code == 1 and "R-31" in err


def test_an_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    code, _, err = run("postgresql+psycopg://nobody@127.0.0.1:1/none", "events", "X")
    assert code == 1 and "cannot use the database" in err


@pytest.mark.postgres
def test_postgres_must_be_migrated_on_purpose(postgres_url: str) -> None:
    code, _, err = run(postgres_url, "events", "X")
    assert code == 1 and "ktpledger db upgrade" in err
    assert run(postgres_url, "db", "upgrade")[0] == 0
    assert run(postgres_url, "db", "upgrade")[0] == 0  # idempotent
