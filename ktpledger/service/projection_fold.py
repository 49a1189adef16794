"""Folding whole streams into projection rows: what `replay`, a quarantined project's refold and
`verify --projections` share. Reads through the store's `EventReader`; writes nothing."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ktpledger.adapters.projection_store import ACKNOWLEDGEMENT_COLUMNS, AlertRepository, EventReader, Row
from ktpledger.domain.alerts import LINE_KINDS, AlertKey
from ktpledger.domain.errors import UnreadableEvent
from ktpledger.domain.live import LiveProject, appends
from ktpledger.domain.recorded import RecordedEvent, fold_recorded
from ktpledger.domain.snapshot import SNAPSHOT_EVERY, StoredSnapshot, snapshot_of
from ktpledger.domain.statuses import FAILED, OK
from ktpledger.service.projection_rows import (
    acknowledgement_rows,
    alert_row,
    line_row,
    live_facts_row,
    resolution_fields,
)

REPLAY_CHUNK = 200  # projects read per query


@dataclass
class FoldedRows:
    """What folding some projects from the ledger gives: rows for the projection tables, and the
    refusal naming the row of each project that could not be folded to its end (quarantined).
    Each alert row carries `_position`, the position of the append that raised it, until written."""

    alerts: list[Row]
    lines: list[Row]
    heads: list[Row]
    read: int
    failed: dict[str, UnreadableEvent] = field(default_factory=dict)
    facts: list[Row] = field(default_factory=list)  # `project_facts` (issue 16)
    # `state_snapshots` (issue 18): of each project folded whole with `SNAPSHOT_EVERY` events or more
    snapshots: list[StoredSnapshot] = field(default_factory=list)


def fold_projects(events: EventReader, names: Sequence[str], now: datetime) -> FoldedRows:
    """Fold each named project's whole stream, alert by alert, into projection rows."""
    # Millions of long-lived objects and nothing to free until the end: the cyclic collector would
    # rescan them again and again for nothing.
    collecting = gc.isenabled()
    gc.disable()
    try:
        folded = FoldedRows([], [], [], 0)
        for start in range(0, len(names), REPLAY_CHUNK):
            chunk = list(names[start : start + REPLAY_CHUNK])
            streams = events.streams(chunk)
            for name in chunk:
                fold_one(name, streams.get(name, []), now, folded)
        return folded
    finally:
        if collecting:
            gc.enable()


def fold_one(name: str, stream: list[RecordedEvent], now: datetime, folded: FoldedRows) -> None:
    """Fold one project's whole stream, append by append, into projection rows.

    A project whose stream holds a row that cannot be read or folded gets the projection of the
    appends before the one holding that row (README, "Quarantine"): the allowance lines, the alerts
    raised and resolved, and the open alerts' figures as those appends leave them; its head is that
    of the last of them, marked failed, naming the row."""
    if not stream:
        return
    live = LiveProject.new(name)
    open_rows: dict[AlertKey, Row] = {}
    by_crossing: dict[tuple[str, str, str, int], Row] = {}  # every alert row, by its crossing
    done = 0  # events of the appends folded whole
    failure: UnreadableEvent | None = None
    for group in appends(stream):
        try:
            steps = live.apply_append(group)
        except UnreadableEvent as error:
            failure = error
            break
        position = group[-1].position
        for step in steps:
            if not step.raised:
                open_rows.pop(step.key).update(resolution_fields(step.version, step.on, now, step.reason))
                continue
            assert step.detail is not None
            row = {
                **alert_row(name, step.key, step.detail, step.version, now, quiet=step.quiet, on=step.on),
                "_position": position,
            }
            folded.alerts.append(row)
            open_rows[step.key] = row
            by_crossing[(step.key.category, str(step.key.kind), step.key.subject, step.version)] = row
        for acknowledgement in acknowledgement_rows(group):
            # The first acknowledgement of an alert stands (`AlertRepository.acknowledge`).
            acknowledged = by_crossing.get(
                (
                    acknowledgement["category"],
                    acknowledgement["kind"],
                    acknowledgement["subject"],
                    acknowledgement["raised_at_version"],
                )
            )
            if acknowledged is not None and acknowledged["acknowledged_at_version"] is None:
                acknowledged.update({column: acknowledgement[column] for column in ACKNOWLEDGEMENT_COLUMNS})
        done += len(group)
    if failure is not None:
        # The fold is part-way through the failing append: fold afresh up to the append before it.
        folded.failed[name] = failure
        live = LiveProject.new(name)
        fold_quietly(live, stream[:done])
        live.seed(open_rows)
        live.settle()
    holding = live.conditions()
    for key, row in open_rows.items():
        if key.kind not in LINE_KINDS and key in holding:
            row["current"] = json.dumps(holding[key], sort_keys=True)
    lines = live.ordered_lines()
    folded.lines.extend(line_row(name, ordinal, line) for ordinal, line in enumerate(lines))
    facts = live_facts_row(live, lambda: [item for item in stream[:done] if item.type != "SpendClaimed"])
    if facts is not None:
        folded.facts.append(facts)
    head = stream[done - 1] if done else None
    if failure is None and live.version >= SNAPSHOT_EVERY:
        folded.snapshots.append(snapshot_of(live.state))
    folded.heads.append(
        {
            "project": name,
            "version": 0 if head is None else head.version,
            "position": 0 if head is None else head.position,
            "clock": live.latest,
            "updated_at": now,
            "status": OK if failure is None else FAILED,
            "error": None if failure is None else failure.message,
            "failed_version": None if failure is None else failure.version,
            "failed_position": None if failure is None else failure.position,
        }
    )
    folded.read += len(stream)


def fold_quietly(live: LiveProject, stream: Iterable[RecordedEvent]) -> None:
    """Fold rows in without working out alerts (`LiveProject.fold`), naming a row that fails."""
    fold_recorded(stream, live.fold)


def in_raising_order(alerts: Iterable[Row]) -> list[Row]:
    """Alert rows in the order their appends were recorded, their `_position` dropped."""
    return sorted(alerts, key=lambda row: row.pop("_position"))


def keep_identities(alerts: AlertRepository, rows: list[Row], *, project: str | None = None) -> None:
    """Give each rebuilt alert the id and times of the same crossing already recorded, if any
    (of `project` only, when given)."""
    recorded = alerts.identities(project)
    for row in rows:
        same = recorded.get(
            (row["project"], row["category"], row["kind"], row["subject"], row["raised_at_version"])
        )
        if same is None:
            continue
        row["id"], row["raised_at"] = same.id, same.raised_at
        if same.resolved_at is not None and same.resolved_at_version == row["resolved_at_version"]:
            row["resolved_at"] = same.resolved_at
