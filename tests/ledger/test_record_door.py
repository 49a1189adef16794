"""`ktpledger record` judges every line at the door on its own (issue 11, items 1 and 2): a bad line
is rejected naming its rule and field, never a traceback, and the lines beside it are recorded,
numbered as in the file."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ktpledger.cli import app as cli
from tests.ledger.door_cases import AFTER, BEFORE, CASES, Case, as_bytes, described, raw_text
from tests.ledger.factory import PROJECT, claim, offer


@pytest.fixture
def url(database_url: str) -> str:
    """A migrated ledger on each backend (the embedded SQLite default would migrate itself)."""
    assert CliRunner().invoke(cli, ["--db", database_url, "db", "upgrade"]).exit_code == 0
    return database_url


def record(url: str, data: bytes, tmp_path: Path) -> tuple[int, list[dict[str, Any]], str]:
    """`ktpledger record FILE` on `data`: exit code, the results, stderr. A traceback fails here."""
    source = tmp_path / "events.jsonl"
    source.write_bytes(data)
    result = CliRunner().invoke(cli, ["--db", url, "record", str(source)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    return result.exit_code, [json.loads(line) for line in result.stdout.splitlines()], result.stderr


def stream(url: str, project: str = PROJECT) -> list[dict[str, Any]]:
    result = CliRunner().invoke(cli, ["--db", url, "events", project, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    found: list[dict[str, Any]] = json.loads(result.stdout)
    return found


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_each_bad_input_is_one_rejection_and_the_rest_is_recorded(
    url: str, tmp_path: Path, case: Case
) -> None:
    lines = [BEFORE, *case.lines, AFTER]
    code, results, _ = record(url, b"\n".join(lines) + b"\n", tmp_path)
    assert [result["line"] for result in results] == list(range(1, len(lines) + 1))
    judged = results[-2]
    if case.rule is None:
        assert code == 0 and judged["status"] == "recorded", judged
    else:
        assert code == 1
        assert judged["status"] == "rejected" and judged["error"]["rule"] == case.rule, judged
        for words in case.words:
            assert words in judged["error"]["message"], judged
    others = [results[0], *results[1:-2], results[-1]]
    assert all(result["status"] == "recorded" for result in others), others
    keys = [item["key"] for item in stream(url)]
    assert keys[0] == "offer" and keys[-1] == "after-the-case"


def test_a_byte_order_mark_is_dropped_and_lines_keep_their_numbers(sqlite_url: str, tmp_path: Path) -> None:
    data = b"\xef\xbb\xbf" + BEFORE + b"\r\n\r\n" + AFTER + b"\r\n"
    code, results, _ = record(sqlite_url, data, tmp_path)
    assert code == 0
    assert [(result["line"], result["status"]) for result in results] == [(1, "recorded"), (3, "recorded")]


def test_lines_split_at_new_lines_only(sqlite_url: str, tmp_path: Path) -> None:
    """U+2028, U+2029, U+0085, a form feed and a vertical tab inside strings split no line (str
    .splitlines would split at each); each event is judged whole, on its own line number."""
    inside = ["a\u2028b", "a\u2029b", "a\x85b", "a\x0cb", "a\x0bb", "a\x1cb"]
    lines = [BEFORE] + [raw_text(described(f"k{n}", text)) for n, text in enumerate(inside)] + [AFTER]
    code, results, _ = record(sqlite_url, b"\n".join(lines), tmp_path)
    assert code == 1
    assert [result["line"] for result in results] == list(range(1, len(lines) + 1))
    assert [result["status"] for result in results] == ["recorded"] * 3 + ["rejected"] * 4 + ["recorded"]
    assert [item["data"]["description"] for item in stream(sqlite_url)[1:3]] == ["a\u2028b", "a\u2029b"]


def test_a_file_that_is_not_utf8_is_judged_line_by_line(sqlite_url: str, tmp_path: Path) -> None:
    latin1 = json.dumps(described("latin", "caf\u00e9 \u00a312")).encode("ascii")
    latin1 = latin1.replace(b"\\u00e9", b"\xe9").replace(b"\\u00a3", b"\xa3")
    utf16 = json.dumps(claim("utf16")).encode("utf-16-le")
    code, results, _ = record(sqlite_url, b"\n".join([BEFORE, latin1, utf16, AFTER]), tmp_path)
    assert code == 1
    assert [(result["line"], result["status"]) for result in results] == [
        (1, "recorded"),
        (2, "rejected"),
        (3, "rejected"),
        (4, "recorded"),
    ]
    assert "0xE9" in results[1]["error"]["message"] and results[1]["key"] == "latin"


def malformed(valid: dict[str, Any], number: int, rng: random.Random) -> bytes:
    """A line that no reading may take for an event: broken JSON, bytes that are not UTF-8, text
    that cannot be stored, money or dates that are not as written, keys given twice..."""
    text = as_bytes(valid)
    kind = number % 12
    if kind == 0:
        return text[: rng.randrange(1, len(text) - 1)]  # cut short: never a whole JSON object
    if kind == 1:
        return text.replace(b"claim ", bytes([rng.randrange(0x80, 0x100)]))  # a stray byte
    if kind == 2:
        return text.replace(b"claim ", f"\\u{rng.randrange(0xD800, 0xE000):04x}".encode())
    if kind == 3:
        return text.replace(
            b"claim ", f"\\u{rng.choice([*range(1, 9), 0x0B, 0x1F, 0x7F, 0x85]):04x}".encode()
        )
    if kind == 4:
        amount = rng.choice(["-0", "1_000", "1e3", "\u0661\u0662", "+5", "1.234", " 1 0", "0x10", "\u00bd"])
        return as_bytes({**valid, "data": {**valid["data"], "amount": amount}})
    if kind == 5:
        number_text = rng.choice([b"-0", b"1e2", b"1.5E1", b"-0.0", b"100.001", b"-3"])
        return text.replace(b'"amount": "100.00"', b'"amount": ' + number_text)
    if kind == 6:
        return text.replace(b'"date": "', b'"date": "' + rng.choice([b"9", b"0", b"1"]))  # 92025-...
    if kind == 7:
        return as_bytes(
            {**valid, "date": rng.choice(["1989-12-31", "2100-01-01", "9999-12-31", "0001-01-01"])}
        )
    if kind == 8:
        return text.replace(b'"category": ', b'"category": "consumables", "category": ')
    if kind == 9:
        return as_bytes(
            {**valid, "project": valid["project"] + rng.choice(["\n", "\r", " ", "\t", "\u2028"])}
        )
    if kind == 10:
        return text.replace(b"{", b"{\xef\xbb\xbf", 1)  # a byte order mark inside a line
    return as_bytes(
        {
            **valid,
            "data": {**valid["data"], rng.choice(["amount", "category"]): rng.choice([None, [], {}, True])},
        }
    )


def test_a_campaign_batch_every_line_accounted_for(url: str, tmp_path: Path) -> None:
    """~120 malformed lines (generated, seeded) among the campaign's own cases and valid claims:
    every line has its result, every valid event is recorded, every malformed one rejected."""
    rng = random.Random(11)
    lines: list[bytes] = [as_bytes(offer())]
    expected: list[str] = ["recorded"]
    for number in range(120):
        lines.append(malformed(claim(f"bad-{number}", "100.00"), number, rng))
        expected.append("rejected")
        if number % 3 == 0:
            lines.append(as_bytes(claim(f"good-{number}", "1.00")))
            expected.append("recorded")
    for case in CASES:
        if case.rule is not None and len(case.lines) == 1:
            lines.append(case.lines[0])
            expected.append("rejected")
    code, results, _ = record(url, b"\n".join(lines) + b"\n", tmp_path)
    assert code == 1
    assert [result["line"] for result in results] == list(range(1, len(lines) + 1))
    wrong = [
        (n, lines[n - 1][:120], r)
        for n, (r, want) in enumerate(zip(results, expected, strict=True), 1)
        if r["status"] != want
    ]
    assert not wrong, wrong
    assert all(
        result["error"]["rule"].startswith("R-") for result in results if result["status"] == "rejected"
    )
    recorded = [item["key"] for item in stream(url)]
    assert recorded == ["offer"] + [f"good-{number}" for number in range(0, 120, 3)]
