"""Reading the ledger back: folding streams into project states, showing them, checking chains."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ktpledger.adapters import ledger_store
from ktpledger.adapters.database import Database
from ktpledger.adapters.ledger_recorder import LedgerRecorder, recorder_for
from ktpledger.domain.errors import UnreadableEvent, unknown_project
from ktpledger.domain.project import ProjectState
from ktpledger.domain.recorded import RecordedEvent, fold_recorded, unreadable


@dataclass(frozen=True)
class VerifyProblem:
    """The first bad event of a project's chain."""

    project: str
    version: int
    position: int
    message: str


def project_stream(database: Database, project: str) -> list[RecordedEvent]:
    """`project`'s recorded events in version order, or the R-31 refusal of an unknown project
    (naming the nearest one): what a report, a claim or an invoice of one project starts from."""
    with database.read() as connection:
        stream = ledger_store.stream(connection, project)
        if not stream:
            raise unknown_project(project, ledger_store.projects(connection), database.shown_url)
    return stream


def fold(project: str, recorded: Iterable[RecordedEvent], state: ProjectState | None = None) -> ProjectState:
    """`state` (or a new one) with `recorded` folded in, in version order. A row that cannot be
    read or folded raises `UnreadableEvent` naming it (`state` is then folded up to the row before)."""
    state = state or ProjectState(project=project)
    fold_recorded(recorded, state.apply)
    return state


def shown_stream(stream: Iterable[RecordedEvent]) -> list[dict[str, Any]]:
    """A project's stream as `ktpledger events --format json` and `GET /projects/{p}/events` show
    it: every row as recorded, and on a row that cannot be read `unreadable`, the refusal naming it
    and why (`unreadable_rows`). Nothing is left out: the reader learns which row and why."""
    rows = list(stream)
    bad = unreadable_rows(rows)
    shown = []
    for item in rows:
        document = item.to_json()
        error = bad.get(item.version)
        if error is not None:
            document["unreadable"] = error.as_dict()
        shown.append(document)
    return shown


def unreadable_rows(stream: Iterable[RecordedEvent]) -> dict[int, UnreadableEvent]:
    """The rows of one project's stream that cannot be read, by version: every row whose event
    cannot be rebuilt, and the row at which the fold first fails (the rows after it are not folded:
    the project's state is not known past it). Not `fold_recorded`: reading goes on past the
    first row that fails."""
    found: dict[int, UnreadableEvent] = {}
    state: ProjectState | None = None
    folding = True
    for item in stream:
        try:
            event = item.event()
            if folding:
                state = state or ProjectState(project=item.project, track_keys=False)
                state.apply(event, item.version, item.hash)
        except UnreadableEvent as error:
            found[item.version] = unreadable(item, error)
            folding = False
    return found


def check_chains(every_event: Iterable[RecordedEvent]) -> tuple[int, VerifyProblem | None]:
    """Re-check the versions and hash chain of every project, its events given by project and
    version: (events checked, first problem)."""
    checked = 0
    project, version, prev = "", 0, ""
    for item in every_event:
        if item.project != project:
            project, version, prev = item.project, 0, ""
        problem = None
        if item.version != version + 1:
            problem = f"version {item.version} follows version {version}: the sequence has a gap"
        elif item.prev_hash != prev:
            problem = "prev_hash does not match the hash of the event before it"
        else:
            try:
                digest = item.link().digest()
            except ValueError as error:  # a chain version this code does not know
                problem = f"its hash cannot be checked: {error}"
            else:
                if digest != item.hash:
                    problem = (
                        "hash does not match the event's content (or who recorded it): "
                        "it was changed after it was recorded"
                    )
        if problem is not None:
            return checked, VerifyProblem(item.project, item.version, item.position, problem)
        checked += 1
        version, prev = item.version, item.hash
    return checked, None


def facts(database: Database, projects: Iterable[str]) -> dict[str, ProjectState]:
    """Each project folded from its offer, LMC decisions and closure only (its title, period,
    status and budget), with `version` set to the project's head: cheap for many projects. A
    project whose facts cannot be folded is left out (`read_facts` says why)."""
    return read_facts(database, projects)[0]


def read_facts(
    database: Database, projects: Iterable[str]
) -> tuple[dict[str, ProjectState], dict[str, UnreadableEvent]]:
    """`facts`, and the refusal naming the row of each project whose facts cannot be folded: one
    project's unreadable row never stops a reader of many projects."""
    return recorded_facts(recorder_for(database), projects)


def recorded_facts(
    recorder: LedgerRecorder, projects: Iterable[str]
) -> tuple[dict[str, ProjectState], dict[str, UnreadableEvent]]:
    """`read_facts`, read through `recorder`."""
    names = sorted(set(projects))
    if not names:
        return {}, {}
    streams, head = recorder.fact_streams(names)
    states: dict[str, ProjectState] = {}
    refused: dict[str, UnreadableEvent] = {}
    for name, stream in streams.items():
        try:
            states[name] = fold(name, stream)
        except UnreadableEvent as error:
            refused[name] = error
    for name, state in states.items():
        state.version = head.get(name, state.version)
    return states, refused
