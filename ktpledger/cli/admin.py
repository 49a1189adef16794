"""The administrator's commands on the database: its schema and grants (`db`), and signed
`checkpoint`s of the whole ledger."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ktpledger.cli.common import print_or_write
from ktpledger.cli.errors import chain_not_recorded_warned
from ktpledger.cli.root import Opened


def register(app: typer.Typer, opened: Opened) -> None:
    """Add `db upgrade|grant` and `checkpoint [keygen|rebuild]` to `app`."""
    db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
    app.add_typer(db_app, name="db")

    @db_app.command("upgrade")
    def db_upgrade(
        ctx: typer.Context,
        grant: list[str] = typer.Option(
            [], "--grant", help="PostgreSQL: then give this role the service's privileges (repeatable)"
        ),
    ) -> None:
        """Create or migrate the schema (Alembic, to head). On PostgreSQL, run it as the tables' owner:
        every role granted the service's privileges before (and each --grant ROLE) is granted them again."""
        from ktpledger.adapters.roles import RoleError
        from ktpledger.service.schema import renew_grants, upgrade

        with opened(ctx, migrate=False) as application:
            before, after = upgrade(application.database)
            typer.echo(f"schema at {after}" + ("" if before == after else f" (was {before or 'empty'})"))
            if not application.database.has_roles:
                if grant:
                    typer.echo("error: --grant: roles are PostgreSQL's; an SQLite ledger has none", err=True)
                    raise typer.Exit(2)
                return
            try:
                renewed = renew_grants(application.database, grant)
            except RoleError as error:
                typer.echo(f"error: {error}", err=True)
                raise typer.Exit(1) from None
            for role in renewed:
                typer.echo(f"granted {role} the service's privileges (INSERT and SELECT on the ledger)")

    @db_app.command("grant")
    def db_grant(
        ctx: typer.Context, role: str = typer.Argument(..., help="the role the service connects as")
    ) -> None:
        """PostgreSQL, as the tables' owner after `db upgrade`: give ROLE exactly what the service needs,
        INSERT and SELECT on the ledger (never UPDATE, DELETE, TRUNCATE or ALTER), read and write on the
        projections, tokens and notifications. Prints the statements run."""
        from ktpledger.adapters.roles import RoleError
        from ktpledger.service.schema import grant_service_role

        with opened(ctx, write=False) as application:
            try:
                statements = grant_service_role(application.database, role)
            except RoleError as error:
                typer.echo(f"error: {error}", err=True)
                raise typer.Exit(1) from None
        for statement in statements:
            typer.echo(statement + ";")
        typer.echo(f"granted {role} the service's privileges", err=True)

    checkpoint_app = typer.Typer(
        help="Signed checkpoints of the whole ledger (print one with no subcommand).",
        invoke_without_command=True,
    )
    app.add_typer(checkpoint_app, name="checkpoint")

    @checkpoint_app.callback()
    def checkpoint(
        ctx: typer.Context,
        out: str | None = typer.Option(
            None, "--out", help="write the checkpoint to this file instead of stdout"
        ),
        position: int | None = typer.Option(
            None, "--position", min=0, help="the checkpoint at this position (default: the last)"
        ),
    ) -> None:
        """The checkpoint of the whole ledger now, as JSON: position, events, chain head, and an Ed25519
        signature with KTPLEDGER_CHECKPOINT_KEY (unsigned without one). Keep it outside the database:
        `ktpledger verify --against FILE` finds any deletion, truncation or rewrite since."""
        if ctx.invoked_subcommand is not None:
            return
        from ktpledger.service.checkpoints import UnknownPosition

        with opened(ctx, write=False) as application:
            with chain_not_recorded_warned():
                application.checkpoints.extend()  # recorded first, so reports made later read it off the record
            try:
                made = application.checkpoints.now(position)
            except UnknownPosition as error:
                typer.echo(f"error: --position: {error}", err=True)
                raise typer.Exit(2) from None
        body = json.dumps(made.to_json(), indent=2) + "\n"
        if made.signature is None:
            typer.echo(
                "warning: unsigned checkpoint: set KTPLEDGER_CHECKPOINT_KEY (make a key with "
                "`ktpledger checkpoint keygen --out FILE`) so it proves who made it",
                err=True,
            )
        if print_or_write(body, out):
            typer.echo(f"wrote {out}: position {made.point.position}, {made.point.events} events", err=True)

    @checkpoint_app.command("keygen")
    def checkpoint_keygen(
        out: str = typer.Option(
            ..., "--out", help="the private key's file (mode 0600); the public key goes to FILE.pub"
        ),
    ) -> None:
        """Make an Ed25519 key pair for signing checkpoints. Keep the private key off the database's
        machine and its backups; give auditors the public key."""
        from ktpledger.adapters.signing import KeyFileError
        from ktpledger.adapters.signing import generate as generate_key_pair

        try:
            private, public, key = generate_key_pair(Path(out))
        except KeyFileError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(2) from None
        typer.echo(f"key {key}: private key {private} (mode 0600), public key {public}")
        typer.echo(f"export KTPLEDGER_CHECKPOINT_KEY={private.resolve()}")
        typer.echo(f"export KTPLEDGER_CHECKPOINT_PUBLIC_KEY={public.resolve()}")

    @checkpoint_app.command("rebuild")
    def checkpoint_rebuild(ctx: typer.Context) -> None:
        """Make the record of the ledger-wide chain (ledger_chain) again from the ledger as it stands,
        after it was damaged (on PostgreSQL, as the tables' owner: the service's role cannot delete it)."""
        from ktpledger.service.checkpoints import Checkpoints

        with opened(ctx, write=False) as application:
            point = Checkpoints(application.database).rebuild()
        typer.echo(f"recorded the chain of {point.events} events, to position {point.position}")
