"""Who recorded each event (`recorded_by`, chain version 2), on SQLite and PostgreSQL: stored and
shown, covered by the hash, refused when the name is bad, never part of an event's content; and a
ledger recorded before migration 0012 (chain version 1) still verifying after it, mixed with new rows."""

from __future__ import annotations

import getpass
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from ktpledger.adapters.database import Database, build_engine
from ktpledger.bootstrap import App, bootstrap
from ktpledger.cli import app as cli
from ktpledger.domain.chain import canonical_json, format_instant, link_digest
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.events import parse_event
from ktpledger.domain.recorded import RecordedBy, RecordedEvent, recorded_by
from ktpledger.service.checkpoints import Checkpoints, verify_against
from ktpledger.service.ledger import Ledger
from ktpledger.service.projection_check import check_projections
from ktpledger.service.schema import current_revision, migrate, upgrade
from ktpledger.settings import Settings
from tests.ledger.factory import PROJECT, claim, offer
from tests.ledger.test_anchor import as_owner

ADA = RecordedBy("Ada Lovelace", "finance", "api")
BOB = RecordedBy("bob", None, "cli")


def run(url: str, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--db", url, *args], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.stdout, result.stderr


def record_file(tmp_path: Path, *events: dict[str, Any]) -> str:
    source = tmp_path / f"events-{len(list(tmp_path.iterdir()))}.jsonl"
    source.write_text("\n".join(json.dumps(item) for item in events) + "\n", encoding="utf-8")
    return str(source)


def shown(url: str) -> list[dict[str, Any]]:
    code, out, err = run(url, "events", PROJECT, "--format", "json")
    assert code == 0, err
    found: list[dict[str, Any]] = json.loads(out)
    return found


# --- the domain: the name, the link document ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "is empty"),
        ("x" * 201, "201 characters"),
        ("a\tb", "tab"),
        ("a\x07b", "U+0007"),
        ("a\nb", "line"),
    ],
)
def test_a_bad_name_is_refused_naming_the_option(name: str, why: str) -> None:
    with pytest.raises(RuleViolation) as refused:
        recorded_by(name, None, "cli")
    assert refused.value.rule == "R-30" and refused.value.field == "--as"
    assert refused.value.message.startswith("--as: ") and why in refused.value.message


def test_names_of_200_characters_and_any_script_are_kept() -> None:
    assert recorded_by("y" * 200, None, "cli").name == "y" * 200
    assert recorded_by("Siân Ó Briain 李", "admin", "dashboard").to_json() == {
        "name": "Siân Ó Briain 李",
        "role": "admin",
        "channel": "dashboard",
    }


def test_the_link_document_of_each_chain_version_worked_by_hand() -> None:
    fields = (
        "KTP-1",
        2,
        "SpendClaimed",
        1,
        "k",
        "2025-01-31",
        "2025-02-01T10:00:00.000001Z",
        '{"a":"1"}',
        "p" * 64,
    )
    v1 = (
        '{"data":{"a":"1"},"date":"2025-01-31","key":"k","prev":"' + "p" * 64 + '","project":"KTP-1",'
        '"recorded_at":"2025-02-01T10:00:00.000001Z","schema_version":1,"type":"SpendClaimed","version":2}'
    )
    assert link_digest(*fields) == hashlib.sha256(v1.encode()).hexdigest()
    by = canonical_json(RecordedBy("Zoë", None, "cli").to_json())
    assert by == '{"channel":"cli","name":"Zoë","role":null}'
    v2 = (
        '{"chain_version":2,"data":{"a":"1"},"date":"2025-01-31","key":"k","prev":"' + "p" * 64 + '",'
        '"project":"KTP-1","recorded_at":"2025-02-01T10:00:00.000001Z",'
        '"recorded_by":{"channel":"cli","name":"Zoë","role":null},"schema_version":1,"type":"SpendClaimed",'
        '"version":2}'
    )
    assert link_digest(*fields, chain_version=2, recorded_by=by) == hashlib.sha256(v2.encode()).hexdigest()
    unsaid = v2.replace('{"channel":"cli","name":"Zoë","role":null}', "null")
    assert link_digest(*fields, chain_version=2) == hashlib.sha256(unsaid.encode()).hexdigest()
    with pytest.raises(ValueError, match="chain version 3"):
        link_digest(*fields, chain_version=3)


# --- stored, shown, and part of the hash --------------------------------------------------------------


def test_the_ledger_keeps_who_recorded_each_event_on_both_paths(app: App) -> None:
    assert [r.status for r in app.ledger.append([offer(), claim("c1")], recorded_by=ADA)] == ["recorded"] * 2
    [single] = app.ledger.append([claim("c2")], recorded_by=BOB)  # PostgreSQL: the one-round-trip path
    [unsaid] = app.ledger.append([claim("c3")])
    assert (single.status, unsaid.status) == ("recorded", "recorded")
    stream = app.ledger.stream(PROJECT)
    assert [(e.chain_version, e.recorded_by) for e in stream] == [
        (2, '{"channel":"api","name":"Ada Lovelace","role":"finance"}'),
        (2, '{"channel":"api","name":"Ada Lovelace","role":"finance"}'),
        (2, '{"channel":"cli","name":"bob","role":null}'),
        (2, None),
    ]
    assert [e.to_json()["recorded_by"] for e in stream][2:] == [BOB.to_json(), None]
    assert app.ledger.verify() == (4, None)


def test_a_large_batch_keeps_it_too(app: App) -> None:
    """PostgreSQL appends a batch of 16 rows or more by COPY: the new columns go in that way too."""
    batch = [offer(), *(claim(f"c{n}", "1.00") for n in range(30))]
    assert {r.status for r in app.ledger.append(batch, recorded_by=BOB)} == {"recorded"}
    assert {(e.chain_version, e.recorded_by) for e in app.ledger.stream(PROJECT)} == {(2, BOB.canonical())}
    assert app.ledger.verify() == (31, None)


def test_the_same_key_and_content_from_someone_else_is_still_a_duplicate(app: App) -> None:
    app.ledger.append([offer(), claim("c1", "10.00")], recorded_by=ADA)
    for who in (BOB, None):
        [again] = app.ledger.append([claim("c1", "10.00")], recorded_by=who)
        assert (again.status, again.version) == ("duplicate", 2)
    [other] = app.ledger.append([claim("c1", "11.00")], recorded_by=BOB)
    assert other.status == "rejected" and other.error is not None and other.error.rule == "R-30"
    assert [json.loads(e.recorded_by or "null")["name"] for e in app.ledger.stream(PROJECT)] == [
        "Ada Lovelace"
    ] * 2


@pytest.mark.parametrize(
    "tamper",
    [
        """UPDATE events SET recorded_by = '{"channel":"api","name":"Mallory","role":"finance"}' WHERE version = 2""",
        "UPDATE events SET recorded_by = NULL WHERE version = 2",
        "UPDATE events SET chain_version = 1 WHERE version = 2",
    ],
)
def test_a_changed_recorded_by_is_caught_by_verify_naming_the_event(app: App, tamper: str) -> None:
    app.ledger.append([offer(), claim("c1"), claim("c2")], recorded_by=ADA)
    url = app.settings.database_url
    assert run(url, "verify")[0] == 0
    as_owner(app, tamper)
    code, out, err = run(url, "verify")
    assert code == 1
    assert f"project {PROJECT} version 2 (position " in err and "hash does not match" in err
    assert "1 events verified before it" in out


# --- the command line ------------------------------------------------------------------------------


def test_record_with_as_and_the_events_command_show_it(database_url: str, tmp_path: Path) -> None:
    assert run(database_url, "db", "upgrade")[0] == 0
    code, out, err = run(
        database_url, "--as", "Grace Hopper", "record", record_file(tmp_path, offer(), claim("c1"))
    )
    assert code == 0, out + err
    events = shown(database_url)
    assert [e["recorded_by"] for e in events] == [
        {"name": "Grace Hopper", "role": None, "channel": "cli"}
    ] * 2
    assert [e["chain_version"] for e in events] == [2, 2]
    code, out, _ = run(database_url, "events", PROJECT)
    header = next(line for line in out.splitlines() if line.lstrip().startswith("v "))
    assert header.rstrip().endswith("by")
    assert sum("Grace Hopper" in line for line in out.splitlines()) == 2
    # The environment names who records too; --as wins over it.
    env = {"KTPLEDGER_AS": "from env"}
    assert run(database_url, "record", record_file(tmp_path, claim("c2")), env=env)[0] == 0
    assert run(database_url, "--as", "flag", "record", record_file(tmp_path, claim("c3")), env=env)[0] == 0
    assert [e["recorded_by"]["name"] for e in shown(database_url)][2:] == ["from env", "flag"]


def test_record_defaults_to_the_operating_system_user(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(database_url, "db", "upgrade")[0] == 0
    monkeypatch.setattr(getpass, "getuser", lambda: "osuser")
    assert run(database_url, "record", record_file(tmp_path, offer()))[0] == 0

    def no_user() -> str:
        raise OSError("No username set in the environment")

    monkeypatch.setattr(getpass, "getuser", no_user)
    assert run(database_url, "record", record_file(tmp_path, claim("c1")))[0] == 0
    monkeypatch.setattr(getpass, "getuser", lambda: "bad\x01user")
    assert run(database_url, "record", record_file(tmp_path, claim("c2")))[0] == 0
    assert [e["recorded_by"] for e in shown(database_url)] == [
        {"name": "osuser", "role": None, "channel": "cli"},
        {"name": "unknown", "role": None, "channel": "cli"},
        {"name": "unknown", "role": None, "channel": "cli"},
    ]


@pytest.mark.parametrize("name", ["", "x" * 201, "tab\there", "bell\x07"])
def test_a_bad_as_is_refused_with_exit_2_and_nothing_recorded(
    database_url: str, tmp_path: Path, name: str
) -> None:
    assert run(database_url, "db", "upgrade")[0] == 0
    code, out, err = run(database_url, "--as", name, "record", record_file(tmp_path, offer()))
    assert code == 2 and out == ""
    assert err.startswith("error: R-30: --as: the name of who records ")
    code, _, err = run(database_url, "events", PROJECT)
    assert code == 1 and "R-31" in err


def test_import_records_with_channel_import(database_url: str, tmp_path: Path) -> None:
    from tests.imports.helpers import fixture, import_json, prepared

    prepared(database_url, tmp_path)
    code, plan, err = import_json(
        database_url,
        fixture("agresso_2025_01.csv"),
        fixture("agresso.toml"),
        "--errors",
        str(tmp_path / "e.csv"),
    )
    assert code == 0, err
    assert plan["recorded_anything"] is True
    code, _, err = run(
        database_url,
        "--as",
        "Finance Office",
        "import",
        str(fixture("agresso_2025_01.csv")),
        "--project",
        PROJECT,
        "--profile",
        str(fixture("agresso.toml")),
        "--errors",
        str(tmp_path / "e2.csv"),
    )
    assert code == 0, err  # all duplicates: nothing recorded by the second import
    events = shown(database_url)
    imported = [e["recorded_by"] for e in events[1:]]
    assert len(imported) == 8
    user = imported[0]["name"]
    assert user != "Finance Office" and imported == [{"name": user, "role": None, "channel": "import"}] * 8
    assert events[0]["recorded_by"]["channel"] == "cli"


def test_the_demo_records_as_demo(database_url: str) -> None:
    assert run(database_url, "db", "upgrade")[0] == 0
    code, _, err = run(database_url, "demo")
    assert code == 0, err
    code, out, _ = run(database_url, "events", "KTP-DEMO-01", "--format", "json")
    assert {json.dumps(e["recorded_by"], sort_keys=True) for e in json.loads(out)} == {
        json.dumps({"name": "demo", "role": None, "channel": "cli"}, sort_keys=True)
    }


# --- a ledger recorded before migration 0012 ---------------------------------------------------------


def insert_version_1(database: Database, events: list[dict[str, Any]]) -> None:
    """Append `events` as the ledger did before migration 0012 (the schema at 0011: no
    `chain_version`, no `recorded_by`), each hashed with chain version 1's link document."""
    heads: dict[str, tuple[int, str]] = {}
    with database.engine.begin() as connection:
        for raw in events:
            event = parse_event(raw)
            version, prev = heads.get(event.project, (0, ""))
            version += 1
            recorded_at = "2026-11-30T09:00:00.000000Z"
            data = canonical_json(event.payload.to_data())
            link = RecordedEvent(
                0,
                event.project,
                version,
                event.type,
                event.payload.SCHEMA_VERSION,
                event.key,
                event.date,
                data,
                datetime(2026, 11, 30, 9),
                prev,
                "",
            ).link()
            assert link.recorded_at == recorded_at and link.chain_version == 1
            digest = link.digest()
            connection.execute(
                text(
                    "INSERT INTO events (project, version, type, schema_version, key, date, data, recorded_at, "
                    "prev_hash, hash) VALUES (:p, :v, :t, :s, :k, :d, :data, :at, :prev, :h)"
                ),
                {
                    "p": event.project,
                    "v": version,
                    "t": event.type,
                    "s": event.payload.SCHEMA_VERSION,
                    "k": event.key,
                    "d": event.date,
                    "data": data,
                    "at": datetime(2026, 11, 30, 9, tzinfo=UTC),
                    "prev": prev,
                    "h": digest,
                },
            )
            heads[event.project] = (version, digest)


def test_a_ledger_of_version_1_rows_verifies_after_the_upgrade_mixed_with_new_rows(database_url: str) -> None:
    database = Database(build_engine(database_url))
    try:
        migrate(database, "upgrade", "0011")
        insert_version_1(database, [offer(), claim("c1", "100.00"), offer("KTP-0099"), claim("c2", "50.00")])
        # Downgrade and upgrade again with only chain version 1 rows: nothing lost.
        upgrade(database)
        migrate(database, "downgrade", "0011")
        assert current_revision(database) == "0011"
        upgrade(database)
    finally:
        database.dispose()
    app = bootstrap(Settings(database_url=database_url))
    try:
        checkpoint_before = Checkpoints(app.database).now()
        old = app.ledger.stream(PROJECT)
        assert [(e.chain_version, e.recorded_by) for e in old] == [(1, None), (1, None), (1, None)]
        assert app.ledger.verify() == (4, None)
        # Duplicates of old rows stay duplicates; new rows chain onto old ones.
        [dup] = app.ledger.append([claim("c1", "100.00")], recorded_by=ADA)
        assert (dup.status, dup.version) == ("duplicate", 2)
        app.ledger.append([claim("c3", "20.00")], recorded_by=ADA)
        app.ledger.append([claim("c4", "30.00"), claim("c5", "1.00", project="KTP-0099")], recorded_by=BOB)
        stream = app.ledger.stream(PROJECT)
        assert [e.chain_version for e in stream] == [1, 1, 1, 2, 2]
        assert stream[3].prev_hash == stream[2].hash
        assert app.ledger.verify() == (7, None)
        # The chain re-checked with nothing but sha256 and a JSON encoder, as docs/events.md shows.
        for document in shown(database_url):
            linked = {
                k: document[k]
                for k in (
                    "data",
                    "date",
                    "key",
                    "project",
                    "recorded_at",
                    "schema_version",
                    "type",
                    "version",
                )
            }
            linked["prev"] = document["prev_hash"]
            if document["chain_version"] == 2:
                linked["chain_version"] = 2
                linked["recorded_by"] = document["recorded_by"]
            else:
                assert document["recorded_by"] is None
            encoded = json.dumps(linked, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            assert hashlib.sha256(encoded.encode()).hexdigest() == document["hash"]
        # Checkpoints over the mixed ledger, the one of before still attests its part; projections.
        app.projector.replay()
        checkpoint = Checkpoints(app.database).now()
        assert checkpoint.point.events == 7
        assert verify_against(app.database, checkpoint, None).comparison.matches
        assert verify_against(app.database, checkpoint_before, None).comparison.matches
        assert check_projections(app.database).ok
        code, out, err = run(database_url, "verify", "--projections")
        assert code == 0, out + err
        # A tampered old row is still caught.
        as_owner(app, "UPDATE events SET data = '{}' WHERE project = 'KTP-0099' AND version = 1")
        code, _, err = run(database_url, "verify")
        assert code == 1 and "project KTP-0099 version 1" in err
    finally:
        app.close()


def test_the_downgrade_is_refused_while_version_2_rows_are_recorded(database_url: str) -> None:
    database = Database(build_engine(database_url))
    try:
        upgrade(database)
        ledger = Ledger(database)
        try:
            ledger.append([offer()], recorded_by=BOB)
        finally:
            ledger.close()
        with pytest.raises(Exception, match="chain version 2"):
            migrate(database, "downgrade", "0011")
        with database.engine.connect() as connection:
            assert connection.execute(text("SELECT recorded_by FROM events")).scalar_one() == BOB.canonical()
        # The one below 0012 was refused: the schema is at 0012 or above (where the downgrades
        # before it stopped depends on the backend's transactional DDL).
        revision = current_revision(database)
        assert revision is not None and int(revision) >= 12, revision
    finally:
        database.dispose()


def test_recorded_at_is_hashed_as_formatted() -> None:
    # (guard for insert_version_1's hand-made rows)
    assert format_instant(datetime(2026, 11, 30, 9)) == "2026-11-30T09:00:00.000000Z"
