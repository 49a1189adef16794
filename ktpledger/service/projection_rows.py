"""The projection's rows as the fold gives them and the store keeps them (`adapters/projection_store`):
allowance lines in integer pence, alerts with their figures as canonical JSON text, heads, and each
project's health facts as canonical JSON text."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any

from ktpledger.adapters.projection_store import ACKNOWLEDGEMENT_COLUMNS, Row
from ktpledger.domain.alerts import LINE_KINDS, AlertKey, Conditions
from ktpledger.domain.allowances import Allowance, Exclusions
from ktpledger.domain.events import AlertAcknowledged
from ktpledger.domain.health_facts import facts_of
from ktpledger.domain.live import LiveProject
from ktpledger.domain.money import from_pence, to_pence
from ktpledger.domain.month_ends import SpendMonths
from ktpledger.domain.project import ProjectState
from ktpledger.domain.recorded import RecordedEvent
from ktpledger.domain.rules import Category, LimitKind


def line_row(project: str, ordinal: int, line: Allowance) -> Row:
    return {
        "project": project,
        "category": line.category.value,
        "ordinal": ordinal,
        "budget_pence": to_pence(line.budget),
        "limit_pence": None if line.limit is None else to_pence(line.limit),
        "limit_kind": line.limit_kind.value,
        "spent_pence": to_pence(line.spent),
        "eligible_pence": to_pence(line.eligible),
    }


def line_from_row(row: Any) -> Allowance:
    """An allowance line from a stored row (a mapping of the columns, or an object with them)."""
    get = row.__getitem__ if isinstance(row, dict) else row.__getattribute__
    budget = from_pence(get("budget_pence"))
    spent = from_pence(get("spent_pence"))
    eligible = from_pence(get("eligible_pence"))
    assert budget is not None and spent is not None and eligible is not None
    kind = LimitKind(get("limit_kind"))
    limit = from_pence(get("limit_pence"))
    return Allowance(
        category=Category(get("category")),
        budget=budget,
        limit=limit,
        limit_kind=kind,
        spent=spent,
        eligible=eligible,
        maximum=limit if kind is LimitKind.MAXIMUM else None,
        exclusions=Exclusions(),
    )


def alert_row(
    project: str,
    key: AlertKey,
    detail: dict[str, Any],
    version: int,
    now: datetime,
    *,
    quiet: bool = False,
    on: date | None = None,
) -> Row:
    """A newly raised alert as a row of the `alerts` table: the figures at the raise are its
    `detail` for good, and its `current` figures until they change."""
    figures = json.dumps(detail, sort_keys=True)
    return {
        "project": project,
        "category": key.category,
        "kind": str(key.kind),
        "subject": key.subject,
        "detail": figures,
        # A line kind's figures now are the allowance line's: readers work them out (LINE_KINDS).
        "current": None if key.kind in LINE_KINDS else figures,
        "status": "open",
        "raised_at_version": version,
        "resolved_at_version": None,
        "raised_at": now,
        "resolved_at": None,
        "resolved_reason": None,
        "quiet": quiet,
        "raised_on": on,
        "resolved_on": None,
        **dict.fromkeys(ACKNOWLEDGEMENT_COLUMNS),
    }


def resolution_fields(version: int, on: date | None, now: datetime, reason: str) -> Row:
    """What resolving an open alert row writes onto it: resolved at `version` (dated `on`, the
    event's date), at `now`, for `reason`; its current figures gone."""
    return {
        "status": "resolved",
        "resolved_at_version": version,
        "resolved_on": on,
        "resolved_at": now,
        "resolved_reason": reason,
        "current": None,
    }


def acknowledgement_rows(items: Iterable[RecordedEvent]) -> list[Row]:
    """The acknowledgements (R-39) among `items` (rows of one project's stream that fold), as
    `AlertRepository.acknowledge` takes them: the alert's crossing, and the event's version, date,
    who recorded it and its note."""
    found: list[Row] = []
    for item in items:
        if item.type != AlertAcknowledged.TYPE:
            continue
        payload = item.event().payload
        assert isinstance(payload, AlertAcknowledged)
        by = item.recorder() or {}
        found.append(
            {
                "project": item.project,
                "category": payload.category,
                "kind": payload.kind,
                "subject": payload.subject,
                "raised_at_version": payload.raised_at_version,
                "acknowledged_at_version": item.version,
                "acknowledged_on": item.date,
                "acknowledged_by_name": _text_or_none(by.get("name")),
                "acknowledged_by_role": _text_or_none(by.get("role")),
                "acknowledged_by_channel": _text_or_none(by.get("channel")),
                "acknowledgement_note": payload.note,
            }
        )
    return found


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def current_changes(
    project: str, live: LiveProject, open_alerts: dict[AlertKey, str]
) -> list[tuple[str, AlertKey, str]]:
    """The open alerts whose figures have moved since they were written, as (project, key, figures);
    `open_alerts` takes the new figures. Only the conditions judged again since the last call
    (`LiveProject.moved_conditions`) are compared: the figures of the others have not moved, and a
    project of thousands of open ineligible claims costs what its new events moved, not thousands."""
    moved = live.moved_conditions()
    changes = []
    for key, detail in moved.items():
        if key.kind in LINE_KINDS:
            continue  # figured from the allowance line by readers: nothing to write per event
        if key not in open_alerts:
            continue  # not open: raised and resolved, or never raised (a quiet append)
        figures = json.dumps(detail, sort_keys=True)
        if figures != open_alerts[key]:
            open_alerts[key] = figures
            changes.append((project, key, figures))
    return changes


def facts_row(
    project: str,
    state: ProjectState,
    lines: Sequence[Allowance],
    standing: Conditions | None = None,
    *,
    spend_months: SpendMonths | None = None,
    fact_versions: Sequence[int] | None = None,
) -> Row | None:
    """The `project_facts` row of a folded project (None before its offer): its health facts
    (`domain/health_facts.py`) as JSON, keys sorted, so the same state always writes the same text.
    `standing`: the standing conditions already held (`LiveProject.standing_conditions`);
    `spend_months` and `fact_versions`: what the projector kept for the project page."""
    facts = facts_of(state, lines, standing, spend_months=spend_months, fact_versions=fact_versions)
    if facts is None:
        return None
    return {"project": project, "version": facts.version, "facts": facts.to_text()}


def live_facts_row(live: LiveProject, but_claims: Callable[[], Sequence[RecordedEvent]]) -> Row | None:
    """`facts_row` of the projector's fold, with what it kept for the project page. After a
    back-dated event its spend by month is stale (`month_ends.MonthEnds`) from that event's month:
    those months are rebuilt from `but_claims()` (the stream's events but its claims, read only
    then) and the claims the fold holds (`MonthEnds.rebuild_held`). Should that as-of fold fail,
    the facts go without the page's from then on (its reader folds the stream, and says why): the
    catch-up itself never fails for it."""
    if live.month_ends.stale and not live.month_ends.abandoned:
        others = [item for item in but_claims() if item.version <= live.version]
        try:
            events = [(item.event(), item.version, item.hash) for item in others]
            live.month_ends.rebuild_held(live.state, events)
        except Exception:  # noqa: BLE001 - whatever the as-of fold raises, the projection carries on
            # `month_end_states` applies events without `fold_recorded`'s wrapping, so a refusal
            # may come as any error; the projection's own fold of the same rows has succeeded.
            live.month_ends.abandon()
    return facts_row(
        live.state.project,
        live.state,
        live.ordered_lines(),
        live.standing_conditions(),
        spend_months=live.month_ends.kept(),
        fact_versions=live.fact_versions,
    )
