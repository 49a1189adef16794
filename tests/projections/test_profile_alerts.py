"""Issue 15 on both databases: `forecast_underspend`, `behind_profile` and `ahead_of_profile` as the
projection stores them, their figures now beside those of the raise, closure, and replay equal to
the live run. Figures worked out by hand from docs/rules.md (R-41, R-43).

The project is tests.ledger.factory's offer: 24 months from 2024-10-01, consumables 4,000 with no
profile recorded, so planned evenly: 166.666... a month, 500.00 by 2024Q4's end.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ktpledger.bootstrap import App
from ktpledger.service.alert_reader import read_alerts
from ktpledger.service.projections import comparable
from tests.ledger.factory import PROJECT, claim, event, offer

CO = "consumables"


def record(app: App, items: list[dict[str, Any]]) -> None:
    results = app.ledger.append(items)
    assert all(r.status == "recorded" for r in results), [r.to_json() for r in results]


def alerts(app: App, today: date) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for alert in read_alerts(app.database, PROJECT, today=today, include_resolved=True):
        if alert["category"] == CO:
            found.setdefault(alert["kind"], []).append(alert)
    return found


def replay_equals_live(app: App) -> None:
    live = comparable(app.projector.alerts(include_resolved=True))
    app.projector.replay()
    assert comparable(app.projector.alerts(include_resolved=True)) == live


def test_underspend_and_behind_the_profile_are_stored_updated_and_resolved(app: App) -> None:
    record(app, [offer(), claim("c1", "10.00", category=CO, date="2024-10-10")])
    # month 4 (the clock passes 2024-12-31): forecast 10 + 3,333.33 = 3,343.33, 656.67 short;
    # 10.00 spent by 2024Q4's end against 500.00 planned: behind
    record(app, [event("GrantPayment", "g1", "2025-01-05", {"amount": "1.00"})])
    found = alerts(app, date(2025, 1, 5))
    [under], [behind] = found["forecast_underspend"], found["behind_profile"]
    assert under["status"] == behind["status"] == "open"
    assert (under["detail"]["forecast"], under["detail"]["shortfall"]) == ("3343.33", "656.67")
    assert behind["detail"]["difference"] == "490.00"
    # read on 2025-02-10 (month 5): 10 + 4,000 x 19/24 = 3,176.67, 823.33 short, as of that day
    [under] = alerts(app, date(2025, 2, 10))["forecast_underspend"]
    assert (under["current"]["forecast"], under["current"]["holds"]) == ("3176.67", True)
    # a cost recorded late, dated 2024-12-20: 50.00 by 2024Q4's end, still behind; its figures now
    record(app, [claim("c2", "40.00", category=CO, date="2024-12-20")])
    [behind] = alerts(app, date(2025, 1, 5))["behind_profile"]
    assert (behind["detail"]["difference"], behind["current"]["difference"]) == ("490.00", "450.00")
    # 456.67 dated in January: forecast 506.67 + 3,333.33 = 3,840.00, above 95% (3,800): resolved;
    # what was spent by 2024-12-31 has not moved: still behind
    record(app, [claim("c3", "456.67", category=CO, date="2025-01-10")])
    found = alerts(app, date(2025, 1, 10))
    [under], [behind] = found["forecast_underspend"], found["behind_profile"]
    assert (under["status"], under["resolved_reason"], behind["status"]) == (
        "resolved",
        "no_longer_holds",
        "open",
    )
    record(app, [event("ProjectClosed", "close", "2025-01-11", {})])
    [behind] = alerts(app, date(2025, 1, 11))["behind_profile"]
    assert (behind["status"], behind["resolved_reason"]) == ("resolved", "closed")
    replay_equals_live(app)


def test_ahead_of_the_profile_is_stored_and_resolved_by_a_later_quarter_end(app: App) -> None:
    # 1,000.00 in October against 500.00 planned by 2024Q4's end: ahead (by 500.00)
    record(app, [offer(), claim("c1", "1000.00", category=CO, date="2024-10-10")])
    record(app, [event("GrantPayment", "g1", "2025-01-05", {"amount": "1.00"})])
    [ahead] = alerts(app, date(2025, 1, 5))["ahead_of_profile"]
    assert (ahead["status"], ahead["detail"]["quarter"], ahead["detail"]["difference"]) == (
        "open",
        "2024Q4",
        "500.00",
    )
    # the clock passes 2025-03-31: 1,000.00 against 1,000.00 planned: on the profile, resolved
    record(app, [event("GrantPayment", "g2", "2025-04-02", {"amount": "1.00"})])
    [ahead] = alerts(app, date(2025, 4, 2))["ahead_of_profile"]
    assert (ahead["status"], ahead["resolved_reason"]) == ("resolved", "no_longer_holds")
    replay_equals_live(app)
