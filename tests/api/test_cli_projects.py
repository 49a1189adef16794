"""`ktpledger projects` (issue 13, item 8): the CLI twin of `GET /projects`, its JSON byte for byte
the body an admin token reads, its table every project, on each backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ktpledger.bootstrap import App
from ktpledger.cli import app as cli
from tests.api import demo
from tests.api.conftest import DEMO_TODAY, bearer


def run(*args: str) -> tuple[int, bytes, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout_bytes, result.stderr


@pytest.mark.parametrize("today", [DEMO_TODAY.isoformat(), "2026-05-01"])
def test_json_is_the_body_of_get_projects_for_an_admin(
    app: App, client: TestClient, tokens: dict[str, str], recorded: object, database_url: str, today: str
) -> None:
    body = client.get(f"/projects?today={today}", headers=bearer(tokens["admin"])).content
    code, out, _ = run("--db", database_url, "projects", "--today", today, "--format", "json")
    assert code == 0
    assert out == body + b"\n"
    assert {row["project"] for row in json.loads(body)} == {demo.MAIN, demo.SECOND, demo.CLOSED}


def test_the_table_lists_every_project(app: App, recorded: object, database_url: str) -> None:
    code, out, _ = run("--db", database_url, "projects", "--today", DEMO_TODAY.isoformat())
    assert code == 0
    text = out.decode()
    assert f"3 projects, judged as of {DEMO_TODAY.isoformat()}" in text
    for project in (demo.MAIN, demo.SECOND, demo.CLOSED):
        assert project in text
    assert "closed" in text and "open" in text


def test_an_empty_ledger(app: App, database_url: str) -> None:
    code, out, _ = run("--db", database_url, "projects", "--today", DEMO_TODAY.isoformat())
    assert code == 0 and out == b"no projects\n"
    code, out, _ = run("--db", database_url, "projects", "--format", "json")
    assert code == 0 and out == b"[]\n"


@pytest.mark.parametrize("today", ["2025-13-01", "30/06/2025", "1900-01-01"])
def test_a_bad_today_is_refused_with_its_rule(app: App, database_url: str, today: str) -> None:
    code, out, error = run("--db", database_url, "projects", "--today", today)
    assert code == 1 and out == b""
    assert error.startswith("error: R-40: ")
    code, out, _ = run("--db", database_url, "projects", "--today", today, "--format", "json")
    assert code == 1 and json.loads(out)["error"]["rule"] == "R-40"


def test_a_read_never_creates_a_database(tmp_path: Path) -> None:
    path = tmp_path / "nothing-here.db"
    code, _, error = run("--db", f"sqlite:///{path}", "projects")
    assert code == 1 and "error" in error
    assert not path.exists()


def test_non_ascii_text_is_written_as_the_api_writes_it(
    app: App, client: TestClient, tokens: dict[str, str], database_url: str
) -> None:
    from tests.ledger.factory import offer

    results = app.ledger.append([offer("KTP-E1", title="Café — “vision” £ 🥐", business="Crème Ltd")])
    assert results[0].status == "recorded", results[0].to_json()
    body = client.get("/projects?today=2025-06-30", headers=bearer(tokens["admin"])).content
    code, out, _ = run("--db", database_url, "projects", "--today", "2025-06-30", "--format", "json")
    assert code == 0 and out == body + b"\n"
    assert "🥐".encode() in out
