"""A catch-up's alert writes: the raises, the resolutions and the notifications they queue.

A month step (a claim dated in a later month) judges every line again and raises or resolves the
time-based alerts of many lines at once; written one statement a change, they cost a worker more
than the fold (issue 18). `AlertWrites` holds them until `flush`, which writes them all in at most
four statements whatever their number: the resolutions of alerts the database holds open (one
executemany), what was resolved lately (one read, for the projects with raises to notify), the
raises (one multi-row INSERT, each row as the catch-up's later steps left it: an alert raised and
resolved within the catch-up goes in resolved), and their outbox rows (one INSERT).

The batch writes what writing each change in turn writes. The ledger's fold is seeded with the
alerts the database holds open, and keeps them as it writes (the head locked, one transaction), so
a key raised is never open already and a key resolved is always open: the resolutions go first (an
alert raised again after a resolution then finds its key free), and every raise's row is written.
Should the database hold otherwise (a row neither unique key admits, a resolution that finds
nothing open), `flush` raises `AlertsDiffer` and the caller rolls back and writes each change in
turn (`batched=False`), as before.

Why a raise is not notified (`why`) is worked out as each raise in turn would have: the same alert
resolved less than `renotify_after` ago (as the database held it before the catch-up, or resolved
by it), or raised and resolved within one append (`quiet`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ktpledger.adapters.projection_store import ProjectionUnit, Resolution, Row
from ktpledger.domain.alerts import AlertKey
from ktpledger.domain.live import AlertStep
from ktpledger.service.projection_context import Projections
from ktpledger.service.projection_rows import alert_row, resolution_fields

QUIET = "raised and resolved within one append"


class AlertsDiffer(Exception):
    """The database's alerts are not as the fold was seeded: a batch would not write what each
    change in turn writes. Roll back and catch up again with `batched=False`."""


@dataclass
class _Raise:
    project: str
    key: AlertKey
    row: Row
    channels: tuple[str, ...]
    quiet: bool
    into: list[int]  # the catch-up's raised ids, given this one's once written
    id: int = 0  # once written


class AlertWrites:
    """One catch-up unit's alert changes (module docstring); `batched=False` writes each at once."""

    def __init__(
        self, projections: Projections, unit: ProjectionUnit, now: datetime, *, batched: bool = True
    ) -> None:
        self._projections = projections
        self._unit = unit
        self._now = now
        self._batched = batched
        self._window = projections.renotify_after
        self._since = now - projections.renotify_after
        # Held until `flush`: resolutions of alerts the database holds open, the raises in order,
        # those still open by key, and each project's changes in order: a raise, or the
        # resolution of a held raise (None stands for one of an alert the database holds).
        self._resolutions: list[Resolution] = []
        self._raises: list[_Raise] = []
        self._held_open: dict[tuple[str, AlertKey], _Raise] = {}
        self._order: list[tuple[_Raise, bool]] = []  # (raise, resolved): in the order they came
        # Without batching: what each project resolved lately, read at its first raise and read
        # again after it resolves one (`resolved_since_many`).
        self._resolved: dict[str, dict[AlertKey, int]] = {}

    def record(
        self, project: str, steps: list[AlertStep], open_alerts: dict[AlertKey, str], raised: list[int]
    ) -> int:
        """Take one append's steps; `open_alerts` is kept up to date with them, and the ids of the
        raises written go into `raised` (in their order; once flushed, when batched). How many
        open alerts were resolved."""
        ended = 0
        for step in steps:
            if step.raised:
                self._raise(project, step, open_alerts, raised)
            else:
                ended += self._resolve(project, step, open_alerts)
        return ended

    def _resolve(self, project: str, step: AlertStep, open_alerts: dict[AlertKey, str]) -> int:
        key = step.key
        was_open = open_alerts.pop(key, None) is not None
        resolution = Resolution(project, key, step.version, step.reason, step.on)
        if not self._batched:
            self._resolved.pop(project, None)
            return self._unit.alerts.resolve_many([resolution], self._now)
        held = self._held_open.pop((project, key), None)
        if held is not None:
            held.row.update(resolution_fields(step.version, step.on, self._now, step.reason))
            self._order.append((held, True))
            return 1
        if not was_open:
            raise AlertsDiffer(f"{project}: {key} resolved but not open")
        self._resolutions.append(resolution)
        return 1

    def _raise(
        self, project: str, step: AlertStep, open_alerts: dict[AlertKey, str], raised: list[int]
    ) -> None:
        key = step.key
        assert step.detail is not None
        row = alert_row(project, key, step.detail, step.version, self._now, quiet=step.quiet, on=step.on)
        channels = tuple(self._projections.channels_for(str(key.kind)))
        if not self._batched:
            written = self._unit.alerts.add_many([row])
            if not written:
                return  # this crossing was raised already
            [alert_id] = written.values()
            open_alerts[key] = row["current"] or ""  # "" for a line kind: nothing is written for it
            raised.append(alert_id)
            why = QUIET if step.quiet else self._why_now(project, key)
            self._unit.outbox.queue_many([(alert_id, channels, why)], self._now)
            return
        if key in open_alerts or (project, key) in self._held_open:
            raise AlertsDiffer(f"{project}: {key} raised while open")
        held = _Raise(project, key, row, channels, step.quiet, raised)
        open_alerts[key] = row["current"] or ""
        self._raises.append(held)
        self._held_open[(project, key)] = held
        self._order.append((held, False))

    def _why_now(self, project: str, key: AlertKey) -> str | None:
        if self._window <= timedelta(0):
            return None
        resolved = self._resolved.get(project)
        if resolved is None:
            lately = self._unit.alerts.resolved_since_many([project], self._since)
            resolved = self._resolved[project] = lately.get(project, {})
        return self._why(resolved.get(key))

    def _why(self, earlier: int | None) -> str | None:
        if earlier is None:
            return None
        hours = self._window.total_seconds() / 3600
        return f"raised again within {hours:g} h of alert {earlier} resolving: notified once"

    def flush(self) -> None:
        """Write what is held (module docstring); `AlertsDiffer` if the database differs."""
        if not self._resolutions and not self._raises:
            return
        alerts = self._unit.alerts
        if self._resolutions and alerts.resolve_many(self._resolutions, self._now) != len(self._resolutions):
            raise AlertsDiffer("a resolution found no open alert")
        # Read after the resolutions: as each raise would have read it after those before it.
        asking = sorted({r.project for r in self._raises if r.channels and not r.quiet})
        lately = (
            alerts.resolved_since_many(asking, self._since) if asking and self._window > timedelta(0) else {}
        )
        ids = alerts.add_many([r.row for r in self._raises])
        if len(ids) != len(self._raises):
            raise AlertsDiffer("a raise was refused by a unique key")
        for held in self._raises:
            row = held.row
            held.id = ids[
                (row["project"], row["category"], row["kind"], row["subject"], row["raised_at_version"])
            ]
        queued: list[tuple[int, tuple[str, ...], str | None]] = []
        latest: dict[str, dict[AlertKey, int]] = {}  # resolved by this catch-up, after `lately`
        for held, resolved in self._order:
            number = held.id
            if resolved:
                latest.setdefault(held.project, {})[held.key] = number
                continue
            held.into.append(number)
            if not held.channels:
                continue
            if held.quiet:
                why = QUIET
            elif self._window <= timedelta(0):
                why = None
            else:
                earlier = latest.get(held.project, {}).get(held.key)
                if earlier is None:
                    earlier = lately.get(held.project, {}).get(held.key)
                why = self._why(earlier)
            queued.append((number, held.channels, why))
        self._unit.outbox.queue_many(queued, self._now)
        self._resolutions, self._raises, self._order = [], [], []
        self._held_open.clear()
