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


def test_the_demos_figures_are_never_negative_and_its_alerts_do_not_flap(tmp_path: Path) -> None:
    import json

    output = run_demo(tmp_path)
    url = f"sqlite:///{tmp_path}/ktpledger.db"
    result = CliRunner().invoke(cli, ["--db", url, "reconcile", "KTP-DEMO-01", "--format", "json"])
    document = json.loads(result.stdout)
    assert all(not line["ineligible"].startswith("-") for line in document["lines"])
    assert not document["totals"]["ineligible"].startswith("-")
    # Each batch of events is one append: no alert is resolved and raised again inside one, and
    # the travel forecast is raised once in the whole story (hysteresis), not three times.
    for batch in output.split("\n== ")[1:]:
        resolved = [line for line in batch.splitlines() if "alert resolved" in line]
        raised = [line for line in batch.splitlines() if "alert raised" in line]
        for line in resolved:
            what = line.split(": ", 1)[1]  # "Forecast overspend, Travel & subsistence"
            kind, category = what.split(", ", 1)
            assert not [r for r in raised if f"{kind}: {category}" in r], batch
    assert output.count("alert raised    Forecast overspend: Travel & subsistence") == 1
    # After closure nothing that asks for no action stays open: only the reconciliation's findings.
    result = CliRunner().invoke(cli, ["--db", url, "alerts", "KTP-DEMO-01", "--format", "json"])
    assert {alert["kind"] for alert in json.loads(result.stdout)} == {"sub_limit"}
