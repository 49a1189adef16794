"""`ktpledger demo`: the main job on the embedded default (issue 5)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ktpledger.cli import app as cli


def run_demo(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/ktpledger.db"
    result = CliRunner().invoke(cli, ["--db", url, "demo", "--reports", str(tmp_path / "reports")])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_demo_records_a_project_life_and_writes_the_reports(tmp_path: Path) -> None:
    output = run_demo(tmp_path)
    for expected in (
        "== Grant offer",
        "alert raised",
        "alert resolved",
        "Over budget: Travel & subsistence",
        "Reconciliation (final)",
        "balance due 7,626.58",
        "dashboard/login",
    ):
        assert expected in output, expected
    html = tmp_path / "reports" / "KTP-DEMO-01-reconciliation.html"
    pdf = tmp_path / "reports" / "KTP-DEMO-01-reconciliation.pdf"
    assert "KTP-DEMO-01" in html.read_text(encoding="utf-8")
    pypdf = pytest.importorskip("pypdf")
    text = "".join(page.extract_text() for page in pypdf.PdfReader(str(pdf)).pages)
    assert "KTP-DEMO-01" in text and "7626.58" in text.replace(",", "")


def test_running_the_demo_again_records_nothing_new(tmp_path: Path) -> None:
    run_demo(tmp_path)
    again = run_demo(tmp_path)
    assert " recorded" not in again.replace("records", "")
    assert "duplicate" in again and "balance due 7,626.58" in again
