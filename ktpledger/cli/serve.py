"""The HTTP API's commands: `serve` it, and the access `token`s that open it.

`register(app, opened)` adds both to a Typer app (tests/api/test_commands.py builds its own).
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

import typer

from ktpledger.cli.common import OutputFormat, render_table
from ktpledger.cli.root import Opened, settings_of

if TYPE_CHECKING:
    from ktpledger.bootstrap import App
    from ktpledger.serve_settings import ServeLimits

# `serve` runs the HTTP API, yet the command line does not import `ktpledger.api`: the entry
# points (command line, API, workers) are independent of each other (the layer contracts in
# pyproject.toml). So the API registers its server under this entry-point group in
# pyproject.toml, as `workers` registers its Celery dispatcher under `ktpledger.dispatchers`,
# and `serve` runs what is registered as `http`. That is a real run-time dependency, declared in
# the packaging metadata rather than hidden in an import string: what the command line relies on
# is the call's shape (`HttpServer`), not the API's modules.
SERVERS = "ktpledger.servers"


class HttpServer(Protocol):
    """Serve `application` on `host`:`port` within `limits`, until stopped."""

    def __call__(
        self, application: App, *, host: str, port: int, limits: ServeLimits, workers: int = 1
    ) -> None: ...


def http_server(name: str = "http") -> HttpServer:
    """The server registered as `name` in the `ktpledger.servers` entry-point group (exit 1 if none)."""
    from importlib.metadata import entry_points

    for entry in entry_points(group=SERVERS):
        if entry.name == name:
            server: HttpServer = entry.load()
            return server
    typer.echo(
        f"error: no '{name}' server is installed ({SERVERS} entry points): reinstall ktpledger", err=True
    )
    raise typer.Exit(1)


class RoleChoice(StrEnum):
    ADMIN = "admin"
    FINANCE = "finance"
    LMC = "lmc"
    VIEWER = "viewer"


TOKEN_FORMAT = typer.Option(OutputFormat.TABLE, "--format", help="table or json")


def register(app: typer.Typer, opened: Opened) -> None:
    """Add `serve` and `token create|list|revoke` to `app`."""

    @app.command()
    def serve(
        ctx: typer.Context,
        host: str = typer.Option("127.0.0.1", "--host", help="address to listen on"),
        port: int = typer.Option(8000, "--port", min=0, max=65535, help="port to listen on"),
        workers: int = typer.Option(
            1,
            "--workers",
            min=1,
            max=64,
            help="server processes sharing the port (each with its own limits and connections)",
        ),
        max_connections: int | None = typer.Option(
            None,
            "--max-connections",
            min=1,
            help="open connections at once [KTPLEDGER_MAX_CONNECTIONS: 1000]",
        ),
        head_timeout: float | None = typer.Option(
            None,
            "--head-timeout",
            min=0.001,
            help="seconds to send a request head [KTPLEDGER_HEAD_TIMEOUT: 10]",
        ),
        keep_alive_timeout: float | None = typer.Option(
            None,
            "--keep-alive-timeout",
            min=0.001,
            help="seconds an idle connection is kept [KTPLEDGER_KEEP_ALIVE_TIMEOUT: 5]",
        ),
        max_head_bytes: int | None = typer.Option(
            None, "--max-head-bytes", min=1, help="bytes of a request head [KTPLEDGER_MAX_HEAD_BYTES: 16384]"
        ),
        max_body_bytes: int | None = typer.Option(
            None, "--max-body-bytes", min=1, help="bytes of a request body [KTPLEDGER_MAX_BODY_BYTES: 4 MiB]"
        ),
        body_timeout: float | None = typer.Option(
            None,
            "--body-timeout",
            min=0.001,
            help="seconds for a body to arrive [KTPLEDGER_BODY_TIMEOUT: 60]",
        ),
        body_budget_bytes: int | None = typer.Option(
            None,
            "--body-budget-bytes",
            min=1,
            help="bytes of POST /events bodies read and parsed at once [KTPLEDGER_BODY_BUDGET_BYTES: 2x body]",
        ),
        body_wait: float | None = typer.Option(
            None,
            "--body-wait",
            min=0.001,
            help="seconds a body waits for its share of the budget, then 503 [KTPLEDGER_BODY_WAIT: 5]",
        ),
    ) -> None:
        """The HTTP API (OpenAPI at /docs) and the LMC dashboard (/dashboard), with limits on
        connections, timeouts and sizes (README.md, "A bounded server")."""
        run = http_server()
        settings = settings_of(ctx)
        try:
            limits = settings.limits.with_values(
                max_connections=max_connections,
                head_timeout=head_timeout,
                keep_alive_timeout=keep_alive_timeout,
                max_head_bytes=max_head_bytes,
                max_body_bytes=max_body_bytes,
                body_timeout=body_timeout,
                body_budget_bytes=body_budget_bytes,
                body_wait=body_wait,
            )
        except ValueError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(2) from None
        ctx.find_root().obj = settings.with_limits(limits)
        with opened(ctx) as application:
            typer.echo(f"ktpledger: API and dashboard on http://{host}:{port}/ (docs at /docs)", err=True)
            run(application, host=host, port=port, limits=limits, workers=workers)

    token_app = typer.Typer(help="Access tokens of the HTTP API and the dashboard.", no_args_is_help=True)
    app.add_typer(token_app, name="token")

    @token_app.command("create")
    def token_create(
        ctx: typer.Context,
        role: RoleChoice = typer.Option(..., "--role", help="admin, finance, lmc or viewer"),
        project: list[str] = typer.Option(
            [], "--project", help="a project the token may use (repeat it); omitted: every project"
        ),
        label: str | None = typer.Option(None, "--label", help="who or what the token is for"),
        output_format: OutputFormat = TOKEN_FORMAT,
    ) -> None:
        """Create a token; it is printed once, and only its SHA-256 hash is stored."""
        from ktpledger.adapters.tokens import parse_projects
        from ktpledger.service.access import create_token

        try:
            grant = parse_projects(project)
        except ValueError as error:
            typer.echo(f"error: --project: {error}", err=True)
            raise typer.Exit(2) from None
        if label is not None and len(label) > 200:
            typer.echo("error: --label is at most 200 characters", err=True)
            raise typer.Exit(2)
        with opened(ctx) as application:
            token = create_token(application.database, role.value, project, label)
        if output_format is OutputFormat.JSON:
            sys.stdout.write(json.dumps({"token": token}) + "\n")
            return
        typer.echo(token)
        typer.echo(
            f"role {role.value}, projects {'all' if grant == '*' else grant.replace(',', ', ')}"
            + (f", label {label!r}" if label else "")
            + ". Shown once: only its hash is stored.",
            err=True,
        )

    @token_app.command("list")
    def token_list(ctx: typer.Context, output_format: OutputFormat = TOKEN_FORMAT) -> None:
        """Every token's id, role, projects and label (never the token or its hash)."""
        from ktpledger.adapters.tokens import list_tokens

        with opened(ctx, write=False) as application:
            tokens = list_tokens(application.database)
        if output_format is OutputFormat.JSON:
            sys.stdout.write(json.dumps(tokens, indent=2) + "\n")
            return
        if not tokens:
            typer.echo("no tokens")
            return
        rows: list[tuple[str, ...]] = [
            (
                str(item["id"]),
                str(item["role"]),
                str(item["projects"]),
                str(item["label"] or ""),
                str(item["created_at"])[:19],
                "revoked" if item["revoked_at"] else "active",
            )
            for item in tokens
        ]
        typer.echo(render_table(("id", "role", "projects", "label", "created", "status"), rows, numeric={0}))

    @token_app.command("revoke")
    def token_revoke(ctx: typer.Context, token_id: int = typer.Argument(..., help="the token's id")) -> None:
        """Revoke a token by its id (see `token list`): it stops working at once (for POST /events,
        within KTPLEDGER_TOKEN_CACHE_SECONDS, 1 s, in a server that used it just before)."""
        from ktpledger.adapters.tokens import revoke_token

        with opened(ctx) as application:
            revoked = revoke_token(application.database, token_id)
        if not revoked:
            typer.echo(f"error: no active token with id {token_id}", err=True)
            raise typer.Exit(1)
        typer.echo(f"token {token_id} revoked")
