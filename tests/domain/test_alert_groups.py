"""Alerts grouped by kind across projects (issue 16), ordered and said as `domain/alert_groups.py`
says: red groups first, then amber, then the thresholds; the larger group first; then by kind."""

from __future__ import annotations

from datetime import date
from typing import Any

from ktpledger.domain.alert_groups import group_alerts
from ktpledger.domain.alert_views import AlertStatus, ShownAlert
from ktpledger.domain.alerts import AlertKind


def alert(project: str, kind: str, category: str | None = "consumables", **figures: Any) -> ShownAlert:
    return ShownAlert(
        id=None,
        project=project,
        category=category,
        kind=AlertKind(kind),
        detail=figures,
        current=figures,
        status=AlertStatus("open"),
        raised_at_version=None,
        resolved_at_version=None,
        resolved_reason=None,
        notified=False,
        message=kind,
        raised_message=kind,
        raised_on=date(2025, 2, 1),
    )


def test_groups_come_most_pressing_first_and_larger_first() -> None:
    groups = group_alerts(
        [
            alert("P1", "claim_due", None),
            alert("P1", "threshold"),
            alert("P2", "forecast_overspend"),
            alert("P3", "forecast_overspend", "travel_subsistence"),
            alert("P2", "threshold"),
            alert("P3", "threshold"),
            alert("P4", "over_cap"),
        ]
    )
    assert [(g.kind, g.severity, len(g.alerts)) for g in groups] == [
        ("over_cap", "red", 1),
        ("forecast_overspend", "amber", 2),
        ("claim_due", "amber", 1),
        ("threshold", "info", 3),
    ]
    assert groups[1].summary() == (
        "Forecast overspend: 2 alerts in 2 projects (P2, P3), on Equipment & consumables (1), "
        "Travel & subsistence (1)."
    )


def test_a_group_is_as_pressing_as_its_most_pressing_alert() -> None:
    # Ended and not closed: amber up to 90 days after the end, red after.
    [group] = group_alerts(
        [
            alert("P1", "ended_not_closed", None, days_since_end=30),
            alert("P2", "ended_not_closed", None, days_since_end=91),
        ]
    )
    assert group.severity == "red"
    assert group.summary() == "Ended, not closed: 2 alerts in 2 projects (P1, P2)."
