"""R-39's question the domain cannot answer cheaply: did this version of this project raise this alert?

Where this check lives, and why: `ProjectState` (what the ledger folds to decide each append,
kept warm for thousands of projects) knows nothing of alerts. The alert fold (`domain/live.py`) is
pure, but it recomputes allowance lines and every condition event by event, and which alert rows
exist also depends on how the events were grouped into appends (`live.settle_append`): running it
on every append that holds an acknowledgement would fold the project's whole stream again. The
projection has already done exactly that fold, and an alert row exists only if the ledger raised
it (the projection is derived from the ledger alone and never invents a crossing). So the service
asks the alerts read model before the ledger decides, for the events that acknowledge; the domain
still checks, under the append lock, what the stream alone can tell (an earlier version, not
acknowledged twice: `ProjectState._check_acknowledgement`).

A projection that lags (a broker's worker not yet caught up) can only make this refuse an alert
raised moments ago ("not raised, or not yet projected"): never accept one the ledger did not raise.
"""

from __future__ import annotations

from collections.abc import Sequence

from ktpledger.adapters.database import Database
from ktpledger.adapters.projection_sql import projection_store
from ktpledger.domain.errors import RuleViolation, shown
from ktpledger.domain.events import AlertAcknowledged, Event


def unraised(database: Database, parsed: Sequence[tuple[int, Event]]) -> dict[int, RuleViolation]:
    """The refusal (R-39) of each acknowledgement among `parsed` (index, event) whose alert was not
    raised in its project at the version it names, by index; empty when there is none to check."""
    named = [(index, event) for index, event in parsed if isinstance(event.payload, AlertAcknowledged)]
    if not named:
        return {}
    refused: dict[int, RuleViolation] = {}
    with projection_store(database).read() as unit:
        crossings = {project: unit.alerts.identities(project) for project in {e.project for _, e in named}}
    for index, event in named:
        payload = event.payload
        assert isinstance(payload, AlertAcknowledged)
        if (event.project, *payload.crossing) not in crossings[event.project]:
            refused[index] = RuleViolation(
                "R-39",
                f"project {event.project} has no {payload.kind} alert on {payload.category}"
                + (f" ({shown(payload.subject)})" if payload.subject else "")
                + f" raised at version {payload.raised_at_version} (or it is not projected yet): "
                "name an alert of this project as `ktpledger alerts --all --format json` shows it",
                field="raised_at_version",
            )
    return refused
