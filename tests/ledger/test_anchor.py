"""Tamper evidence with an anchor (issue 11, item 5): what an owner of the database can do to the
ledger unseen by `verify`, found by `verify --against CHECKPOINT`, on both backends.

Each tamper is what the campaign did as the tables' owner: disable (PostgreSQL) or drop (SQLite)
the append-only triggers, then change rows. Plain `verify` is run first to show the gap it leaves
(it re-checks each project's own chain only); the checkpoint, exported before the tamper, closes it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from ktpledger.adapters.signing import generate
from ktpledger.adapters.tables import events
from ktpledger.bootstrap import App, bootstrap
from ktpledger.cli import app as cli
from ktpledger.domain.chain import format_instant, link_digest
from ktpledger.domain.events import parse_event
from ktpledger.domain.project import ProjectState
from ktpledger.service.ledger import new_row
from ktpledger.service.schema import upgrade
from ktpledger.settings import Settings
from tests.ledger.factory import claim, offer

A, B, C = "KTP-A", "KTP-B", "KTP-C"

# Positions 1..9, the projects interleaved: A 1,3,6,9  B 2,5,8  C 4,7.
HISTORY = [
    offer(A),
    offer(B),
    claim("a1", "10.00", project=A),
    offer(C),
    claim("b1", "20.00", project=B),
    claim("a2", "30.00", project=A),
    claim("c1", "40.00", project=C),
    claim("b2", "50.00", project=B),
    claim("a3", "60.00", project=A),
]


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, str]:
    private, public, _ = generate(tmp_path / "checkpoint.pem")
    return {"KTPLEDGER_CHECKPOINT_KEY": str(private), "KTPLEDGER_CHECKPOINT_PUBLIC_KEY": str(public)}


@pytest.fixture
def ledger(database_url: str) -> Iterator[App]:
    application = bootstrap(Settings(database_url=database_url))
    upgrade(application.database)
    results = application.ledger.append(HISTORY)
    assert [r.status for r in results] == ["recorded"] * len(HISTORY)
    assert [e.position for e in application.ledger.stream(A)] == [1, 3, 6, 9]
    yield application
    application.close()


def run(app: App, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--db", app.settings.database_url, *args], env=env)
    return result.exit_code, result.stdout, result.stderr


def export(app: App, env: dict[str, str], path: Path, *args: str) -> dict[str, Any]:
    code, _, err = run(app, env, "checkpoint", "--out", str(path), *args)
    assert code == 0, err
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def as_owner(app: App, *statements: str, **values: Any) -> None:
    """Disable the append-only guard (as the tables' owner can) and run `statements`."""
    with app.database.engine.begin() as connection:
        if app.database.dialect == "postgresql":
            connection.execute(text("ALTER TABLE events DISABLE TRIGGER USER"))
        else:
            connection.execute(text("DROP TRIGGER IF EXISTS events_refuse_update"))
            connection.execute(text("DROP TRIGGER IF EXISTS events_refuse_delete"))
        for statement in statements:
            connection.execute(text(statement), values)


def rewrite_tail(app: App, project: str, from_version: int) -> None:
    """Change the amount of the project's claims from `from_version` on and recompute their hashes
    and links, so the project's own chain is intact again."""
    stream = app.ledger.stream(project)
    prev = stream[from_version - 2].hash
    updates = []
    for item in stream[from_version - 1 :]:
        data = json.loads(item.data)
        data["amount"] = "1.00"
        forged = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest = link_digest(
            item.project,
            item.version,
            item.type,
            item.schema_version,
            item.key,
            item.date.isoformat(),
            format_instant(item.recorded_at),
            forged,
            prev,
            chain_version=item.chain_version,
            recorded_by=item.recorded_by,
        )
        updates.append({"p": item.position, "d": forged, "prev": prev, "h": digest})
        prev = digest
    as_owner(app)
    with app.database.engine.begin() as connection:
        for values in updates:
            connection.execute(
                text("UPDATE events SET data = :d, prev_hash = :prev, hash = :h WHERE position = :p"), values
            )


def insert_ghost(app: App, position: int) -> None:
    """A whole valid project's first event, inserted at a past position."""
    now = datetime.now(UTC)
    row = new_row(
        parse_event(offer("KTP-GHOST")), ProjectState(project="KTP-GHOST"), now, format_instant(now)
    )
    with app.database.engine.begin() as connection:
        connection.execute(events.insert(), [{**row, "position": position}])


def truncate(app: App) -> None:
    as_owner(app, "TRUNCATE events" if app.database.dialect == "postgresql" else "DELETE FROM events")


TAMPERS: dict[str, tuple[Callable[[App], None], list[str]]] = {
    "the last event of a project deleted": (
        lambda app: as_owner(app, "DELETE FROM events WHERE project = 'KTP-B' AND version = 3"),
        [
            "the ledger parts from the checkpoint's chain at position 8",
            "project KTP-B: 1 event missing since the checkpoint: version 3 (position 8)",
            (
                "the ledger holds 8 events at or before position 9, the last at position 9; the checkpoint counted 9 "
                "(1 fewer)"
            ),
        ],
    ),
    "a whole project deleted": (
        lambda app: as_owner(app, "DELETE FROM events WHERE project = 'KTP-C'"),
        [
            "the ledger parts from the checkpoint's chain at position 4",
            "project KTP-C: 2 events missing since the checkpoint: versions 1-2 (positions 4, 7)",
            (
                "the ledger holds 7 events at or before position 9, the last at position 9; the checkpoint counted 9 "
                "(2 fewer)"
            ),
        ],
    ),
    "the ledger truncated": (
        truncate,
        [
            "the ledger parts from the checkpoint's chain at position 1",
            "project KTP-A: 4 events missing since the checkpoint: versions 1-4 (positions 1, 3, 6, 9)",
            "project KTP-B: 3 events missing since the checkpoint: versions 1-3 (positions 2, 5, 8)",
            "project KTP-C: 2 events missing since the checkpoint: versions 1-2 (positions 4, 7)",
            (
                "the ledger holds no event at or before position 9 (it was truncated); the checkpoint counted 9 "
                "(9 fewer)"
            ),
        ],
    ),
    "a chain tail rewritten with its hashes recomputed": (
        lambda app: rewrite_tail(app, A, 3),
        [
            "the ledger parts from the checkpoint's chain at position 6",
            "position 6: project KTP-A version 3 was rewritten since the checkpoint",
            "position 9: project KTP-A version 4 was rewritten since the checkpoint",
        ],
    ),
    "a position changed": (
        lambda app: as_owner(app, "UPDATE events SET position = 100 WHERE position = 5"),
        [
            "the ledger parts from the checkpoint's chain at position 5",
            (
                "project KTP-B version 2 was at position 5 at the checkpoint and is at position 100 now: its "
                "position was changed"
            ),
            (
                "the ledger holds 8 events at or before position 9, the last at position 9; the checkpoint counted 9 "
                "(1 fewer)"
            ),
        ],
    ),
    "an event inserted in the past": (
        lambda app: insert_ghost(app, 0),
        [
            "the ledger parts from the checkpoint's chain at position 0",
            (
                "project KTP-GHOST: 1 event not in the ledger at the checkpoint: inserted in the past: version 1 "
                "(position 0)"
            ),
            (
                "the ledger holds 10 events at or before position 9, the last at position 9; the checkpoint counted 9 "
                "(1 more)"
            ),
        ],
    ),
}


@pytest.mark.parametrize("kind", list(TAMPERS))
def test_verify_against_finds_what_plain_verify_cannot(
    ledger: App, keys: dict[str, str], tmp_path: Path, kind: str
) -> None:
    tamper, expected = TAMPERS[kind]
    anchor = export(ledger, keys, tmp_path / "anchor.json")
    assert (anchor["position"], anchor["events"]) == (9, 9)
    assert run(ledger, keys, "verify", "--against", str(tmp_path / "anchor.json"))[0] == 0
    tamper(ledger)
    code, out, _ = run(ledger, keys, "verify")
    assert code == 0 and "every chain intact" in out  # the gap the campaign found
    code, out, err = run(ledger, keys, "verify", "--against", str(tmp_path / "anchor.json"))
    assert code == 1, (out, err)
    found = [line.removeprefix("error: R-30: ") for line in err.splitlines() if line.startswith("error:")]
    assert len(found) == len(expected), found
    for line, wanted in zip(found, expected, strict=True):
        assert line.startswith(wanted), (line, wanted)
    assert "signed by key" in out and ": valid" in out
    assert "the ledger does not match the checkpoint" in out


def test_verify_against_json(ledger: App, keys: dict[str, str], tmp_path: Path) -> None:
    export(ledger, keys, tmp_path / "anchor.json")
    as_owner(ledger, "DELETE FROM events WHERE project = 'KTP-A' AND version = 4")
    code, out, _ = run(ledger, keys, "verify", "--against", str(tmp_path / "anchor.json"), "--format", "json")
    document = json.loads(out)
    assert code == 1 and document["ok"] is False
    assert document["events_checked"] == 8 and document["problem"] is None
    against = document["against"]
    assert (against["signature"], against["matches"], against["located"], against["parted_at"]) == (
        "valid",
        False,
        True,
        9,
    )
    assert [(f["kind"], f["project"], f["versions"], f["position"]) for f in against["findings"]] == [
        ("parted", None, [], 9),
        ("missing", A, [4], 9),
        ("count", None, [], 9),
    ]
    assert against["ledger"]["events"] == 8 and against["checkpoint"]["events"] == 9


def test_what_plain_verify_finds_is_still_found(ledger: App, keys: dict[str, str], tmp_path: Path) -> None:
    export(ledger, keys, tmp_path / "anchor.json")
    as_owner(ledger, "UPDATE events SET data = :d WHERE position = 3", d='{"amount":"9.99"}')
    code, out, err = run(ledger, keys, "verify", "--against", str(tmp_path / "anchor.json"))
    assert code == 1
    assert f"project {A} version 2 (position 3): hash does not match the event's content" in err
    assert "ok: the ledger up to position 9" in out  # the hashes, which the checkpoint binds, are untouched


def test_a_record_wiped_with_the_ledger_still_cannot_hide_the_change(
    ledger: App, keys: dict[str, str], tmp_path: Path
) -> None:
    export(ledger, keys, tmp_path / "anchor.json")
    as_owner(ledger, "DELETE FROM events WHERE project = 'KTP-B' AND version = 3", "DELETE FROM ledger_chain")
    code, _, err = run(ledger, keys, "verify", "--against", str(tmp_path / "anchor.json"))
    assert code == 1
    assert "the ledger's chain at position 9 is" in err and "cannot say which" in err
    assert "the checkpoint counted 9 (1 fewer)" in err


def test_events_after_the_checkpoint_are_not_findings(
    ledger: App, keys: dict[str, str], tmp_path: Path
) -> None:
    export(ledger, keys, tmp_path / "anchor.json")
    ledger.ledger.append([claim("a4", "5.00", project=A), offer("KTP-D")])
    code, _, err = run(ledger, keys, "verify", "--against", str(tmp_path / "anchor.json"))
    assert code == 0, err
    assert "2 event(s) after position 9 are not covered by this checkpoint" in err
    # ... and a later checkpoint covers them.
    assert export(ledger, keys, tmp_path / "later.json")["events"] == 11


def test_a_checkpoint_of_an_earlier_position(ledger: App, keys: dict[str, str], tmp_path: Path) -> None:
    early = export(ledger, keys, tmp_path / "early.json", "--position", "4")
    assert (early["position"], early["events"]) == (4, 4)
    assert run(ledger, keys, "verify", "--against", str(tmp_path / "early.json"))[0] == 0
    as_owner(ledger, "DELETE FROM events WHERE position = 4")
    code, _, err = run(ledger, keys, "verify", "--against", str(tmp_path / "early.json"))
    assert code == 1 and "project KTP-C: 2 events missing" not in err
    assert "project KTP-C: 1 event missing since the checkpoint: version 1 (position 4)" in err
    code, _, err = run(ledger, keys, "checkpoint", "--position", "10")
    assert code == 2 and "position 10 is beyond the ledger's last, 9" in err


def test_the_same_position_gives_the_same_checkpoint(
    ledger: App, keys: dict[str, str], tmp_path: Path
) -> None:
    first = export(ledger, keys, tmp_path / "1.json")
    again = export(ledger, keys, tmp_path / "2.json")
    assert (tmp_path / "1.json").read_bytes() == (tmp_path / "2.json").read_bytes()
    assert first == again
    # Worked out from the events alone (the record forgotten), it is the same checkpoint.
    with ledger.database.engine.begin() as connection:
        connection.execute(text("DELETE FROM ledger_chain"))
    code, out, _ = run(ledger, keys, "checkpoint")
    assert code == 0 and json.loads(out) == first


# --- signatures ------------------------------------------------------------------------------------


def test_a_checkpoint_whose_fields_or_signature_were_edited_is_refused(
    ledger: App, keys: dict[str, str], tmp_path: Path
) -> None:
    anchor = export(ledger, keys, tmp_path / "anchor.json")
    # An owner who truncated the ledger and edits the anchor to match: the signature gives it away.
    forged = {**anchor, "events": 8}
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    code, _, err = run(ledger, keys, "verify", "--against", str(tmp_path / "forged.json"))
    assert code == 1 and "signature does not match its contents" in err
    value = anchor["signature"]["value"]
    flipped = {
        **anchor,
        "signature": {**anchor["signature"], "value": ("0" if value[0] != "0" else "1") + value[1:]},
    }
    (tmp_path / "flipped.json").write_text(json.dumps(flipped))
    code, out, err = run(
        ledger, keys, "verify", "--against", str(tmp_path / "flipped.json"), "--format", "json"
    )
    assert code == 1 and json.loads(out)["against"]["signature"] == "invalid"


def test_a_checkpoint_of_another_key_is_refused(ledger: App, keys: dict[str, str], tmp_path: Path) -> None:
    other_private, other_public, other_id = generate(tmp_path / "other.pem")
    other = {
        "KTPLEDGER_CHECKPOINT_KEY": str(other_private),
        "KTPLEDGER_CHECKPOINT_PUBLIC_KEY": str(other_public),
    }
    export(ledger, keys, tmp_path / "ours.json")
    theirs = export(ledger, other, tmp_path / "theirs.json")
    assert theirs["signature"]["key_id"] == other_id
    code, out, err = run(ledger, keys, "verify", "--against", str(tmp_path / "theirs.json"))
    assert code == 1 and f"the checkpoint names key {other_id}, the public key given is" in err
    code, _, err = run(
        ledger, keys, "verify", "--against", str(tmp_path / "ours.json"), "--public-key", str(other_public)
    )
    assert code == 1 and "it was not signed with this key" in err
    # The right public key alone (an auditor holds no private key) checks it.
    auditor = {"KTPLEDGER_CHECKPOINT_PUBLIC_KEY": keys["KTPLEDGER_CHECKPOINT_PUBLIC_KEY"]}
    code, out, err = run(ledger, auditor, "verify", "--against", str(tmp_path / "ours.json"))
    assert code == 0 and ": valid" in out, err


def test_unsigned_checkpoints(ledger: App, keys: dict[str, str], tmp_path: Path) -> None:
    code, _, err = run(ledger, {}, "checkpoint", "--out", str(tmp_path / "unsigned.json"))
    assert code == 0 and "warning: unsigned checkpoint" in err
    assert json.loads((tmp_path / "unsigned.json").read_text())["signature"] is None
    # With no key anywhere it is checked, and said to prove nothing of who made it.
    code, _, err = run(ledger, {}, "verify", "--against", str(tmp_path / "unsigned.json"))
    assert code == 0 and "cannot prove who made it" in err
    # Where a key is configured, an unsigned checkpoint is refused: anyone could have made it.
    code, _, err = run(ledger, keys, "verify", "--against", str(tmp_path / "unsigned.json"))
    assert code == 1 and "the checkpoint is unsigned, while a public key" in err
    # A signed one with no public key to check it proves nothing either.
    export(ledger, keys, tmp_path / "signed.json")
    code, _, err = run(ledger, {}, "verify", "--against", str(tmp_path / "signed.json"))
    assert code == 1 and "no public key is configured to check it" in err


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (None, "cannot read"),
        ("not json", "is not a ktpledger checkpoint"),
        ('{"format": "ktpledger-checkpoint/1", "position": 1}', "`events` must be a whole number"),
    ],
)
def test_a_bad_checkpoint_file_is_a_usage_error(
    ledger: App, keys: dict[str, str], tmp_path: Path, content: str | None, said: str
) -> None:
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content)
    code, _, err = run(ledger, keys, "verify", "--against", str(path))
    assert code == 2 and said in err


def test_a_key_that_cannot_be_used_is_named(ledger: App, tmp_path: Path) -> None:
    (tmp_path / "junk.pem").write_text("not a key")
    for env, said in (
        (
            {"KTPLEDGER_CHECKPOINT_KEY": str(tmp_path / "missing.pem")},
            "KTPLEDGER_CHECKPOINT_KEY: cannot read",
        ),
        ({"KTPLEDGER_CHECKPOINT_KEY": str(tmp_path / "junk.pem")}, "is not an unencrypted PEM private key"),
        ({"KTPLEDGER_CHECKPOINT_PUBLIC_KEY": str(tmp_path / "junk.pem")}, "is not a PEM public key"),
    ):
        code, _, err = run(ledger, env, "checkpoint")
        assert code == 2 and said in err, err
        code, _, err = run(ledger, env, "reconcile", A)
        assert code == 2 and said in err, err


def test_keygen_writes_a_private_key_only_its_owner_reads_and_never_overwrites(tmp_path: Path) -> None:
    out = tmp_path / "k.pem"
    result = CliRunner().invoke(cli, ["checkpoint", "keygen", "--out", str(out)])
    assert result.exit_code == 0 and f"KTPLEDGER_CHECKPOINT_KEY={out}" in result.stdout
    assert out.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "k.pem.pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    before = out.read_bytes()
    result = CliRunner().invoke(cli, ["checkpoint", "keygen", "--out", str(out)])
    assert result.exit_code == 2 and "a key is never overwritten" in result.stderr
    assert out.read_bytes() == before


def test_rebuild_makes_the_record_again(ledger: App, keys: dict[str, str], tmp_path: Path) -> None:
    anchor = export(ledger, keys, tmp_path / "anchor.json")
    # A damaged record: new checkpoints would disagree with the ledger (never hide a change).
    with ledger.database.engine.begin() as connection:
        connection.execute(text("UPDATE ledger_chain SET link = :l WHERE position = 9"), {"l": "0" * 64})
    code, out, _ = run(ledger, keys, "checkpoint")
    assert code == 0 and json.loads(out)["chain_head"] == "0" * 64
    code, _, err = run(ledger, keys, "verify", "--against", str(tmp_path / "anchor.json"))
    assert code == 0, err  # the ledger itself is intact
    code, out, _ = run(ledger, keys, "checkpoint", "rebuild")
    assert code == 0 and "recorded the chain of 9 events, to position 9" in out
    code, out, _ = run(ledger, keys, "checkpoint")
    assert json.loads(out) == anchor


def test_two_writers_extending_at_once_record_each_link_once(ledger: App) -> None:
    from ktpledger.adapters import chain_store
    from ktpledger.domain.anchor import GENESIS, links

    with ledger.database.read() as connection:
        found = list(links(GENESIS, chain_store.entries(connection)))
    with ledger.database.projection() as connection:
        chain_store.record(connection, found[:6])
        connection.commit()
    # The other writer read the record before the first committed: it records 1..9, 1..6 again.
    with ledger.database.projection() as connection:
        chain_store.record(connection, found)
        connection.commit()
    with ledger.database.read() as connection:
        assert list(chain_store.recorded(connection)) == [entry for entry, _ in found]
        assert chain_store.recorded_point(connection) == found[-1][1]
    assert ledger.checkpoints.extend() == found[-1][1]


def test_the_embedded_default_records_the_chain_after_appends(database_url: str) -> None:
    application = bootstrap(Settings(database_url=database_url))
    upgrade(application.database)
    application.ledger.append(HISTORY)
    application.close()  # waits for the background run the appends asked for
    with application.database.engine.connect() as connection:
        recorded = connection.execute(text("SELECT count(*), max(events) FROM ledger_chain")).one()
    assert tuple(recorded) == (9, 9)


def test_extend_records_the_chain_a_batch_at_a_time(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However many events wait, an extend holds and records at most `batch` links per
    transaction, and the record it leaves is the whole chain, as one extend of them all."""
    from ktpledger.adapters import chain_store
    from ktpledger.domain.anchor import GENESIS, links

    ledger = bootstrap(Settings(database_url=database_url))
    upgrade(ledger.database)
    ledger.ledger.append(HISTORY)
    ledger.close()  # its background extend done: nothing else writes the record below

    with ledger.database.read() as connection:
        whole = list(links(GENESIS, chain_store.entries(connection)))
    assert len(whole) == 9
    recorded_sizes: list[int] = []
    record = chain_store.record

    def counted(connection: Any, found: Any) -> None:
        recorded_sizes.append(len(found))
        record(connection, found)

    monkeypatch.setattr(chain_store, "record", counted)
    with ledger.database.projection() as connection:
        chain_store.forget(connection)
        connection.commit()
    assert ledger.checkpoints.extend(batch=4) == whole[-1][1]
    assert recorded_sizes == [4, 4, 1]
    with ledger.database.read() as connection:
        assert list(chain_store.recorded(connection)) == [entry for entry, _ in whole]
    assert ledger.checkpoints.extend(batch=4) == whole[-1][1]  # nothing new: nothing recorded
    assert recorded_sizes == [4, 4, 1]
