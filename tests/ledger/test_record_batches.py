"""`ktpledger record` appends a file a batch at a time (`RECORD_BATCH` events per append) and prints
each batch's results once it is appended: the output is what one append of the whole file gave,
one result a line in the file's order, numbered by the file's lines; a file that stops half-way can
be recorded again, the events already recorded coming back `duplicate`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ktpledger.bootstrap import bootstrap
from ktpledger.cli import app as cli
from ktpledger.cli import ledger as ledger_commands
from ktpledger.service.ledger import AppendResult, Ledger
from ktpledger.service.projections import Projector
from ktpledger.settings import Settings
from tests.ledger.factory import PROJECT, claim, offer

OTHER = "KTP-0043"


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Batches of 3 events; the size of each `Ledger.append` call, in order."""
    monkeypatch.setattr(ledger_commands, "RECORD_BATCH", 3)
    sizes: list[int] = []
    append = Ledger.append

    def counted(self: Ledger, submissions: Iterable[object], **options: Any) -> list[AppendResult]:
        submitted = list(submissions)
        sizes.append(len(submitted))
        return append(self, submitted, **options)

    monkeypatch.setattr(Ledger, "append", counted)
    return sizes


def fail_the_third_append(monkeypatch: pytest.MonkeyPatch, batches: list[int]) -> Callable[..., Any]:
    """The third `Ledger.append` raises, as if the database went away; the first two go in.
    Returns the `Ledger.append` it replaced."""
    append = Ledger.append

    def failing_third(self: Ledger, submissions: Iterable[object], **options: Any) -> list[AppendResult]:
        if len(batches) == 2:
            raise RuntimeError("the database went away")
        return append(self, submissions, **options)

    monkeypatch.setattr(Ledger, "append", failing_third)
    return append


def migrated(url: str) -> str:
    assert CliRunner().invoke(cli, ["--db", url, "db", "upgrade"]).exit_code == 0
    return url


def record(url: str, data: bytes, tmp_path: Path) -> tuple[int, list[dict[str, Any]], str]:
    source = tmp_path / "events.jsonl"
    source.write_bytes(data)
    result = CliRunner().invoke(cli, ["--db", url, "record", str(source)])
    assert "Traceback" not in result.stderr
    return result.exit_code, [json.loads(line) for line in result.stdout.splitlines()], result.stderr


def keys(url: str, project: str = PROJECT) -> list[str]:
    result = CliRunner().invoke(cli, ["--db", url, "events", project, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    return [item["key"] for item in json.loads(result.stdout)]


def jsonl(*items: dict[str, Any] | bytes) -> bytes:
    return (
        b"\n".join(item if isinstance(item, bytes) else json.dumps(item).encode() for item in items) + b"\n"
    )


TEN = jsonl(
    offer(),
    claim("c1", "1.00"),
    claim("c2", "2.00"),
    claim("c3", "3.00"),
    b'{"type": "SpendClaimed", "key": ',  # line 5: no JSON
    claim("c4", "4.00"),
    claim("c5", "5.00"),
    claim("c6", "6.00"),
    claim("c7", "7.00"),
    claim("c8", "8.00"),
)


def test_a_file_of_several_batches_prints_every_result_in_order(
    database_url: str, tmp_path: Path, batches: list[int]
) -> None:
    url = migrated(database_url)
    code, results, _ = record(url, TEN, tmp_path)
    assert code == 1
    assert batches == [3, 3, 3, 1]
    assert [(result["line"], result["status"]) for result in results] == [
        (1, "recorded"),
        (2, "recorded"),
        (3, "recorded"),
        (4, "recorded"),
        (5, "rejected"),
        (6, "recorded"),
        (7, "recorded"),
        (8, "recorded"),
        (9, "recorded"),
        (10, "recorded"),
    ]
    assert [result.get("key") for result in results] == [
        "offer",
        "c1",
        "c2",
        "c3",
        None,
        "c4",
        "c5",
        "c6",
        "c7",
        "c8",
    ]
    assert [result.get("version") for result in results] == [1, 2, 3, 4, None, 5, 6, 7, 8, 9]
    assert results[4]["error"]["rule"] == "R-30"
    assert keys(url) == ["offer", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"]


def test_blank_lines_do_not_count_towards_a_batch_and_keep_their_numbers(
    sqlite_url: str, tmp_path: Path, batches: list[int]
) -> None:
    url = migrated(sqlite_url)
    data = b"\n" + jsonl(offer(), claim("c1")) + b"\r\n  \n" + jsonl(claim("c2"), claim("c3"))
    code, results, _ = record(url, data, tmp_path)
    assert code == 0 and batches == [3, 1]
    assert [(result["line"], result["key"]) for result in results] == [
        (2, "offer"),
        (3, "c1"),
        (6, "c2"),
        (7, "c3"),
    ]


def test_an_event_repeated_in_a_later_batch_is_a_duplicate(
    sqlite_url: str, tmp_path: Path, batches: list[int]
) -> None:
    url = migrated(sqlite_url)
    data = jsonl(offer(), claim("c1", "10.00"), claim("c2"), claim("c1", "10.00"))
    code, results, _ = record(url, data, tmp_path)
    assert code == 0 and batches == [3, 1]
    assert results[3] == {"line": 4, "key": "c1", "status": "duplicate", "project": PROJECT, "version": 2}
    assert keys(url) == ["offer", "c1", "c2"]


def test_an_offer_in_one_batch_and_a_claim_for_it_in_the_next_are_both_recorded(
    sqlite_url: str, tmp_path: Path, batches: list[int]
) -> None:
    url = migrated(sqlite_url)
    data = jsonl(offer(), offer(OTHER), claim("o1", project=OTHER), claim("c1"))
    code, results, _ = record(url, data, tmp_path)
    assert code == 0 and batches == [3, 1]
    assert [(result["project"], result["status"], result["version"]) for result in results] == [
        (PROJECT, "recorded", 1),
        (OTHER, "recorded", 1),
        (OTHER, "recorded", 2),
        (PROJECT, "recorded", 2),
    ]
    assert keys(url) == ["offer", "c1"]


def test_a_run_that_fails_half_way_keeps_its_batches_and_is_recorded_again(
    sqlite_url: str, tmp_path: Path, batches: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The third append fails (say, the database went away): the results of the first two
    batches were printed before it, and recording the file again records the rest."""
    url = migrated(sqlite_url)
    append = fail_the_third_append(monkeypatch, batches)
    source = tmp_path / "events.jsonl"
    source.write_bytes(TEN)
    result = CliRunner().invoke(cli, ["--db", url, "record", str(source)])
    assert result.exit_code != 0 and isinstance(result.exception, RuntimeError)
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(item["line"], item["status"]) for item in printed] == [
        (1, "recorded"),
        (2, "recorded"),
        (3, "recorded"),
        (4, "recorded"),
        (5, "rejected"),
        (6, "recorded"),
    ]
    assert keys(url) == ["offer", "c1", "c2", "c3", "c4"]

    monkeypatch.setattr(Ledger, "append", append)
    code, results, _ = record(url, TEN, tmp_path)
    assert code == 1
    assert [result["status"] for result in results[:6]] == ["duplicate"] * 4 + ["rejected"] + ["duplicate"]
    assert [result["status"] for result in results[6:]] == ["recorded"] * 4
    assert keys(url) == ["offer", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"]


def test_stdin_is_read_in_batches_too(sqlite_url: str, batches: list[int]) -> None:
    url = migrated(sqlite_url)
    result = CliRunner().invoke(cli, ["--db", url, "record", "-"], input=TEN)
    assert result.exit_code == 1 and batches == [3, 3, 3, 1]
    assert [json.loads(line)["line"] for line in result.stdout.splitlines()] == list(range(1, 11))


def test_a_pretty_printed_file_is_appended_in_batches_as_well(
    sqlite_url: str, tmp_path: Path, batches: list[int]
) -> None:
    url = migrated(sqlite_url)
    texts = [json.dumps(item, indent=2) for item in (offer(), claim("c1"), claim("c2"), claim("c3"))]
    code, results, _ = record(url, "\n".join(texts).encode(), tmp_path)
    assert code == 0 and batches == [3, 1]
    starts = [1]
    for text in texts[:-1]:
        starts.append(starts[-1] + text.count("\n") + 1)
    assert [(result["line"], result["key"]) for result in results] == list(
        zip(starts, ["offer", "c1", "c2", "c3"], strict=True)
    )


def test_a_directory_cannot_be_read(sqlite_url: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--db", migrated(sqlite_url), "record", str(tmp_path)])
    assert result.exit_code == 2 and result.stderr.startswith(f"error: cannot read {tmp_path}: ")
    assert result.stdout == ""


@pytest.fixture
def woken(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The projects of each in-process catch-up, in order (sorted within each)."""
    calls: list[list[str]] = []
    catch_up_many = Projector.catch_up_many

    def counted(self: Projector, projects: Iterable[str]) -> Any:
        names = sorted(projects)
        calls.append(names)
        return catch_up_many(self, names)

    monkeypatch.setattr(Projector, "catch_up_many", counted)
    return calls


def projected(url: str) -> dict[str, int]:
    application = bootstrap(Settings(database_url=url))
    try:
        states = application.projector.states([PROJECT, OTHER])
    finally:
        application.close()
    return {name: state["version"] for name, state in states.items()}


EIGHT = jsonl(
    offer(),
    offer(OTHER),
    claim("c1"),
    claim("o1", project=OTHER),
    claim("c2"),
    claim("c3"),
    claim("c4"),
    claim("o2", project=OTHER),
)


def test_in_process_projections_catch_up_every_few_batches_and_at_the_end(
    sqlite_url: str,
    tmp_path: Path,
    batches: list[int],
    woken: list[list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without a broker, the projects touched are caught up together once `RECORD_CATCH_UP` events
    have been appended since the last catch-up, and at the end: not after every batch."""
    monkeypatch.setattr(ledger_commands, "RECORD_CATCH_UP", 6)
    url = migrated(sqlite_url)
    code, results, _ = record(url, EIGHT, tmp_path)
    assert code == 0 and batches == [3, 3, 2]
    assert [result["status"] for result in results] == ["recorded"] * 8
    assert woken == [[PROJECT, OTHER], [PROJECT, OTHER]]
    assert projected(url) == {PROJECT: 5, OTHER: 3}


def test_a_run_that_fails_half_way_still_catches_up_what_it_appended(
    sqlite_url: str,
    tmp_path: Path,
    batches: list[int],
    woken: list[list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = migrated(sqlite_url)
    fail_the_third_append(monkeypatch, batches)
    source = tmp_path / "events.jsonl"
    source.write_bytes(EIGHT)
    result = CliRunner().invoke(cli, ["--db", url, "record", str(source)])
    assert isinstance(result.exception, RuntimeError)
    assert woken == [[PROJECT, OTHER]]
    assert projected(url) == {PROJECT: 4, OTHER: 2}


def test_a_project_with_many_events_since_its_catch_up_is_caught_up_on_its_own(
    sqlite_url: str,
    tmp_path: Path,
    batches: list[int],
    woken: list[list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A project that has had `RECORD_CATCH_UP_PROJECT` events appended since its last catch-up
    is caught up after that batch (a catch-up reads its new events at once), the others later."""
    monkeypatch.setattr(ledger_commands, "RECORD_CATCH_UP", 100)
    monkeypatch.setattr(ledger_commands, "RECORD_CATCH_UP_PROJECT", 3)
    url = migrated(sqlite_url)
    code, _, _ = record(url, EIGHT, tmp_path)
    assert code == 0 and batches == [3, 3, 2]
    assert woken == [[PROJECT], [OTHER], [PROJECT]]
    assert projected(url) == {PROJECT: 5, OTHER: 3}
