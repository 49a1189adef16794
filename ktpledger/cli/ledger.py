"""The ledger's own commands: `record` events, list a project's `events`, `verify` the chains."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from ktpledger.cli.common import FORMAT_OPTION, WAIT_OPTION, OutputFormat, print_json, render_table
from ktpledger.cli.errors import refuses_input
from ktpledger.cli.root import Opened, recorder_of, refuse_unknown, wait_for_projections

if TYPE_CHECKING:
    from ktpledger.domain.anchor import Checkpoint
    from ktpledger.service.checkpoints import AnchorReport
    from ktpledger.service.ledger import AppendResult, Ledger
    from ktpledger.service.projection_check import ProjectionCheck


# Events per `ledger.append` in `record`: one batch of events and results is held at a time.
# An append decides every project it touched, at a cost per project: 20,000 events over 1,000
# projects recorded 35% slower in batches of 2,000 than in one append, and as fast in batches of
# 10,000, which hold some 15 MB more (bench/record_memory.py, 2026-12-05; then each append also
# caught up the projections, now done every few batches: RECORD_CATCH_UP below).
RECORD_BATCH = 10_000
# What `record`'s project states and projections' folds may weigh (issue 18): a one-shot process
# needs hold only what its batches touch, not a server's working set. Over its budget, a state is
# kept without its claims (service/ledger_deciding.py, `StateCache`), which an append of a claim
# never reads: some 25 KB each, so 32 MB keeps 1,000 long projects' states warm (a dropped one
# is loaded again from its snapshot and folded on, batch after batch). A fold dropped is read
# again from its snapshot; a fold of a long project weighs near 1 MB, so the projections keep few.
RECORD_STATE_BYTES = 32 * 1024 * 1024
RECORD_FOLD_BYTES = 16 * 1024 * 1024
# Events appended between `record`'s in-process projection catch-ups (no broker): the projects
# touched since are caught up together, each once, rather than after every batch. A catch-up of a
# project whose fold is not kept (16 MB keeps few: above) starts from its snapshot and folds up to
# 500 events quietly before the new ones, so after every batch that start was most of the run:
# 50,000 events onto 1,000 projects of 100 spent 68 s of 95 catching up (cProfile, 2026-12-06).
# The projections lag the ledger by up to this many events while the file is recorded.
# At 100,000 it once traded memory for rate: 1,000,000 events over 1,000 projects recorded at 2,391
# events/s but peaked at 226.6 MB (one batch's worth: 712 events/s, 186.6 MB). The cause was not the
# catch-up: after it, the embedded default's background run extended the ledger-wide chain
# (`Checkpoints.extend`) over all 100,000 new events at once, holding every link (65 MB, memray),
# where it meant to hold one batch; fixed, 200,000 events peak at 170 MB, as at one batch.
# bench/record_memory.py, 2026-12-06.
RECORD_CATCH_UP = 100_000
# A project with this many events appended since its last catch-up is caught up at the end of
# the batch, whatever the others: a catch-up holds the new events of 20 projects at once, and
# what it holds grows with them (100,000 events onto 10 projects caught up 2,000 a project at a
# time, 20,000 together: `record`'s peak RSS 226 MB, against 163-170 MB a batch at a time;
# bench/record_memory.py, 2026-12-06). 20 projects of this many are one batch's 10,000, as before.
# A cold catch-up's start (a snapshot read, up to 500 events folded quietly, some 5 times cheaper
# an event than folding one in) is paid once per 500 new events at least.
RECORD_CATCH_UP_PROJECT = 500


class CatchUpLater:
    """Holds back `ledger`'s wake-ups (`on_appended`) while a file is recorded: the projects
    touched are collected and woken together once `every` events have been appended since the
    last wake-up (and a project on its own once `every_project` of them are its), and by `close`
    (then `on_appended` is given back). A wake-up only names projects (the ledger is the outbox):
    waking them later folds the same events in, once."""

    def __init__(self, ledger: Ledger, every: int, every_project: int) -> None:
        self._ledger = ledger
        self._wake = ledger.on_appended
        self._every, self._every_project = every, every_project
        self._pending: dict[str, int] = {}  # each project woken by an append, and its events since
        self._appended = 0
        if self._wake is not None:
            ledger.on_appended = self._note

    def _note(self, projects: set[str]) -> None:
        for project in projects:
            self._pending.setdefault(project, 0)

    def appended(self, results: Iterable[AppendResult]) -> None:
        """A batch was appended: wake every project touched if `every` events have been appended
        since the last wake-up, else each that has had `every_project` of them."""
        for result in results:
            if result.status == "recorded" and result.project is not None:
                self._appended += 1
                self._pending[result.project] = self._pending.get(result.project, 0) + 1
        if self._appended >= self._every:
            self.wake()
            return
        due = {project for project, events in self._pending.items() if events >= self._every_project}
        if due:
            self._appended -= sum(self._pending.pop(project) for project in due)
            self._woken(due)

    def wake(self) -> None:
        """Wake every project touched since the last wake-up."""
        pending, self._pending, self._appended = self._pending, {}, 0
        self._woken(set(pending))

    def _woken(self, projects: set[str]) -> None:
        # The in-process wake-up logs its own failures: the events are committed, and the next
        # append (or a replay) catches the projections up.
        if projects and self._wake is not None:
            self._wake(projects)

    def close(self) -> None:
        if self._wake is not None:
            self._ledger.on_appended = self._wake
        self.wake()


def cannot_read(file: str, error: Exception) -> NoReturn:
    """The input of `record` cannot be read: say so, exit 2."""
    typer.echo(f"error: cannot read {file}: {error}", err=True)
    raise typer.Exit(2) from None


def register(app: typer.Typer, opened: Opened) -> None:
    """Add `record`, `events` and `verify` to `app`."""

    @app.command()
    def record(
        ctx: typer.Context,
        file: str = typer.Argument(
            ...,
            help="a file of events (JSON Lines, a JSON array, or pretty-printed JSON objects), or - for stdin",
        ),
        wait: bool = WAIT_OPTION,
    ) -> None:
        """Append events; prints one JSON result a line; exit 1 if any was refused. A CSV or XLSX
        export is refused once (R-30): `import` reads those. JSON Lines are read and appended
        10,000 events at a time, each batch's results printed once it is appended: the file is
        never held whole, however long (a JSON array or pretty-printed objects still are). If a
        run stops half-way, record the same file again: the events already recorded come back
        `duplicate` (their keys make recording idempotent) and the rest are recorded."""
        from itertools import islice

        from ktpledger.service.json_input import EventSource, UnreadableInput, export_refusal

        with ExitStack() as closing:
            try:
                source = sys.stdin.buffer if file == "-" else closing.enter_context(Path(file).open("rb"))
            except OSError as error:
                cannot_read(file, error)
            try:
                # Each event judged on its own, numbered by the line it starts on: see
                # service/json_input.py. Only the head of the input is read before the export check.
                events = EventSource(source)
                if events.looks_like_export():
                    refusal = export_refusal()
                    typer.echo(f"error: {refusal.rule}: {refusal.message}", err=True)
                    raise typer.Exit(1)
                numbered = iter(events)
                rejected = False
                with opened(ctx) as application:
                    application.ledger.states.budget = RECORD_STATE_BYTES
                    application.projector.projections.warm.budget = RECORD_FOLD_BYTES
                    recorded_by = recorder_of(ctx, "cli")
                    # In-process projections (no broker) catch up every RECORD_CATCH_UP events,
                    # and at the end whatever happens; with a broker, the workers are woken as ever.
                    later = (
                        CatchUpLater(application.ledger, RECORD_CATCH_UP, RECORD_CATCH_UP_PROJECT)
                        if application.settings.broker_url is None
                        else None
                    )
                    try:
                        # Batches, not the whole file in one append: memory holds one batch of
                        # events and results, not the file; and a file that fails half-way (a lost
                        # database, a killed process) keeps what it recorded, to be recorded again
                        # with the rest, already-recorded events coming back "duplicate".
                        while batch := list(islice(numbered, RECORD_BATCH)):
                            results = application.ledger.append(
                                (value for _, value in batch), recorded_by=recorded_by
                            )
                            sys.stdout.write(
                                "".join(
                                    json.dumps(result.to_json(line=number)) + "\n"
                                    for (number, _), result in zip(batch, results, strict=True)
                                )
                            )
                            sys.stdout.flush()
                            rejected = rejected or any(result.status == "rejected" for result in results)
                            if later is not None:
                                later.appended(results)
                    finally:
                        if later is not None:
                            later.close()
                    wait_for_projections(application, wait)
            except UnreadableInput as error:
                cannot_read(file, error)
        if rejected:
            raise typer.Exit(1)

    @app.command()
    @refuses_input
    def events(
        ctx: typer.Context,
        project: str = typer.Argument(..., help="the project's reference"),
        output_format: OutputFormat = FORMAT_OPTION,
    ) -> None:
        """The project's stream, oldest first. A recorded event that cannot be read is shown as it is
        stored and marked (JSON: `unreadable`, the refusal naming it), and the command exits 1."""
        from ktpledger.domain.chain import format_instant
        from ktpledger.service.ledger import shown_stream

        with opened(ctx, write=False) as application:
            stream = application.ledger.stream(project)
            if not stream:
                refuse_unknown(application, project)
        shown = shown_stream(stream)
        bad = [document["unreadable"] for document in shown if "unreadable" in document]
        if output_format is OutputFormat.JSON:
            print_json(shown)
        else:
            rows = [
                (
                    str(item.version),
                    item.date.isoformat(),
                    item.type,
                    item.key,
                    "UNREADABLE (see below)"
                    if "unreadable" in document
                    else summarise(document["data"], item.type),
                    format_instant(item.recorded_at)[:19].replace("T", " "),
                    item.recorder_name(),
                )
                for item, document in zip(stream, shown, strict=True)
            ]
            typer.echo(f"{project}: {len(stream)} events, head {stream[-1].hash[:16]}")
            typer.echo(
                render_table(("v", "date", "type", "key", "what", "recorded (UTC)", "by"), rows, numeric={0})
            )
        for error in bad:
            typer.echo(f"error: {error['rule']}: {error['message']}", err=True)
        if bad:
            raise typer.Exit(1)

    @app.command()
    def verify(
        ctx: typer.Context,
        against: str | None = typer.Option(
            None,
            "--against",
            help="a checkpoint (`ktpledger checkpoint`, or a report's JSON): check its signature and that the "
            "ledger up to its position is exactly what it attests",
        ),
        public_key: str | None = typer.Option(
            None,
            "--public-key",
            help="the PEM public key to check the checkpoint with (default: KTPLEDGER_CHECKPOINT_PUBLIC_KEY)",
        ),
        projections: bool = typer.Option(
            False,
            "--projections",
            help="also recompute every projection from the ledger and name each row that differs",
        ),
        output_format: OutputFormat = FORMAT_OPTION,
    ) -> None:
        """Re-check every project's hash chain and versions; exit 1 naming the first bad event. With
        --against and --projections, also the ledger against a signed checkpoint and the projections
        against the ledger."""
        from ktpledger.adapters.signing import KeyFileError, load_verifier
        from ktpledger.service.checkpoints import verify_against
        from ktpledger.service.projection_check import check_projections

        checkpoint = read_checkpoint(against) if against is not None else None
        with opened(ctx, write=False) as application:
            verifier = application.verifier
            if public_key is not None:
                try:
                    verifier = load_verifier(public_key, setting="--public-key")
                except KeyFileError as error:
                    typer.echo(f"error: {error}", err=True)
                    raise typer.Exit(2) from None
            checked, problem = application.ledger.verify()
            anchored = verify_against(application.database, checkpoint, verifier) if checkpoint else None
            drift = check_projections(application.database) if projections else None
        ok = problem is None and (anchored is None or anchored.ok) and (drift is None or drift.ok)
        if output_format is OutputFormat.JSON:
            document: dict[str, Any] = {
                "ok": ok,
                "events_checked": checked,
                "problem": None
                if problem is None
                else {
                    "project": problem.project,
                    "version": problem.version,
                    "position": problem.position,
                    "message": problem.message,
                },
            }
            if anchored is not None:
                document["against"] = anchored.to_json()
            if drift is not None:
                document["projections"] = drift.to_json()
            print_json(document)
        else:
            show_verified(checked, problem, anchored, drift)
        if not ok:
            raise typer.Exit(1)


def summarise(data: dict[str, Any], event_type: str = "") -> str:
    """A short line for people about an event's data. An amendment names what it corrects (its
    budget lines with their new figures) and a reopening its reason: the point of each."""
    if event_type == "OfferAmended":
        corrected = [
            " ".join(f"{name}.{line}={amount}" for line, amount in value.items())
            if name == "budget"
            else f"{name}={value}"
            if name
            in ("start", "months", "business_type", "virtual", "london", "grant_rate", "supervisor_cost")
            else name
            for name, value in data.items()
            if name != "reason"
        ]
        return _short("amends " + ", ".join(corrected))
    if event_type == "ProjectReopened":
        return _short(f"reopened: {data.get('reason', '')}")
    parts = [
        f"{name}={value}"
        for name, value in data.items()
        if not isinstance(value, (dict, list)) and name not in ("description", "title", "reason")
    ]
    return _short(" ".join(parts))


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def read_checkpoint(path: str) -> Checkpoint:
    """The checkpoint in the JSON file at `path` (`-`: stdin), or exit 2 saying what is wrong."""
    from ktpledger.domain.anchor import parse_checkpoint

    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        return parse_checkpoint(json.loads(text))
    except (OSError, UnicodeDecodeError) as error:
        message = f"cannot read {path}: {error}"
    except ValueError as error:  # bad JSON, or not a checkpoint
        message = f"{path} is not a ktpledger checkpoint: {error}"
    typer.echo(f"error: --against: {message}", err=True)
    raise typer.Exit(2)


def show_verified(
    checked: int, problem: Any, anchored: AnchorReport | None, drift: ProjectionCheck | None
) -> None:
    """`verify`'s findings for people: errors on stderr, the summary on stdout."""
    if problem is not None:
        typer.echo(
            f"error: R-30: project {problem.project} version {problem.version} (position {problem.position}): "
            f"{problem.message}",
            err=True,
        )
        typer.echo(f"{checked} events verified before it")
    else:
        typer.echo(f"ok: {checked} events verified, every chain intact")
    if anchored is not None:
        point = anchored.checkpoint.point
        signature = anchored.checkpoint.signature
        by = "unsigned" if signature is None else f"signed by key {signature.key_id}: {anchored.signature}"
        typer.echo(
            f"checkpoint at position {point.position}: {point.events} events, chain head {point.head[:16] or '(none)'}, {by}"
        )
        for finding in anchored.problems:
            typer.echo(f"error: R-30: {finding.message}", err=True)
        for note in anchored.notes:
            typer.echo(f"note: {note}", err=True)
        if anchored.ok:
            typer.echo(
                f"ok: the ledger up to position {point.position} is exactly what the checkpoint attests"
            )
        else:
            typer.echo(f"the ledger does not match the checkpoint: {len(anchored.problems)} finding(s)")
    if drift is not None:
        for item in drift.drifts:
            typer.echo(f"error: {item.message}", err=True)
        if drift.ok:
            typer.echo(
                f"ok: projections of {drift.projects} projects equal a replay of the ledger ({drift.rows} rows)"
            )
        else:
            typer.echo(f"{len(drift.drifts)} projection row(s) differ from a replay of the ledger")
