"""Digest notifications (issue 16, item 5): one message a day or a week per recipient saying what
changed since that recipient's last digest, in place of one e-mail per crossing.

A digest compares the alerts open now (stored alerts and the calendar's findings as of the day,
as every reader shows them) with the *snapshot* kept with the recipient's previous digest:

- **new**: open now, not open at the last digest (on a recipient's first digest, every open
  alert is new);
- **resolved**: open at the last digest, not open now (an alert raised and resolved between two
  digests is in neither: it never stood at a digest);
- **worsening**: open at both, and worse now (`worse`): a larger excess, shortfall, ineligible
  or outstanding amount, a larger gap to the profile, a claim or invoice gone from due to
  overdue, or a higher severity (R-47: amber to red, e.g. a project 90 days past its end);
- **still open**: open at both and not worsening.

An alert is the same alert from one digest to the next by `identity`: project, line, kind and
subject; a calendar finding's due and overdue count as one (`claim`, `invoice`), so a claim going
overdue is the same claim worsening, not one resolved and one new.

Nothing is sent when nothing is new, resolved or open (`Digest.empty`): an open alert is repeated
in every digest until it is resolved, as the KTP office's list of what is outstanding.

Standard library only: the service reads the alerts and keeps the snapshots.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from ktpledger.domain.alert_groups import SEVERITY_ORDER, AlertGroup, alert_severity, group_alerts
from ktpledger.domain.alert_views import ShownAlert, long_date
from ktpledger.domain.labels import category_label, kind_label

DAY = "day"
WEEK = "week"
PERIODS = (DAY, WEEK)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# The figures whose growth makes an open alert worse (money, as the alerts store it).
WORSE_WHEN_LARGER = ("excess", "shortfall", "ineligible", "outstanding", "difference")
# A calendar finding's due and overdue kinds are one alert going from due to overdue.
FAMILIES = {
    "claim_due": "claim",
    "claim_overdue": "claim",
    "invoice_due": "invoice",
    "invoice_overdue": "invoice",
}
OVERDUE_KINDS = frozenset({"claim_overdue", "invoice_overdue"})


@dataclass(frozen=True)
class DigestRecipient:
    """Who gets a digest, how often, and of what: `projects` and `kinds` empty mean all of them."""

    email: str
    every: str = DAY
    weekday: int = 0  # Monday; a weekly digest is made on this day (0 Monday .. 6 Sunday)
    projects: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()

    def wants(self, project: str, kind: str) -> bool:
        return (not self.projects or project in self.projects) and (not self.kinds or kind in self.kinds)

    def due_on(self, today: date) -> bool:
        """Whether a digest is made on `today`: every day, or on the recipient's weekday. A weekly
        digest whose day passed without a run (the service down all day) is not made later: the
        next one compares with the last made, so what changed meanwhile is in it."""
        return self.every == DAY or today.weekday() == self.weekday

    def period(self, today: date) -> tuple[date, date]:
        """The period the digest made on `today` covers, first and last day: the day itself, or
        the week (seven days) ending with it."""
        if self.every == DAY:
            return today, today
        return today - timedelta(days=6), today

    def to_json(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "every": self.every,
            "weekday": WEEKDAYS[self.weekday] if self.every == WEEK else None,
            "projects": sorted(self.projects) or "all",
            "kinds": sorted(self.kinds) or "all",
        }


def identity(alert: ShownAlert) -> str:
    """The same alert from one digest to the next (module docstring), as one string."""
    kind = alert.kind.value
    return "|".join((alert.project, alert.category or "", FAMILIES.get(kind, kind), alert.subject))


def _figures(alert: ShownAlert) -> Mapping[str, Any]:
    return alert.current or alert.detail or {}


def _amount(value: Any) -> Decimal | None:
    try:
        return abs(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return None


def measures(alert: ShownAlert) -> dict[str, str]:
    """The figures kept in a snapshot to judge later whether the alert got worse."""
    figures = _figures(alert)
    return {name: str(figures[name]) for name in WORSE_WHEN_LARGER if figures.get(name) is not None}


def snapshot_entry(alert: ShownAlert) -> dict[str, Any]:
    """What a digest keeps of one open alert for the next digest to compare with."""
    return {
        "project": alert.project,
        "category": alert.category or "",
        "kind": alert.kind.value,
        "subject": alert.subject,
        "severity": alert_severity(alert),
        "measures": measures(alert),
        "message": alert.message,
    }


def worse(alert: ShownAlert, before: Mapping[str, Any]) -> list[str]:
    """How `alert` got worse since `before` (its snapshot entry), in words; empty if it did not."""
    found: list[str] = []
    kind = alert.kind.value
    if kind in OVERDUE_KINDS and before.get("kind") != kind:
        found.append("now overdue")
    was, now = str(before.get("severity", "info")), alert_severity(alert)
    if SEVERITY_ORDER.get(now, 2) < SEVERITY_ORDER.get(was, 2):
        found.append(f"{was} to {now}")
    earlier = before.get("measures") or {}
    for name, value in measures(alert).items():
        old, new = _amount(earlier.get(name)), _amount(value)
        if old is not None and new is not None and new > old:
            found.append(f"{name.replace('_', ' ')} {earlier[name]} to {value}")
    return found


@dataclass(frozen=True)
class Worsening:
    alert: ShownAlert
    how: tuple[str, ...]


@dataclass(frozen=True)
class Digest:
    """One recipient's digest for one period."""

    recipient: DigestRecipient
    today: date
    start: date
    end: date
    new: tuple[ShownAlert, ...]
    worsening: tuple[Worsening, ...]
    still_open: tuple[ShownAlert, ...]
    resolved: tuple[Mapping[str, Any], ...]  # snapshot entries of the alerts no longer open
    first: bool  # no earlier digest to compare with: every open alert is new
    snapshot: dict[str, Any] = field(default_factory=dict)

    @property
    def open_count(self) -> int:
        return len(self.new) + len(self.worsening) + len(self.still_open)

    @property
    def empty(self) -> bool:
        """Nothing new, resolved or open: nothing is sent."""
        return not self.open_count and not self.resolved

    def counts(self) -> dict[str, int]:
        return {
            "new": len(self.new),
            "resolved": len(self.resolved),
            "worsening": len(self.worsening),
            "open": self.open_count,
        }

    def period_words(self) -> str:
        if self.recipient.every == DAY:
            return long_date(self.end)
        return f"week to {long_date(self.end)}"

    def subject(self) -> str:
        """ "KTP alerts: 3 new, 1 resolved, 12 open (week to 4 December 2026)"; worsening named when
        there is any."""
        counts = self.counts()
        said = f"{counts['new']} new, {counts['resolved']} resolved, {counts['open']} open"
        if counts["worsening"]:
            said += f", {counts['worsening']} worsening"
        return f"KTP alerts: {said} ({self.period_words()})"

    def sections(self) -> list[tuple[str, list[AlertGroup], list[str]]]:
        """(heading, groups by kind most pressing first, extra words per alert) per section with
        anything in it, in the order a reader takes them."""
        worsening_how = {identity(item.alert): "; ".join(item.how) for item in self.worsening}
        found: list[tuple[str, list[AlertGroup], list[str]]] = []
        for heading, alerts in (
            ("New", self.new),
            ("Worsening", tuple(item.alert for item in self.worsening)),
            ("Still open", self.still_open),
        ):
            if alerts:
                groups = group_alerts(_pressing_first(alerts))
                found.append((heading, groups, [worsening_how.get(identity(a), "") for a in alerts]))
        return found

    def text(self) -> str:
        """The plain-text body."""
        counts = self.counts()
        lines = [
            f"KTP alerts, {self.period_words()}: figures as of {long_date(self.today)}.",
            f"{counts['new']} new, {counts['worsening']} worsening, {counts['open']} open in all, "
            f"{counts['resolved']} resolved since the last digest."
            if not self.first
            else f"Your first digest: the {counts['open']} alerts open now.",
            "",
        ]
        worsening_how = {identity(item.alert): "; ".join(item.how) for item in self.worsening}
        for heading, groups, _ in self.sections():
            count = sum(len(group.alerts) for group in groups)
            lines += [f"{heading} ({count})", "=" * (len(heading) + len(str(count)) + 3)]
            for group in groups:
                lines.append(f"[{group.severity}] {group.summary()}")
                for alert in group.alerts:
                    how = worsening_how.get(identity(alert)) if heading == "Worsening" else None
                    lines.append(
                        f"  - {_where(alert)}: {alert.message}" + (f" (worse: {how})" if how else "")
                    )
            lines.append("")
        if self.resolved:
            lines += [f"Resolved ({len(self.resolved)})", "=" * (len(str(len(self.resolved))) + 11)]
            for entry in self.resolved:
                lines.append(
                    f"  - {entry['project']} {category_label(entry['category'])} "
                    f"{kind_label(entry['kind'])}: no longer open (was: {entry['message']})"
                )
            lines.append("")
        by_project = self.by_project()
        if by_project:
            lines += ["By project", "=========="]
            for project, tally in by_project:
                lines.append(f"  {project}: " + ", ".join(f"{n} {what}" for what, n in tally.items() if n))
            lines.append("")
        lines.append(f"Sent to {self.recipient.email}: {_subscription(self.recipient)}.")
        return "\n".join(lines) + "\n"

    def html(self) -> str:
        """The same as `text`, as simple HTML (headings and lists, no styles beyond a colour)."""
        e = html.escape
        counts = self.counts()
        opening = (
            f"<p>KTP alerts, {e(self.period_words())}: figures as of {e(long_date(self.today))}. "
            f"{counts['new']} new, {counts['worsening']} worsening, {counts['open']} open, "
            f"{counts['resolved']} resolved.</p>"
        )
        parts = ["<html><body>", opening]
        worsening_how = {identity(item.alert): "; ".join(item.how) for item in self.worsening}
        for heading, groups, _ in self.sections():
            parts.append(f"<h2>{e(heading)} ({sum(len(g.alerts) for g in groups)})</h2>")
            for group in groups:
                colour = {"red": "#b00020", "amber": "#b36b00"}.get(group.severity, "#555")
                parts.append(f'<h3 style="color:{colour}">{e(group.summary())}</h3><ul>')
                for alert in group.alerts:
                    how = worsening_how.get(identity(alert)) if heading == "Worsening" else None
                    extra = f" <em>(worse: {e(how)})</em>" if how else ""
                    parts.append(f"<li><strong>{e(_where(alert))}</strong>: {e(alert.message)}{extra}</li>")
                parts.append("</ul>")
        if self.resolved:
            parts.append(f"<h2>Resolved ({len(self.resolved)})</h2><ul>")
            for entry in self.resolved:
                parts.append(
                    f"<li>{e(entry['project'])} {e(category_label(entry['category']))} "
                    f"{e(kind_label(entry['kind']))}: no longer open</li>"
                )
            parts.append("</ul>")
        parts.append(f"<p>Sent to {e(self.recipient.email)}: {e(_subscription(self.recipient))}.</p>")
        parts.append("</body></html>")
        return "\n".join(parts) + "\n"

    def by_project(self) -> list[tuple[str, dict[str, int]]]:
        """Each project with its counts of new, worsening, open and resolved alerts, the project
        with the most pressing open alert first."""
        tallies: dict[str, dict[str, int]] = {}
        rank: dict[str, int] = {}

        def tally(project: str) -> dict[str, int]:
            return tallies.setdefault(project, {"new": 0, "worsening": 0, "open": 0, "resolved": 0})

        for alert in (*self.new, *(item.alert for item in self.worsening), *self.still_open):
            tally(alert.project)["open"] += 1
            rank[alert.project] = min(rank.get(alert.project, 3), SEVERITY_ORDER[alert_severity(alert)])
        for alert in self.new:
            tally(alert.project)["new"] += 1
        for item in self.worsening:
            tally(item.alert.project)["worsening"] += 1
        for entry in self.resolved:
            tally(str(entry["project"]))["resolved"] += 1
        return sorted(tallies.items(), key=lambda item: (rank.get(item[0], 3), -item[1]["open"], item[0]))

    def to_json(self) -> dict[str, Any]:
        return {
            "recipient": self.recipient.email,
            "every": self.recipient.every,
            "period_start": self.start.isoformat(),
            "period_end": self.end.isoformat(),
            "as_of": self.today.isoformat(),
            "first": self.first,
            "counts": self.counts(),
            "subject": self.subject(),
            "empty": self.empty,
        }


def _where(alert: ShownAlert) -> str:
    """ "KTP-0042 Travel & subsistence 0.80", "KTP-0042 2024Q4": project, line, subject."""
    parts = [alert.project, category_label(alert.category) if alert.category else "", alert.subject]
    return " ".join(part for part in parts if part)


def _subscription(recipient: DigestRecipient) -> str:
    every = "daily" if recipient.every == DAY else f"weekly on {WEEKDAYS[recipient.weekday].capitalize()}s"
    projects = ", ".join(sorted(recipient.projects)) if recipient.projects else "every project"
    kinds = ", ".join(sorted(recipient.kinds)) if recipient.kinds else "every kind"
    return f"{every}, {projects}, {kinds}"


def _pressing_first(alerts: Iterable[ShownAlert]) -> list[ShownAlert]:
    return sorted(
        alerts, key=lambda a: (SEVERITY_ORDER[alert_severity(a)], a.project, a.category or "", a.subject)
    )


def compose(
    recipient: DigestRecipient,
    today: date,
    alerts: Sequence[ShownAlert],
    previous: Mapping[str, Any] | None,
) -> Digest:
    """The recipient's digest as of `today` from the alerts open now (every project's; those the
    recipient is not subscribed to are left out here) and the snapshot of their previous digest
    (None: the first)."""
    start, end = recipient.period(today)
    mine = [a for a in alerts if a.status.value == "open" and recipient.wants(a.project, a.kind.value)]
    before = dict(previous or {})
    new: list[ShownAlert] = []
    worsening: list[Worsening] = []
    still: list[ShownAlert] = []
    snapshot: dict[str, Any] = {}
    for alert in mine:
        key = identity(alert)
        snapshot[key] = snapshot_entry(alert)
        if key not in before:
            new.append(alert)
            continue
        how = worse(alert, before[key])
        if how:
            worsening.append(Worsening(alert, tuple(how)))
        else:
            still.append(alert)
    resolved = [entry for key, entry in sorted(before.items()) if key not in snapshot]
    # A subscription narrowed since the last digest does not make the alerts it no longer covers
    # "resolved": only those the recipient still wants are.
    resolved = [e for e in resolved if recipient.wants(str(e["project"]), str(e["kind"]))]
    return Digest(
        recipient=recipient,
        today=today,
        start=start,
        end=end,
        new=tuple(new),
        worsening=tuple(worsening),
        still_open=tuple(still),
        resolved=tuple(resolved),
        first=previous is None,
        snapshot=snapshot,
    )
