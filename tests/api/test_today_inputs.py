"""Bad input for the reader's day (`--today`, `?today=`, KTPLEDGER_TODAY, and the re-notify window):
a clear error naming the field, never a traceback, and nothing recorded is touched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ktpledger.bootstrap import App
from ktpledger.cli import app as cli
from ktpledger.settings import Settings
from tests.api.conftest import bearer
from tests.ledger.factory import PROJECT, offer


@pytest.mark.parametrize("day", ["2025-13-01", "yesterday", "2025-1-5", ""])
def test_a_bad_today_on_the_command_line_is_refused(tmp_path: Path, day: str) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    runner = CliRunner()
    source = tmp_path / "offer.jsonl"
    source.write_text(json.dumps(offer()) + "\n", encoding="utf-8")
    assert runner.invoke(cli, ["--db", url, "record", str(source)]).exit_code == 0
    result = runner.invoke(cli, ["--db", url, "alerts", PROJECT, "--today", day])
    assert result.exit_code == 1
    assert "R-40" in result.stderr and "today" in result.stderr and "Traceback" not in result.output
    again = runner.invoke(cli, ["--db", url, "events", PROJECT, "--format", "json"])
    assert again.exit_code == 0 and len(json.loads(again.stdout)) == 1


@pytest.mark.parametrize("path", ["/alerts?today=2025-02-30", "/projects?today=soon"])
def test_a_bad_today_over_http_is_a_422_naming_the_field(
    app: App, client: TestClient, tokens: dict[str, str], path: str
) -> None:
    assert all(r.status == "recorded" for r in app.ledger.append([offer()]))
    response = client.get(path, headers=bearer(tokens["viewer"]))
    assert response.status_code == 422
    assert response.json()["error"]["rule"] == "R-40"
    summary = client.get(f"/projects/{PROJECT}/summary?today=x", headers=bearer(tokens["viewer"]))
    assert summary.status_code == 422


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("KTPLEDGER_TODAY", "31/03/2025", "KTPLEDGER_TODAY must be a date as YYYY-MM-DD"),
        ("KTPLEDGER_RENOTIFY_AFTER_HOURS", "a day", "must be a number of hours"),
        ("KTPLEDGER_RENOTIFY_AFTER_HOURS", "-1", "between 0 and 8784"),
    ],
)
def test_bad_settings_are_refused_by_name(name: str, value: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        Settings.from_env({name: value})
    result = CliRunner().invoke(cli, ["alerts"], env={name: value})
    assert result.exit_code == 2 and says in result.stderr
