"""`register(app, opened)`: the `token` and `serve` commands on a Typer app built as cli.py builds
its own (a root callback that puts the settings on the context), with cli.py's `opened`."""

from __future__ import annotations

import json
from typing import Any

import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ktpledger import cli
from ktpledger.adapters.tokens import hash_token
from ktpledger.api.app import create_app
from ktpledger.bootstrap import bootstrap
from ktpledger.cli.root import opened
from ktpledger.cli.serve import register
from ktpledger.serve_settings import ServeLimits
from ktpledger.service.access import authenticate
from ktpledger.settings import Settings


def command_line() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

    @app.callback()
    def configure(ctx: typer.Context, db: str = typer.Option(..., "--db")) -> None:
        ctx.obj = Settings(database_url=db)

    register(app, opened)
    return app


def run(url: str, *args: str) -> Any:
    return CliRunner().invoke(command_line(), ["--db", url, *args])


def test_token_create_json_prints_the_token_once_and_stores_its_hash(sqlite_url: str) -> None:
    result = run(
        sqlite_url,
        "token",
        "create",
        "--role",
        "finance",
        "--project",
        "KTP-0042",
        "--project",
        "KTP-0107",
        "--label",
        "Finance office",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    token = json.loads(result.stdout)["token"]
    application = bootstrap(Settings(database_url=sqlite_url))
    try:
        found = authenticate(application.database, token)
        assert found is not None
        assert found.role.value == "finance"
        assert found.projects == frozenset({"KTP-0042", "KTP-0107"})
        assert found.label == "Finance office"
        listed = run(sqlite_url, "token", "list", "--format", "json")
        assert token not in listed.stdout and hash_token(token) not in listed.stdout
        assert json.loads(listed.stdout)[0]["projects"] == "KTP-0042,KTP-0107"
    finally:
        application.close()


def test_token_create_for_every_project_and_revoke(sqlite_url: str) -> None:
    result = run(sqlite_url, "token", "create", "--role", "admin")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[0]
    application = bootstrap(Settings(database_url=sqlite_url))
    try:
        found = authenticate(application.database, token)
        assert found is not None and found.projects is None
        table = run(sqlite_url, "token", "list")
        assert "admin" in table.stdout and "active" in table.stdout
        assert run(sqlite_url, "token", "revoke", str(found.token_id)).exit_code == 0
        assert authenticate(application.database, token) is None
        assert run(sqlite_url, "token", "revoke", str(found.token_id)).exit_code == 1
    finally:
        application.close()


@pytest.mark.parametrize(
    "args",
    [
        ("token", "create", "--role", "superuser"),
        ("token", "create"),
        ("token", "create", "--role", "viewer", "--project", "not a project"),
        ("token", "create", "--role", "viewer", "--format", "yaml"),
    ],
)
def test_token_create_usage_errors(sqlite_url: str, args: tuple[str, ...]) -> None:
    assert run(sqlite_url, *args).exit_code == 2


def test_serve_runs_the_bounded_server_on_the_app(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_run(app: Any, **options: Any) -> None:
        seen.update(options)
        with TestClient(app) as client:
            seen["health"] = client.get("/health").json()

    from ktpledger.api import server

    monkeypatch.setattr(server, "run", fake_run)
    monkeypatch.setenv("KTPLEDGER_BODY_WAIT", "2.5")
    result = CliRunner().invoke(
        cli.app,
        ["--db", sqlite_url, "serve", "--port", "8123", "--max-connections", "300", "--head-timeout", "3"],
    )
    assert result.exit_code == 0, result.output
    assert seen["host"] == "127.0.0.1" and seen["port"] == 8123
    assert seen["limits"] == ServeLimits(max_connections=300, head_timeout=3.0, body_wait=2.5)
    assert seen["health"] == {"status": "ok"}


@pytest.mark.parametrize(
    ("args", "environment", "named"),
    [
        (["--max-connections", "0"], {}, "--max-connections"),
        (["--head-timeout", "soon"], {}, "--head-timeout"),
        ([], {"KTPLEDGER_MAX_CONNECTIONS": "lots"}, "KTPLEDGER_MAX_CONNECTIONS must be a whole number"),
        ([], {"KTPLEDGER_BODY_TIMEOUT": "-1"}, "KTPLEDGER_BODY_TIMEOUT must be a number of seconds above 0"),
        ([], {"KTPLEDGER_MAX_HEAD_BYTES": "1.5"}, "KTPLEDGER_MAX_HEAD_BYTES must be a whole number"),
        (
            ["--max-body-bytes", "1000", "--body-budget-bytes", "999"],
            {},
            "KTPLEDGER_BODY_BUDGET_BYTES (--body-budget-bytes) (999) must be at least",
        ),
        ([], {"KTPLEDGER_BODY_BUDGET_BYTES": "1000"}, "must be at least KTPLEDGER_MAX_BODY_BYTES"),
    ],
)
def test_serve_refuses_limits_that_cannot_work(
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    environment: dict[str, str],
    named: str,
) -> None:
    from ktpledger.api import server

    monkeypatch.setattr(server, "run", lambda *_a, **_k: pytest.fail("served with limits that cannot work"))
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli.app, ["--db", sqlite_url, "serve", *args])
    assert result.exit_code == 2, result.output
    assert named in result.output


def test_max_body_alone_moves_the_default_budget_with_it() -> None:
    limits = ServeLimits().with_values(max_body_bytes=10 * 1024 * 1024)
    assert limits.body_budget == 20 * 1024 * 1024
    assert ServeLimits().body_budget == 8 * 1024 * 1024


def test_create_app_from_settings_closes_what_it_built(sqlite_url: str) -> None:
    from ktpledger.service.schema import upgrade

    application = bootstrap(Settings(database_url=sqlite_url))
    upgrade(application.database)
    application.close()
    with TestClient(create_app(settings=Settings(database_url=sqlite_url))) as client:
        assert client.get("/health").status_code == 200
