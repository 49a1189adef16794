"""Every report carries the signed checkpoint of the whole ledger at the position it was made from,
and reports of the same position stay byte-identical in every format (issue 11, item 5)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import text
from typer.testing import CliRunner

from ktpledger.adapters.signing import generate
from ktpledger.bootstrap import App, bootstrap
from ktpledger.cli import app as cli
from ktpledger.domain.anchor import parse_checkpoint
from ktpledger.reports import FORMATS, render
from ktpledger.service.checkpoints import verify_against
from ktpledger.service.schema import upgrade
from ktpledger.service.statement_models import ReconciliationStatement
from ktpledger.service.statements import claim_pack, reconciliation
from ktpledger.settings import Settings
from tests.ledger.factory import claim, offer
from tests.reports import scenarios
from tests.reports.conftest import statement
from tests.reports.long_csv import long_csv

P, OTHER = "KTP-0042", "KTP-OTHER"


@pytest.fixture
def signed(database_url: str, tmp_path: Path) -> Iterator[tuple[App, App]]:
    """(a writable App, a read-only App) on one ledger, both signing with the same key."""
    private, public, _ = generate(tmp_path / "key.pem")
    settings = Settings(
        database_url=database_url, checkpoint_key=str(private), checkpoint_public_key=str(public)
    )
    writer = bootstrap(settings, wakeup=Quiet())  # no background thread extending the record meanwhile
    upgrade(writer.database)
    reader = bootstrap(settings, read_only=True)
    scenarios.record(writer, [offer(OTHER), *scenarios.lifecycle(), claim("o1", "10.00", project=OTHER)])
    yield writer, reader
    reader.close()
    writer.close()


class Quiet:
    def projects_changed(self, projects: set[str]) -> None:
        return None


def made(app: App) -> tuple[dict[str, Any], dict[str, Any]]:
    return (
        reconciliation(app.database, P, checkpoints=app.checkpoints),
        claim_pack(app.database, P, "2025Q1", checkpoints=app.checkpoints),
    )


def test_reports_carry_a_signed_checkpoint_of_their_position(signed: tuple[App, App]) -> None:
    writer, _ = signed
    for document in made(writer):
        checkpoint = document["checkpoint"]
        # The whole ledger at the report's position: the other project's first event is in it.
        position = document["ledger"]["position"]
        assert checkpoint["position"] == position and checkpoint["events"] == position
        assert checkpoint["signature"]["algorithm"] == "Ed25519"
        report = verify_against(writer.database, parse_checkpoint(document), writer.verifier)
        assert report.ok and report.signature == "valid" and report.after == 1


def test_the_same_position_gives_the_same_bytes_however_the_checkpoint_was_found(
    signed: tuple[App, App],
) -> None:
    writer, reader = signed
    # The reader works the chain out from the events (it never writes the record) ...
    with writer.database.engine.begin() as connection:
        connection.execute(text("DELETE FROM ledger_chain"))
    from_events = made(reader)
    with writer.database.read() as connection:
        assert connection.execute(text("SELECT count(*) FROM ledger_chain")).scalar_one() == 0
    # ... read off the record once a writer has extended it; and later appends elsewhere in the
    # ledger change neither.
    writer.checkpoints.extend()
    from_record = made(reader)
    writer.ledger.append([claim("o2", "20.00", project=OTHER)])
    writer.checkpoints.extend()
    later = made(writer)
    assert from_events[0]["checkpoint"]["signature"] is not None
    for kind, index in (("reconciliation", 0), ("claim_pack", 1)):
        for fmt in FORMATS:
            first = render(statement(kind, from_events[index]), fmt)
            assert render(statement(kind, from_record[index]), fmt) == first, (kind, fmt)
            assert render(statement(kind, later[index]), fmt) == first, (kind, fmt)


def about_rows(data: bytes) -> dict[str, str]:
    """The CSV's `about` section as `field: value`."""
    return {row["field"]: row["value"] for row in long_csv(data) if row["section"] == "about"}


def test_every_format_shows_the_checkpoint(signed: tuple[App, App]) -> None:
    writer, _ = signed
    for kind, document in zip(("reconciliation", "claim_pack"), made(writer), strict=True):
        checkpoint = document["checkpoint"]
        head, signature = checkpoint["chain_head"], checkpoint["signature"]["value"]
        rows = about_rows(render(statement(kind, document), "csv"))
        assert rows["checkpoint_chain_head"] == head and rows["checkpoint_signature"] == signature
        assert rows["checkpoint_events"] == str(checkpoint["events"])
        assert rows["checkpoint_key_id"] == checkpoint["signature"]["key_id"]
        book = load_workbook(io.BytesIO(render(statement(kind, document), "xlsx")))
        about = {str(row[0].value): row[1].value for row in book["About"].iter_rows()}
        assert about["Checkpoint chain head"] == head and about["Checkpoint signature"] == signature
        assert about["Checkpoint position"] == checkpoint["position"]
        page = render(statement(kind, document), "html").decode()
        assert head in page and signature in page and "signed (Ed25519)" in page
        pdf = "".join(
            page.extract_text()
            for page in PdfReader(io.BytesIO(render(statement(kind, document), "pdf"))).pages
        ).replace("\n", "")
        assert head in pdf and signature in pdf


def test_an_unsigned_checkpoint_says_so(database_url: str) -> None:
    application = bootstrap(Settings(database_url=database_url))
    upgrade(application.database)
    try:
        scenarios.record(application, scenarios.lifecycle())
        document = reconciliation(application.database, P, checkpoints=application.checkpoints)
        assert document["checkpoint"]["signature"] is None
        assert "UNSIGNED" in render(ReconciliationStatement.from_json(document), "html").decode()
        rows = about_rows(render(ReconciliationStatement.from_json(document), "csv"))
        assert rows["checkpoint_signature"] == "unsigned"
    finally:
        application.close()


def test_a_report_is_an_anchor_for_verify_against(signed: tuple[App, App], tmp_path: Path) -> None:
    writer, _ = signed
    env = {
        "KTPLEDGER_CHECKPOINT_KEY": str(writer.settings.checkpoint_key),
        "KTPLEDGER_CHECKPOINT_PUBLIC_KEY": str(writer.settings.checkpoint_public_key),
    }
    url = writer.settings.database_url
    result = CliRunner().invoke(
        cli, ["--db", url, "reconcile", P, "--out", str(tmp_path / "r.json")], env=env
    )
    assert result.exit_code == 0, result.stderr
    document = json.loads((tmp_path / "r.json").read_text())
    assert document["checkpoint"] == made(writer)[0]["checkpoint"]
    result = CliRunner().invoke(cli, ["--db", url, "verify", "--against", str(tmp_path / "r.json")], env=env)
    assert result.exit_code == 0, result.stderr
    writer.checkpoints.extend()  # as the background thread or the sweeper would meanwhile
    # The other project's first event, deleted: before the report's position, so the report finds it.
    with writer.database.engine.begin() as connection:
        if writer.database.dialect == "postgresql":
            connection.execute(text("ALTER TABLE events DISABLE TRIGGER USER"))
        else:
            connection.execute(text("DROP TRIGGER events_refuse_delete"))
        connection.execute(text("DELETE FROM events WHERE project = :p AND version = 1"), {"p": OTHER})
    result = CliRunner().invoke(cli, ["--db", url, "verify", "--against", str(tmp_path / "r.json")], env=env)
    assert result.exit_code == 1
    assert f"project {OTHER}: 1 event missing since the checkpoint: version 1 (position 1)" in result.stderr
