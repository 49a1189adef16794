"""`ktpledger record` reads JSON Lines, a JSON array and pretty-printed JSON objects, each event
judged on its own (issue 13, item 7); a CSV or XLSX export is refused once, nothing recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ktpledger.cli import app as cli
from tests.ledger.factory import PROJECT, claim, offer


@pytest.fixture
def url(database_url: str) -> str:
    assert CliRunner().invoke(cli, ["--db", database_url, "db", "upgrade"]).exit_code == 0
    return database_url


def record(url: str, data: bytes, tmp_path: Path) -> tuple[int, list[dict[str, Any]], str]:
    source = tmp_path / "events.json"
    source.write_bytes(data)
    result = CliRunner().invoke(cli, ["--db", url, "record", str(source)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.stderr
    return result.exit_code, [json.loads(line) for line in result.stdout.splitlines()], result.stderr


def keys(url: str) -> list[str]:
    result = CliRunner().invoke(cli, ["--db", url, "events", PROJECT, "--format", "json"])
    if result.exit_code != 0:
        return []
    return [item["key"] for item in json.loads(result.stdout)]


EVENTS = [offer(), claim("c1", "10.00"), claim("c2", "20.00")]


def statuses(results: list[dict[str, Any]]) -> list[tuple[int, str]]:
    return [(result["line"], result["status"]) for result in results]


def test_a_json_array_records_each_event_numbered_by_its_line(url: str, tmp_path: Path) -> None:
    data = ("[\n" + ",\n".join(json.dumps(item) for item in EVENTS) + "\n]\n").encode()
    code, results, _ = record(url, data, tmp_path)
    assert code == 0
    assert statuses(results) == [(2, "recorded"), (3, "recorded"), (4, "recorded")]
    assert keys(url) == ["offer", "c1", "c2"]


def test_a_pretty_printed_array_and_a_byte_order_mark(url: str, tmp_path: Path) -> None:
    data = b"\xef\xbb\xbf" + json.dumps(EVENTS, indent=2).encode()
    code, results, _ = record(url, data, tmp_path)
    assert code == 0 and [result["status"] for result in results] == ["recorded"] * 3
    assert keys(url) == ["offer", "c1", "c2"]


def test_one_pretty_printed_object(url: str, tmp_path: Path) -> None:
    code, results, _ = record(url, json.dumps(offer(), indent=2).encode() + b"\n", tmp_path)
    assert code == 0 and statuses(results) == [(1, "recorded")]
    assert keys(url) == ["offer"]


def test_pretty_printed_objects_one_after_another(url: str, tmp_path: Path) -> None:
    texts = [json.dumps(item, indent=2) for item in EVENTS]
    data = "\n".join(texts).encode()
    code, results, _ = record(url, data, tmp_path)
    assert code == 0
    starts = [1, 1 + texts[0].count("\n") + 1, 1 + texts[0].count("\n") + 1 + texts[1].count("\n") + 1]
    assert statuses(results) == [(line, "recorded") for line in starts]
    assert keys(url) == ["offer", "c1", "c2"]


def test_json_lines_are_read_as_before(url: str, tmp_path: Path) -> None:
    data = "\n".join(json.dumps(item) for item in EVENTS).encode()
    code, results, _ = record(url, data, tmp_path)
    assert code == 0 and statuses(results) == [(1, "recorded"), (2, "recorded"), (3, "recorded")]


def test_a_duplicate_key_is_refused_with_its_event_in_an_array(url: str, tmp_path: Path) -> None:
    twice = json.dumps(claim("c1")).replace('"key": "c1"', '"key": "c1", "key": "c9"')
    data = f"[{json.dumps(offer())},\n{twice},\n{json.dumps(claim('c2'))}]".encode()
    code, results, _ = record(url, data, tmp_path)
    assert code == 1
    assert [result["status"] for result in results] == ["recorded", "rejected", "recorded"]
    assert results[1]["line"] == 2 and results[1]["error"]["rule"] == "R-30"
    assert keys(url) == ["offer", "c2"]


def test_a_truncated_array_records_what_it_holds_and_names_where_it_stops(url: str, tmp_path: Path) -> None:
    whole = "[\n" + ",\n".join(json.dumps(item) for item in EVENTS) + "\n]"
    data = whole[: whole.rindex('"c2"') + 3].encode()  # cut inside the third event
    code, results, _ = record(url, data, tmp_path)
    assert code == 1
    assert statuses(results) == [(2, "recorded"), (3, "recorded"), (4, "rejected")]
    error = results[-1]["error"]
    assert error["rule"] == "R-30" and "event 3 of the JSON array (line 4)" in error["message"]
    assert keys(url) == ["offer", "c1"]


def test_an_array_without_its_closing_bracket(url: str, tmp_path: Path) -> None:
    data = ("[" + ", ".join(json.dumps(item) for item in EVENTS[:2])).encode()
    code, results, _ = record(url, data, tmp_path)
    assert code == 1
    assert [result["status"] for result in results] == ["recorded", "recorded", "rejected"]
    assert "cut short after event 2" in results[-1]["error"]["message"]


def test_an_array_of_non_objects_refuses_each(url: str, tmp_path: Path) -> None:
    code, results, _ = record(url, b'[1, "two", null, [3]]', tmp_path)
    assert code == 1
    assert [result["status"] for result in results] == ["rejected"] * 4
    assert all(result["error"]["rule"] == "R-30" for result in results)
    assert keys(url) == []


def test_a_mixed_array_records_the_objects_and_refuses_the_rest(url: str, tmp_path: Path) -> None:
    data = f'[{json.dumps(offer())}, 42, {json.dumps(claim("c1"))}, "x"]'.encode()
    code, results, _ = record(url, data, tmp_path)
    assert code == 1
    assert [result["status"] for result in results] == ["recorded", "rejected", "recorded", "rejected"]
    assert keys(url) == ["offer", "c1"]


def test_a_broken_pretty_printed_object_is_one_refusal_and_reading_resumes(url: str, tmp_path: Path) -> None:
    texts = [json.dumps(item, indent=2) for item in EVENTS]
    broken = texts[1].replace('"key": "c1",', '"key": "c1"')  # a comma missing
    data = "\n".join([texts[0], broken, texts[2]]).encode()
    code, results, _ = record(url, data, tmp_path)
    assert code == 1
    assert [result["status"] for result in results] == ["recorded", "rejected", "recorded"]
    line = texts[0].count("\n") + 2
    assert results[1]["line"] == line and f"from line {line}" in results[1]["error"]["message"]
    assert keys(url) == ["offer", "c2"]


@pytest.mark.parametrize(
    "data",
    [
        b"type,project,date,amount\nSpendClaimed,KTP-1,2025-01-02,10.00\n",
        b"\xef\xbb\xbfdate;category;amount\n2025-01-02;consumables;10,00\n",
        b"date\tcategory\tamount\n2025-01-02\tconsumables\t10.00\n",
        b"PK\x03\x04\x14\x00\x06\x00\x08\x00" + b"\x00" * 40,
    ],
    ids=["csv", "semicolons", "tabs", "xlsx"],
)
def test_an_export_is_refused_once_pointing_at_import(url: str, tmp_path: Path, data: bytes) -> None:
    code, results, error = record(url, data, tmp_path)
    assert code == 1 and results == []
    assert error.count("error:") == 1
    assert "error: R-30: this looks like a CSV (or XLSX) export: use `ktpledger import FILE" in error
    assert keys(url) == []
