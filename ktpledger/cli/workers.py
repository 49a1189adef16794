"""The projections' machinery: `replay` them, the `projection` quarantine, and the Celery `worker`
and `beat` processes (run in this process's place, never imported: `ktpledger` never imports
`workers` or Celery)."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import typer

from ktpledger.cli.common import FORMAT_OPTION, OutputFormat, print_json, render_table
from ktpledger.cli.errors import refuses_input
from ktpledger.cli.root import Opened, settings_of


def register(app: typer.Typer, opened: Opened) -> None:
    """Add `replay`, `projection status|retry`, `worker` and `beat` to `app`."""

    @app.command()
    def replay(ctx: typer.Context) -> None:
        """Rebuild every projection from the ledger alone."""
        with opened(ctx) as application:
            started = time.perf_counter()
            events_read, projects = application.projector.replay()
            took = time.perf_counter() - started
        typer.echo(f"replayed {events_read} events of {projects} projects in {took:.2f} s")

    projection_app = typer.Typer(
        help="Quarantined projections: a project whose recorded events cannot be folded.",
        no_args_is_help=True,
    )
    app.add_typer(projection_app, name="projection")

    @projection_app.command("status")
    def projection_status(ctx: typer.Context, output_format: OutputFormat = FORMAT_OPTION) -> None:
        """The quarantined projects, each with the row that stopped its projection and why, and how
        many events the other projections have still to fold in. Exit 1 if any is quarantined."""

        with opened(ctx, write=False) as application:
            failed = application.projector.quarantined()
            behind = application.projector.behind()
        if output_format is OutputFormat.JSON:
            print_json({"quarantined": failed, "behind": behind})
        elif not failed:
            typer.echo(f"no projection is quarantined; {behind} events still to fold in")
        else:
            rows = [
                (
                    item["project"],
                    str(item["version"]),
                    f"v{item['failed_version']} (position {item['failed_position']})",
                    item["since"][:19].replace("T", " "),
                )
                for item in failed
            ]
            typer.echo(
                f"{len(failed)} quarantined; the other projections have {behind} events still to fold in"
            )
            typer.echo(render_table(("project", "folded to", "stopped at", "since (UTC)"), rows, numeric={1}))
            for item in failed:
                typer.echo(f"{item['project']}: {item['error']}")
        if failed:
            raise typer.Exit(1)

    @projection_app.command("retry")
    @refuses_input
    def projection_retry(
        ctx: typer.Context,
        project: str | None = typer.Argument(None, help="the project to refold from its whole stream"),
        every: bool = typer.Option(False, "--all", help="every quarantined project"),
        output_format: OutputFormat = FORMAT_OPTION,
    ) -> None:
        """Refold a project's projection from its whole stream, as replay does for one project: if it
        folds now, it is healthy again and its projection_failed alert is resolved; if not, it stays
        quarantined with the new error (exit 1). With --all, every quarantined project."""
        if (project is None) == (not every):
            typer.echo("error: give a PROJECT or --all (not both)", err=True)
            raise typer.Exit(2)
        with opened(ctx) as application:
            results = application.projector.retry(None if every else [project or ""])
        if output_format is OutputFormat.JSON:
            print_json([result.to_json() for result in results])
        elif not results:
            typer.echo("no projection is quarantined")
        else:
            for result in results:
                if result.error is None:
                    was = "was quarantined; " if result.was_failed else ""
                    typer.echo(f"{result.project}: {was}folds now, projected to version {result.version}")
                else:
                    typer.echo(f"{result.project}: still quarantined, projected to version {result.version}")
        failed = [result.error for result in results if result.error is not None]
        for error in failed:
            typer.echo(f"error: {error.rule}: {error.message}", err=True)
        if failed:
            raise typer.Exit(1)

    @app.command()
    def worker(
        ctx: typer.Context,
        concurrency: int = typer.Option(
            1, "--concurrency", "-c", min=1, max=64, help="pool processes (prefork)"
        ),
        loglevel: str = typer.Option("info", "--loglevel", help="debug, info, warning or error"),
        hostname: str | None = typer.Option(None, "--hostname", help="a unique node name"),
        pool: str = typer.Option(
            "auto",
            "--pool",
            help="solo (tasks in this process), prefork or threads; auto: solo for -c 1, else prefork",
        ),
    ) -> None:
        """A Celery worker for the projection, alert and notification tasks."""
        if pool == "auto":
            # A catch-up is short database work: on a small machine one process per core with the solo
            # pool beats a prefork pool, whose per-task hand-off costs more than the task.
            pool = "solo" if concurrency == 1 else "prefork"
        if pool not in ("prefork", "solo", "threads"):
            typer.echo(f"error: --pool must be prefork, solo or threads, got {pool!r}", err=True)
            raise typer.Exit(2)
        arguments = [
            "worker",
            "--pool",
            pool,
            "-Q",
            "ktpledger",
            "-c",
            str(concurrency),
            "--loglevel",
            loglevel,
            "--without-gossip",
            "--without-mingle",
        ]
        if hostname:
            arguments += ["--hostname", hostname]
        celery_command(ctx, *arguments)

    @app.command()
    def beat(
        ctx: typer.Context,
        schedule: str = typer.Option(
            str(Path(tempfile.gettempdir()) / "ktpledger-beat-schedule"),
            "--schedule",
            help="beat's state file",
        ),
        loglevel: str = typer.Option("info", "--loglevel"),
    ) -> None:
        """The one Celery beat: the sweeper and notification retries."""
        celery_command(ctx, "beat", "--schedule", schedule, "--loglevel", loglevel)


def celery_command(ctx: typer.Context, *arguments: str) -> None:
    """Run Celery for `workers.app` in this process's place, with the library's settings."""
    settings = settings_of(ctx)
    if settings.broker_url is None:
        typer.echo("error: set KTPLEDGER_BROKER_URL (e.g. redis://127.0.0.1:6379/0) to run workers", err=True)
        raise typer.Exit(2)
    command = [sys.executable, "-m", "celery", "-A", "workers.app", *arguments]
    os.execvpe(command[0], command, settings.child_environment())
