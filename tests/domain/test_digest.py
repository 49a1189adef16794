"""The digest's rules on their own (domain/digest.py): periods, identity, what is worse, and
what a narrowed subscription does to "resolved"."""

from __future__ import annotations

from datetime import date
from typing import Any

from ktpledger.domain.alert_views import AlertStatus, ShownAlert
from ktpledger.domain.alerts import AlertKind
from ktpledger.domain.digest import DigestRecipient, compose, identity, snapshot_entry, worse


def shown(
    kind: str, project: str = "KTP-1", category: str | None = "consumables", subject: str = "", **figures: Any
) -> ShownAlert:
    return ShownAlert(
        id=None,
        project=project,
        category=category,
        kind=AlertKind(kind),
        detail=figures,
        current=figures,
        status=AlertStatus.OPEN,
        raised_at_version=None,
        resolved_at_version=None,
        resolved_reason=None,
        notified=True,
        message=f"{kind} {figures}",
        raised_message="",
        subject=subject,
    )


def test_a_weekly_digest_is_due_on_its_weekday_for_the_seven_days_to_it() -> None:
    friday = DigestRecipient("a@b.example", every="week", weekday=4)
    assert friday.due_on(date(2026, 12, 4)) and not friday.due_on(date(2026, 12, 3))
    assert friday.period(date(2026, 12, 4)) == (date(2026, 11, 28), date(2026, 12, 4))
    daily = DigestRecipient("a@b.example")
    assert daily.due_on(date(2026, 12, 3)) and daily.period(date(2026, 12, 3)) == (date(2026, 12, 3),) * 2


def test_a_claim_due_and_overdue_are_one_alert_going_worse() -> None:
    due = shown("claim_due", category=None, subject="2024Q4", days=5)
    overdue = shown("claim_overdue", category=None, subject="2024Q4", days=4)
    assert identity(due) == identity(overdue)
    assert worse(overdue, snapshot_entry(due)) == ["now overdue", "amber to red"]
    # more days overdue alone is not worse: the sentence says how late it is
    assert (
        worse(shown("claim_overdue", category=None, subject="2024Q4", days=9), snapshot_entry(overdue)) == []
    )


def test_a_larger_excess_is_worse_and_a_smaller_one_is_not() -> None:
    before = snapshot_entry(shown("over_budget", excess="296.00"))
    assert worse(shown("over_budget", excess="995.00"), before) == ["excess 296.00 to 995.00"]
    assert worse(shown("over_budget", excess="100.00"), before) == []


def test_a_narrowed_subscription_does_not_make_alerts_resolved() -> None:
    everything = DigestRecipient("a@b.example")
    alerts = [shown("over_budget", excess="10.00"), shown("threshold", subject="0.80")]
    first = compose(everything, date(2026, 12, 3), alerts, None)
    assert (
        first.first
        and len(first.new) == 2
        and first.subject().startswith("KTP alerts: 2 new, 0 resolved, 2 open")
    )
    narrowed = DigestRecipient("a@b.example", kinds=frozenset({"over_budget"}))
    second = compose(narrowed, date(2026, 12, 4), alerts, first.snapshot)
    assert (len(second.new), len(second.resolved), len(second.still_open)) == (0, 0, 1)
    gone = compose(narrowed, date(2026, 12, 5), [], second.snapshot)
    assert gone.counts() == {"new": 0, "resolved": 1, "worsening": 0, "open": 0} and not gone.empty
    assert compose(narrowed, date(2026, 12, 6), [], gone.snapshot).empty
