"""The `state_snapshots` table: projects' folded states as bytes (`domain/snapshot.py`), read and
written with SQLAlchemy Core in the caller's transaction. Nothing here reads the bytes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, bindparam, delete, select, tuple_

from ktpledger.adapters.tables import state_snapshots
from ktpledger.domain.snapshot import StoredSnapshot

KEPT_PER_PROJECT = 2  # the newest two: a catch-up a little behind the appends still finds one
_CHUNK = 500  # projects per query


def _kept(*columns: Any) -> Select[Any]:
    return (
        select(state_snapshots.c.project, state_snapshots.c.version, *columns)
        .where(
            state_snapshots.c.project.in_(bindparam("projects", expanding=True)),
            state_snapshots.c.format == bindparam("format"),
        )
        .order_by(state_snapshots.c.project, state_snapshots.c.version.desc())
    )


_VERSIONS = _kept()
_STATES = _kept(state_snapshots.c.state)  # a state without its claims: a few kilobytes


def newest(
    connection: Connection, limits: Mapping[str, int], of_format: str, *, claims: bool = True
) -> dict[str, StoredSnapshot]:
    """Each named project's newest snapshot of `of_format` at or before its version in `limits`;
    without its claims' bytes unless `claims` (an append reads them only if it needs them:
    `claims_of`)."""
    names = sorted(limits)
    found: dict[str, StoredSnapshot] = {}
    for start in range(0, len(names), _CHUNK):
        chunk = names[start : start + _CHUNK]
        if not claims:  # every kept state of each, in one query: they are small
            for project, version, state in connection.execute(
                _STATES, {"projects": chunk, "format": of_format}
            ):
                if project not in found and 0 < version <= limits[project]:
                    found[project] = StoredSnapshot(project, int(version), of_format, bytes(state))
            continue
        chosen: dict[str, int] = {}
        for project, version in connection.execute(_VERSIONS, {"projects": chunk, "format": of_format}):
            if project not in chosen and 0 < version <= limits[project]:
                chosen[project] = int(version)
        if not chosen:
            continue
        # The claims of the chosen ones only: hundreds of kilobytes for a long project.
        pairs = tuple_(state_snapshots.c.project, state_snapshots.c.version)
        rows = connection.execute(
            select(
                state_snapshots.c.project,
                state_snapshots.c.version,
                state_snapshots.c.state,
                state_snapshots.c.claims,
            ).where(pairs.in_(list(chosen.items())))
        )
        for project, version, state, held in rows:
            found[project] = StoredSnapshot(project, int(version), of_format, bytes(state), bytes(held))
    return found


def claims_of(connection: Connection, project: str, version: int, of_format: str) -> bytes | None:
    """The claims' bytes of one kept snapshot; None when it is no longer kept."""
    held = connection.execute(
        select(state_snapshots.c.claims).where(
            state_snapshots.c.project == project,
            state_snapshots.c.version == version,
            state_snapshots.c.format == of_format,
        )
    ).scalar()
    return None if held is None else bytes(held)


def save(connection: Connection, snapshots: Sequence[StoredSnapshot], now: datetime) -> None:
    """Write `snapshots` (one replacing another of its project and version) and keep only the
    newest `KEPT_PER_PROJECT` of each of their projects."""
    for snapshot in snapshots:
        connection.execute(
            delete(state_snapshots).where(
                state_snapshots.c.project == snapshot.project,
                state_snapshots.c.version == snapshot.version,
            )
        )
        connection.execute(
            state_snapshots.insert().values(
                project=snapshot.project,
                version=snapshot.version,
                format=snapshot.format,
                state=snapshot.state,
                claims=snapshot.claims,
                written_at=now,
            )
        )
        kept = (
            select(state_snapshots.c.version)
            .where(state_snapshots.c.project == snapshot.project)
            .order_by(state_snapshots.c.version.desc())
            .limit(KEPT_PER_PROJECT)
        )
        connection.execute(
            delete(state_snapshots).where(
                state_snapshots.c.project == snapshot.project,
                state_snapshots.c.version.not_in(kept),
            )
        )


def replace_all(connection: Connection, snapshots: Sequence[StoredSnapshot], now: datetime) -> None:
    """Every snapshot replaced by `snapshots` (at most one a project: replay's), in a few statements."""
    connection.execute(delete(state_snapshots))
    rows = [
        {
            "project": s.project,
            "version": s.version,
            "format": s.format,
            "state": s.state,
            "claims": s.claims,
            "written_at": now,
        }
        for s in snapshots
    ]
    for start in range(0, len(rows), _CHUNK):
        connection.execute(state_snapshots.insert(), rows[start : start + _CHUNK])


def every(connection: Connection) -> Iterator[StoredSnapshot]:
    """Every snapshot, by project and version (`verify --projections` checks each)."""
    query = select(
        state_snapshots.c.project,
        state_snapshots.c.version,
        state_snapshots.c.format,
        state_snapshots.c.state,
        state_snapshots.c.claims,
    ).order_by(state_snapshots.c.project, state_snapshots.c.version)
    for project, version, written_format, state, claims in connection.execute(query):
        yield StoredSnapshot(project, int(version), written_format, bytes(state), bytes(claims))
