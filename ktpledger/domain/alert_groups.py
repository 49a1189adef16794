"""Alerts across projects, grouped so that twenty alerts of one kind read as one line (issue 16):
`ktpledger alerts --group`, `GET /alerts/groups` and the dashboard's alerts page.

A group is every alert of one kind among those shown, with how many there are, on which projects
and lines, how many are acknowledged (R-39), and one sentence. Groups come most pressing first: red
kinds, then amber, then the rest (`info`: the 80% and 90% thresholds), as the project's health
orders its reasons (R-47, `health.severity`); then the larger group first, then by kind.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from ktpledger.domain.alert_views import ShownAlert
from ktpledger.domain.health import Health, severity
from ktpledger.domain.labels import category_label, kind_label

INFO = "info"
SEVERITY_ORDER = {Health.RED.value: 0, Health.AMBER.value: 1, INFO: 2}
NAMES_SHOWN = 3  # projects named in a group's sentence before "and N more"


def alert_severity(alert: ShownAlert) -> str:
    """`red`, `amber` or `info` for one alert, by its kind and its figures now (or as raised)."""
    found = severity(alert.kind.value, alert.current or alert.detail)
    return INFO if found is None else found.value


@dataclass(frozen=True)
class AlertGroup:
    """The alerts of one kind."""

    kind: str
    alerts: tuple[ShownAlert, ...]

    @property
    def severity(self) -> str:
        return min((alert_severity(alert) for alert in self.alerts), key=SEVERITY_ORDER.__getitem__)

    @property
    def projects(self) -> list[tuple[str, int]]:
        """Each project with its count of the group's alerts, by name."""
        return sorted(Counter(alert.project for alert in self.alerts).items())

    @property
    def categories(self) -> list[tuple[str, int]]:
        """Each budget line with its count ("" for the project-wide kinds), by line."""
        return sorted(Counter(alert.category or "" for alert in self.alerts).items())

    @property
    def acknowledged(self) -> int:
        return sum(1 for alert in self.alerts if alert.acknowledged is not None)

    @property
    def oldest(self) -> date | None:
        """The earliest raise (None when every alert is a clock finding)."""
        return min((alert.raised_on for alert in self.alerts if alert.raised_on), default=None)

    def summary(self) -> str:
        """One sentence: "Claim due: 20 alerts in 20 projects (KTP-01, KTP-02, KTP-03 and 17 more)."""
        count, projects = len(self.alerts), self.projects
        names = [name for name, _ in projects[:NAMES_SHOWN]]
        more = len(projects) - len(names)
        listed = ", ".join(names) + (f" and {more} more" if more else "")
        said = (
            f"{kind_label(self.kind)}: {count} alert{'' if count == 1 else 's'} in "
            f"{len(projects)} project{'' if len(projects) == 1 else 's'} ({listed})"
        )
        lines = [(name, n) for name, n in self.categories if name]
        if lines:
            said += ", on " + ", ".join(f"{category_label(name)} ({n})" for name, n in lines)
        if self.acknowledged:
            said += f"; {self.acknowledged} acknowledged"
        return said + "."

    def to_json(self) -> dict[str, Any]:
        oldest = self.oldest
        return {
            "kind": self.kind,
            "label": kind_label(self.kind),
            "severity": self.severity,
            "count": len(self.alerts),
            "acknowledged": self.acknowledged,
            "oldest_raised_on": None if oldest is None else oldest.isoformat(),
            "projects": [{"project": name, "count": n} for name, n in self.projects],
            "categories": [{"category": name or None, "count": n} for name, n in self.categories],
            "summary": self.summary(),
            "alerts": [alert.to_json() for alert in self.alerts],
        }


def group_alerts(alerts: Iterable[ShownAlert]) -> list[AlertGroup]:
    """The alerts by kind, most pressing group first (module docstring); within a group, in the
    order given."""
    by_kind: dict[str, list[ShownAlert]] = {}
    for alert in alerts:
        by_kind.setdefault(alert.kind.value, []).append(alert)
    groups = [AlertGroup(kind, tuple(found)) for kind, found in by_kind.items()]
    groups.sort(key=lambda group: (SEVERITY_ORDER[group.severity], -len(group.alerts), group.kind))
    return groups
