"""`ktpledger import`: a finance office's spend export (CSV or XLSX) into the ledger through a
profile (docs/cli.md, "ktpledger import"); `--init` drafts the profile, `--dry-run` previews."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ktpledger.cli.common import FORMAT_OPTION, WAIT_OPTION, OutputFormat, pounds, print_json, render_table
from ktpledger.cli.root import Opened, recorder_of, refuse_unknown, wait_for_projections

if TYPE_CHECKING:
    from ktpledger.service.imports import ImportPlan

NOTE_WIDTH = 160  # characters of a row's note in the table (the JSON and the errors file say all)


def _usage(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _read(path: str, what: str) -> bytes:
    from ktpledger.service.imports import MAX_EXPORT_BYTES

    file = Path(path)
    try:
        size = file.stat().st_size
        if what == "export" and size > MAX_EXPORT_BYTES:
            raise _usage(
                f"R-30: {path} is {size / 1_048_576:.1f} MB, over the import's limit of "
                f"{MAX_EXPORT_BYTES // 1_048_576} MB: split the export by period and import each part"
            )
        return file.read_bytes()
    except OSError as error:
        raise _usage(f"cannot read the {what} {path}: {error.strerror or error}") from None


def register(app: typer.Typer, opened: Opened) -> None:
    """Add `import` to `app`."""

    @app.command("import")
    def import_export(
        ctx: typer.Context,
        file: str = typer.Argument(..., help="the export: a CSV or an XLSX workbook"),
        project: str | None = typer.Option(None, "--project", help="the project the spend is for"),
        profile: str | None = typer.Option(None, "--profile", help="the import profile (TOML)"),
        dry_run: bool = typer.Option(False, "--dry-run", help="show what would happen; record nothing"),
        output_format: OutputFormat = FORMAT_OPTION,
        errors: str | None = typer.Option(
            None,
            "--errors",
            help="where to write the rejected rows (default: <export>.errors.csv beside the export, "
            "when any row is rejected)",
        ),
        skip_rejected: bool = typer.Option(
            False, "--skip-rejected", help="record the other rows even when some are rejected"
        ),
        sheet: str | None = typer.Option(
            None, "--sheet", help="the workbook's sheet (default: the profile's)"
        ),
        init: bool = typer.Option(
            False, "--init", help="draft a profile from FILE's header and rows instead of importing"
        ),
        out: str | None = typer.Option(
            None, "--out", help="with --init: write the draft here (never over a file)"
        ),
        wait: bool = WAIT_OPTION,
    ) -> None:
        """Import a finance export's spend rows as events; exit 1 if any row is rejected (a real run
        then records nothing unless --skip-rejected), 2 for a bad profile or an unreadable file."""
        from ktpledger.domain.errors import RuleViolation
        from ktpledger.service.imports import ImportRefused, plan_import, run_import

        if init:
            draft(file, sheet, out)
            return
        if project is None or profile is None:
            raise _usage("import needs --project and --profile (or --init to draft a profile)")
        export = _read(file, "export")
        profile_bytes = _read(profile, "profile")
        try:
            profile_text = profile_bytes.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise _usage(f"the profile {profile} is not UTF-8") from None
        name = Path(file).name
        try:
            with opened(ctx) as application:
                refuse_unknown(application, project)  # naming the database read, as every read does
                if dry_run:
                    plan = plan_import(application.ledger, project, export, name, profile_text, sheet=sheet)
                else:
                    plan = run_import(
                        application.ledger,
                        project,
                        export,
                        name,
                        profile_text,
                        sheet=sheet,
                        skip_rejected=skip_rejected,
                        recorded_by=recorder_of(ctx, "import"),
                    )
                    wait_for_projections(application, wait)
        except ImportRefused as error:
            if output_format is OutputFormat.JSON:
                print_json({"error": {"rule": error.rule, "message": error.message, "field": error.field}})
            raise _usage(f"{error.rule}: {error.message}") from None
        except RuleViolation as error:  # an unknown project: input refused, as every read does
            if output_format is OutputFormat.JSON:
                print_json({"error": error.as_dict()})
            typer.echo(f"error: {error.rule}: {error.message}", err=True)
            raise typer.Exit(1) from None
        if output_format is OutputFormat.JSON:
            print_json(plan.to_json())
        else:
            show_plan(plan)
        if plan.rejected:
            write_errors(plan, file, errors)
            if not dry_run and not skip_rejected:
                typer.echo(
                    f"error: {plan.rejected} row(s) rejected: nothing was recorded. Fix them (see the errors "
                    "file) and import again, or use --skip-rejected to record the others",
                    err=True,
                )
            raise typer.Exit(1)


def draft(file: str, sheet: str | None, out: str | None) -> None:
    """`import --init`: the drafted profile on stdout or in `out` (never over an existing file)."""
    from ktpledger.service.imports import ImportRefused, draft_import_profile

    if out is not None and Path(out).exists():
        raise _usage(f"{out} already exists: --init never overwrites a file; choose another --out")
    export = _read(file, "export")
    try:
        text = draft_import_profile(export, sheet=sheet)
    except ImportRefused as error:
        raise _usage(f"{error.rule}: {error.message}") from None
    if out is None:
        sys.stdout.write(text)
        return
    try:
        with Path(out).open("x", encoding="utf-8") as target:
            target.write(text)
    except OSError as error:
        raise _usage(f"cannot write {out}: {error.strerror or error}") from None
    typer.echo(f"wrote a draft profile to {out}: fill in [cost_codes], then import with --dry-run", err=True)


def write_errors(plan: ImportPlan, export: str, errors: str | None) -> None:
    path = Path(errors) if errors is not None else Path(export).with_name(f"{Path(export).stem}.errors.csv")
    try:
        path.write_bytes(plan.errors_csv())
    except OSError as error:
        typer.echo(f"error: cannot write the rejected rows to {path}: {error.strerror or error}", err=True)
        return
    typer.echo(
        f"{plan.rejected} rejected row(s) written to {path}: fix them there and import that file", err=True
    )


def _note(plan_row_error: str) -> str:
    return plan_row_error if len(plan_row_error) <= NOTE_WIDTH else plan_row_error[: NOTE_WIDTH - 3] + "..."


def show_plan(plan: ImportPlan) -> None:
    """The plan for people: a row a line, then the totals and the counts."""

    rows = []
    for row in plan.rows:
        event = row.event or {}
        data = event.get("data", {})
        if row.error is not None:
            note = _note(f"{row.error.rule}: {row.error.message}")
        elif row.reason is not None:
            note = row.reason
        elif event.get("type") == "ClaimReversed":
            note = f"reverses {data.get('claim')}"
        else:
            note = ", ".join(data.get("tags", []))
        amount = data.get("amount")
        rows.append(
            (
                str(row.row),
                row.status,
                str(event.get("type", "")),
                event.get("date", ""),
                "" if amount is None else pounds(Decimal(amount)),
                row.category.value if row.category is not None else "",
                row.key or "",
                note,
            )
        )
    what = "dry run: nothing recorded" if plan.dry_run else "import"
    typer.echo(f"{plan.project}: {what} of {plan.file} with profile {plan.profile}")
    typer.echo(
        render_table(
            ("row", "fate", "event", "date", "amount", "category", "key", "note"), rows, numeric={0, 4}
        )
    )
    totals = [
        (total.category.value, pounds(total.claimed), pounds(total.reversed), pounds(total.net))
        for total in plan.categories()
    ]
    verb = "would add" if plan.dry_run or not plan.recorded_anything else "added"
    typer.echo("")
    if totals:
        typer.echo(f"spend it {verb}:")
        typer.echo(render_table(("category", "claimed", "reversed", "net"), totals, numeric={1, 2, 3}))
    typer.echo(
        f"parental leave: {pounds(plan.parental_leave)}; grant payments: {pounds(plan.grant_payments)}"
    )
    counts = ", ".join(f"{count} {status}" for status, count in plan.counts().items())
    typer.echo(f"rows: {counts or 'none below the header'}")
