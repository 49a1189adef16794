"""Catching projections up with the ledger: the wake-up's work.

The ledger is the outbox. A wake-up names a project and nothing else; a catch-up reads the events
after the project's saved version and commits the new allowance lines, the alert changes and the
new saved version in one unit of work. A redelivered, duplicated, late or lost wake-up therefore
does no harm: the work is done at most once per event and the sweeper finds anything left behind.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from ktpledger.adapters.projection_store import HeadState, ProjectionUnit, Row
from ktpledger.domain.alerts import AlertKey
from ktpledger.domain.errors import UnreadableEvent
from ktpledger.domain.health_facts import HealthFacts, PageFacts
from ktpledger.domain.live import LiveProject, appends
from ktpledger.domain.project import ProjectState
from ktpledger.domain.recorded import RecordedEvent
from ktpledger.domain.snapshot import (
    SNAPSHOT_FORMAT_NOW,
    TOTALS_EVERY,
    StoredSnapshot,
    loaded_states,
    resumed,
    totals_snapshot_of,
)
from ktpledger.service.projection_alerts import AlertsDiffer, AlertWrites
from ktpledger.service.projection_context import Projections, Warm
from ktpledger.service.projection_fold import fold_quietly
from ktpledger.service.projection_rows import (
    acknowledgement_rows,
    current_changes,
    line_row,
    live_facts_row,
)
from ktpledger.service.quarantine import CAUGHT_UP, refold

_log = logging.getLogger(__name__)

# Events a project kept behind may lack (another worker caught it up meanwhile) and still be read
# from where it is in the catch-up's first read, wasted only when nothing is new after its saved
# version: two workers taking wake-ups of one project in turn leave each a few events behind.
NEAR_GAP = 20
# The most of the other worker's events a project kept behind is judged through event by event
# (`fold_on_behind`); beyond, folded quietly and settled. Judging costs 11-25 us an event more than
# folding, a settle 40-140 us and the figures of every condition written out again after it
# (bench/catch_up.py --postgres --projectors 2 --claims 4: 224-234 us an event with 6, 262-281
# with 20; one claim a wake-up, bench/lag.py's, the same with either).
JUDGE_AT_MOST = 6
# A catch-up keeps a totals snapshot of a project it moved at its head (`SnapshotRepository.keep_heads`)
# once the project is this many events past the one it kept before: a new process's first append
# then folds fewer than this many events past its newest snapshot (8-9 us each on SQLite), where
# the appends' own totals snapshots (every `TOTALS_EVERY` versions) left it up to 49 to fold, 25 on
# average: 2.2-2.9x a warm append on SQLite against 1.5x from a snapshot at the head (issue 18).
# Written by the workers, off the append path: snapshots every 10 versions written with the
# appends cost batches 26-32% of their rate. Only for projects of `TOTALS_EVERY` events or more.
HEAD_SNAPSHOT_EVERY = 10


@dataclass(frozen=True)
class CatchUp:
    """What one catch-up did; `failed` is the refusal naming the row when the project is (or was
    already) quarantined."""

    project: str
    from_version: int
    to_version: int
    raised: list[int]
    resolved: int
    failed: str | None = None


def catch_up_many(
    projections: Projections, projects: Iterable[str], also: Iterable[str] = ()
) -> list[CatchUp]:
    """Catch several projects up in one unit of work (a handful of statements, whatever their
    number): lock their saved versions, read the events after them, fold, write, commit.

    `also`: more projects worth a look, perhaps behind (other wake-ups' projects, still queued):
    those this process keeps folded at their saved version and no other unit holds are caught up
    in the same unit, so that one catch-up's statements serve many wake-ups' events; the rest are
    left out of the results, never waited for (their holder, or their own wake-up, catches them
    up). Only those kept at their saved version: one with nothing new then costs nothing but its
    row read, where one kept behind (another worker caught it up since) or not kept at all would
    be folded on or read from its snapshot, work its own wake-up may well give the other worker.

    A project with a recorded event that cannot be read or folded is quarantined (README,
    "Quarantine") and the others carry on: its projection is rebuilt up to the last append that
    folds whole, its head marked failed, and a `projection_failed` system alert raised; later
    catch-ups skip it until `retry`. Store errors are not the project's: they roll the whole
    catch-up back, as before, for a later wake-up or the sweeper to redo.

    The alert changes are written together, a few statements a catch-up
    (`projection_alerts.AlertWrites`); should the database's alerts not be as the fold was seeded,
    the catch-up is rolled back and done again writing each change in turn."""
    named = sorted(set(projects))
    extra = sorted(name for name in set(also).difference(named) if projections.warm.version(name))
    if not named and not extra:
        return []
    try:
        return _catch_up_many(projections, named, extra, batched=True)
    except AlertsDiffer as differs:
        _log.warning("catching up again, each alert change in turn: %s", differs)
        return _catch_up_many(projections, named, extra, batched=False)


def _catch_up_many(
    projections: Projections, named: list[str], extra: list[str], *, batched: bool
) -> list[CatchUp]:
    """One unit of work (`catch_up_many`); `batched`: the alert changes written together."""
    now = datetime.now(UTC)
    kept: list[Warm] = []
    results: list[CatchUp] = []
    with projections.store.write(durable=False) as unit:
        # The named ones first, waiting for their locks in name order (so two units never
        # deadlock); then the extras that are free, which never waits.
        heads, free = unit.heads.lock_with_free(named, extra, now)
        heads |= {
            name: HeadState(version)
            for name, version in free.items()
            if projections.warm.version(name) == version
        }
        names = sorted(heads)
        saved = {name: head.version for name, head in heads.items()}
        active = [name for name in names if heads[name].failed is None]
        warm: dict[str, Warm] = {}
        # Kept by this process at a version another worker has caught up from since: folded on
        # from where it is (the events between folded quietly, as a cold start's are) rather
        # than from a snapshot, since wake-ups of one project go to any worker.
        behind: dict[str, Warm] = {}
        for name in active:
            entry = projections.warm.take(name)
            if entry is None:
                continue
            if entry.live.version == saved[name]:
                warm[name] = entry
            elif 0 < entry.live.version < saved[name]:
                behind[name] = entry
        cold = [name for name in active if name not in warm and name not in behind and saved[name]]
        starts = snapshot_starts(unit, {name: saved[name] for name in cold})
        # One behind by a few events is read from where it is at once (the events it lacks and
        # the new ones, one read); one further behind after its saved version first (below).
        near = {name for name, entry in behind.items() if saved[name] - entry.live.version <= NEAR_GAP}

        def read_after(name: str) -> int:
            """A cold project is read from its snapshot's own row (whose hash must be the
            snapshot's head), else from version 1; a warm one, and one far behind, after its saved
            version; one near behind from where it is."""
            if name in near:
                return behind[name].live.version
            if name in warm or name in behind:
                return saved[name]
            if name in starts:
                return max(starts[name][0].version - 1, 0)
            return 0

        # With the open alerts of those folded on from elsewhere (one round trip on PostgreSQL).
        fresh, cold_open = unit.read_new({name: read_after(name) for name in active}, [*cold, *behind])
        # One behind with nothing after the saved version (another worker caught it up, events and
        # all) is kept as it is, unfolded: folded from where it is, its gap grew with every wake-up
        # the other worker took. One far behind with something new is read again from where it is.
        idle = {
            name: behind.pop(name)
            for name in list(behind)
            if not any(item.version > saved[name] for item in fresh.get(name, ()))
        }
        far = {name: entry.live.version for name, entry in behind.items() if name not in near}
        if far:
            fresh |= unit.events.after(far)
        line_rows: list[Row] = []
        facts_rows: list[Row] = []
        head_moves: list[Row] = []
        current: list[tuple[str, AlertKey, str]] = []
        heads_kept: list[StoredSnapshot] = []  # `HEAD_SNAPSHOT_EVERY`
        kept_before: dict[str, int] = {}
        writes = AlertWrites(projections, unit, now, batched=batched)
        for name in names:
            failed = heads[name].failed
            if failed is not None:
                results.append(CatchUp(name, saved[name], saved[name], [], 0, failed))
                continue
            stream = fresh.get(name, [])
            entry = warm.get(name)
            raised: list[int] = []
            resolved = 0
            if name in idle:
                kept.append(idle[name])
                results.append(CatchUp(name, saved[name], saved[name], [], 0))
                continue
            try:
                if name in behind:
                    live = behind[name].live
                    entry = Warm(live, {}, cold_open.get(name, {}), head_snapshot=behind[name].head_snapshot)
                    gap = saved[name] - live.version
                    fold_on_behind(live, stream[:gap], entry.open_alerts)
                    stream = stream[gap:]
                elif entry is None:
                    start = starts.get(name)
                    live, stream, base = resume_cold(unit, name, None if start is None else start[0], stream)
                    entry = Warm(live, {}, cold_open.get(name, {}))
                    fold_quietly(entry.live, stream[: saved[name] - base])
                    if base and start is not None:
                        entry.live.restore_page(start[1].spend_months, start[1].fact_versions)
                    entry.live.seed(entry.open_alerts)
                    stream = stream[saved[name] - base :]
                live = entry.live
                for group in appends(stream):
                    steps = live.apply_append(group)
                    if steps:
                        resolved += writes.record(name, steps, entry.open_alerts, raised)
                    acknowledged = acknowledgement_rows(group)
                    if acknowledged:
                        writes.flush()  # an acknowledgement may name an alert raised just now
                        unit.alerts.acknowledge(acknowledged)
            except UnreadableEvent:
                writes.flush()  # the refold keeps the ids of the alerts raised before the failure
                folded = refold(projections, unit, name, now, reason=CAUGHT_UP)
                error = folded.failed.get(name)
                version = int(folded.heads[0]["version"]) if folded.heads else saved[name]
                message = None if error is None else error.message
                results.append(CatchUp(name, saved[name], version, raised, resolved, message))
                continue
            if stream:
                written = dict(entry.lines)
                sources = entry.line_sources
                for ordinal, line in enumerate(live.ordered_lines()):
                    category = line.category.value
                    source = sources.get(category)
                    if source is not None and source[0] == ordinal and source[1] is line:
                        continue  # not judged again since its row was written
                    row = line_row(name, ordinal, line)
                    if written.get(category) != tuple(row.values()):
                        line_rows.append(row)
                        written[category] = tuple(row.values())
                    sources[category] = (ordinal, line)
                entry.lines = written
                facts = live_facts_row(live, partial(unit.events.but_claims, name))
                if facts is not None:
                    facts_rows.append(facts)
                current += current_changes(name, live, entry.open_alerts)
                if live.version >= TOTALS_EVERY and live.version - entry.head_snapshot >= HEAD_SNAPSHOT_EVERY:
                    heads_kept.append(totals_snapshot_of(live.state))
                    kept_before[name] = entry.head_snapshot
                head = stream[-1]
                head_moves.append(
                    {
                        "project": name,
                        "version": head.version,
                        "position": head.position,
                        "clock": live.latest,
                        "updated_at": now,
                    }
                )
            kept.append(entry)
            results.append(CatchUp(name, saved[name], live.version, raised, resolved))
        writes.flush()
        # The writes below need no answer: sent together with the commit, one round trip.
        with unit.pipelined():
            if head_moves:
                committing = datetime.now(UTC)  # when the projection moved, as near its commit as can be
                for move in head_moves:
                    move["updated_at"] = committing
                unit.lines.upsert(line_rows)
                unit.facts.upsert(facts_rows)
                unit.alerts.set_current(current)
                unit.heads.advance(head_moves)
                unit.snapshots.keep_heads(heads_kept, kept_before)
            if head_moves or len(kept) < len(active):
                unit.commit()
    # Kept only once committed: a failed catch-up leaves nothing half-folded behind.
    heads_written = {snapshot.project: snapshot.version for snapshot in heads_kept}
    for entry in kept:
        entry.head_snapshot = heads_written.get(entry.live.state.project, entry.head_snapshot)
        projections.warm.keep(entry)
    return results


def fold_on_behind(live: LiveProject, items: list[RecordedEvent], open_alerts: dict[AlertKey, str]) -> None:
    """Fold into a project kept behind the events another worker caught it up with meanwhile,
    its alerts as the database holds them (`open_alerts`) for what follows.

    Up to JUDGE_AT_MOST events, judged as it goes (`apply_append`, the alert steps dropped: the other
    worker recorded them) while the fold holds its lines' and claims' judgements: then, the
    conditions it holds being the alerts open, nothing is judged again. Folded quietly and settled
    afresh from the open alerts (`seed`) otherwise, as a cold start is: a settle judges every line
    and every claim again, which for a project of a few hundred claims costs more than judging a
    few events, and less than judging many."""
    if live.lines and len(items) <= JUDGE_AT_MOST:
        for group in appends(items):
            live.apply_append(group)
        if live.holding() == open_alerts.keys():
            return
        live.forget_judgements()
    else:
        fold_quietly(live, items)
    live.seed(open_alerts)


def snapshot_starts(
    unit: ProjectionUnit, limits: dict[str, int]
) -> dict[str, tuple[ProjectState, PageFacts]]:
    """Each project's state from its newest snapshot at or before its saved version in `limits`,
    with what the project page keeps as its stored facts of that saved version hold it (the
    resumed fold has not seen the events before the snapshot). A project with no such snapshot,
    or whose stored facts are not of its saved version with the page's figures, is not given one:
    its stream is folded from version 1."""
    if not limits:
        return {}
    states = loaded_states(unit.snapshots.newest(limits, SNAPSHOT_FORMAT_NOW))
    if not states:
        return {}
    pages = stored_pages(unit, {name: limits[name] for name in states})
    return {name: (state, pages[name]) for name, state in states.items() if name in pages}


def stored_pages(unit: ProjectionUnit, versions: dict[str, int]) -> dict[str, PageFacts]:
    """The project page's figures of each project's stored facts that are of its version here."""
    found: dict[str, PageFacts] = {}
    for row in unit.facts.of_projects(sorted(versions)):
        name = str(row["project"])
        if int(row["version"]) != versions.get(name):
            continue
        try:
            facts = HealthFacts.from_json(json.loads(str(row["facts"])))
        except (ValueError, KeyError, TypeError, ArithmeticError):
            continue  # of an older format: fold the stream
        if facts.page is not None:
            found[name] = facts.page
    return found


def resume_cold(
    unit: ProjectionUnit, name: str, start: ProjectState | None, stream: list[RecordedEvent]
) -> tuple[LiveProject, list[RecordedEvent], int]:
    """A cold project's live fold to start from, the events to fold on it, and its version: the
    snapshot's state when its row matches the ledger, else a new fold of the whole stream."""
    if start is not None:
        rest = resumed(start, stream)
        if rest is not None:
            return LiveProject(state=start, latest=start.clock), list(rest), start.version
        stream = unit.events.stream(name)  # read from the snapshot's row on: read it all
    return LiveProject.new(name), stream, 0
