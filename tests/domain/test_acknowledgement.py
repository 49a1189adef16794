"""R-39 in the domain: `AlertAcknowledged` read at the door, what the project's stream alone tells
(`ProjectState`), and an acknowledgement moving no figure and not the ledger's clock (`LiveProject`).
Figures by hand (tests.ledger.factory's offer: 24 months from 2024-10-01, offered 2024-09-02;
travel budget 2,500)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from ktpledger.domain.alert_views import long_date
from ktpledger.domain.alerts import CLOCK_KINDS, AlertKey, AlertKind
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.events import MAX_TEXT_LENGTH, STORED_ALERT_KINDS, AlertAcknowledged, parse_event
from ktpledger.domain.live import LiveProject
from tests.domain.support import build
from tests.ledger.factory import PROJECT, claim, event, offer

TS = "travel_subsistence"


def acknowledgement(
    key: str = "ack-1", day: str = "2024-10-20", *, note: Any = "Asked the LMC", **data: Any
) -> dict[str, Any]:
    body = {"category": TS, "kind": "threshold", "subject": "0.80", "raised_at_version": 2, "note": note}
    body.update(data)
    return event("AlertAcknowledged", key, day, body)


def refusal(raw: dict[str, Any], *folded: dict[str, Any]) -> RuleViolation:
    with pytest.raises(RuleViolation) as refused:
        event_ = parse_event(raw)
        build(*folded).check(event_)
    return refused.value


# 2,100.00 of 2,500: 84%, so the 80% threshold is raised at version 2 (month 1: no forecast yet).
STORY = (offer(), claim("t1", "2100.00", category=TS, date="2024-10-15"))


def test_the_stored_kinds_are_the_alert_kinds_but_the_calendars() -> None:
    assert set(STORED_ALERT_KINDS) == {kind.value for kind in AlertKind} - CLOCK_KINDS


def test_an_acknowledgement_reads_its_fields_and_writes_them_back() -> None:
    parsed = parse_event(acknowledgement(note="  Asked the LMC  "))
    assert isinstance(parsed.payload, AlertAcknowledged)
    assert parsed.payload.crossing == (TS, "threshold", "0.80", 2)
    assert parsed.payload.to_data() == {
        "category": TS,
        "kind": "threshold",
        "subject": "0.80",
        "raised_at_version": 2,
        "note": "Asked the LMC",
    }
    without_subject = parse_event(acknowledgement(kind="over_budget", subject=None))
    assert without_subject.payload.to_data()["subject"] == ""  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("data", "rule", "field"),
    [
        ({"note": ""}, "R-39", "note"),
        ({"note": "   "}, "R-39", "note"),
        ({"note": "x" * (MAX_TEXT_LENGTH + 1)}, "R-39", "note"),
        ({"note": None}, "R-39", "note"),
        ({"note": "a\x07bell"}, "R-30", "note"),  # a control character: the text rules of every event
        ({"kind": "ended_not_closed"}, "R-39", "kind"),
        ({"kind": "nonsense"}, "R-39", "kind"),
        ({"category": "catering"}, "R-39", "category"),
        ({"raised_at_version": 0}, "R-39", "raised_at_version"),
        ({"raised_at_version": "2"}, "R-39", "raised_at_version"),
        ({"raised_at_version": 2.5}, "R-39", "raised_at_version"),
        ({"subject": 80}, "R-39", "subject"),
        ({"alert": 3}, "R-30", "alert"),
    ],
)
def test_an_acknowledgement_of_the_wrong_form_is_refused_naming_the_field(
    data: dict[str, Any], rule: str, field: str
) -> None:
    note = data.pop("note", "Asked the LMC")
    raw = acknowledgement(note=note, **data)
    if note is None:
        del raw["data"]["note"]
    with pytest.raises(RuleViolation) as refused:
        parse_event(raw)
    assert (refused.value.rule, refused.value.field) == (rule, field), refused.value


def test_the_stream_alone_refuses_a_later_version_a_second_acknowledgement_and_a_date_before_the_offer() -> (
    None
):
    state = build(*STORY)
    state.check(parse_event(acknowledgement()))  # version 2 raised it: accepted
    later = refusal(acknowledgement(raised_at_version=3), *STORY)
    assert (later.rule, later.field) == ("R-39", "raised_at_version")
    assert "is at version 2" in later.message
    early = refusal(acknowledgement(day="2024-09-01"), *STORY)
    assert (early.rule, early.field) == ("R-39", "date")
    twice = refusal(acknowledgement("ack-2", note="again"), *STORY, acknowledgement())
    assert (twice.rule, twice.field) == ("R-39", "raised_at_version")
    assert "acknowledged already, on 2024-10-20 (version 3)" in twice.message
    # Another alert (the 90% threshold, were it raised) is another crossing.
    build(*STORY, acknowledgement()).check(parse_event(acknowledgement("ack-2", subject="0.90")))
    unknown = refusal(acknowledgement())  # no grant offer yet
    assert unknown.rule == "R-31"


def test_a_closed_project_takes_an_acknowledgement() -> None:
    closed = (*STORY, event("ProjectClosed", "close", "2024-10-30", {}))
    build(*closed).check(parse_event(acknowledgement(day="2024-11-02")))
    assert build(*closed, acknowledgement(day="2024-11-02")).acknowledged == {
        (TS, "threshold", "0.80", 2): (4, date(2024, 11, 2), "Asked the LMC")
    }


def test_an_acknowledgement_moves_no_figure_and_not_the_ledgers_clock() -> None:
    live = LiveProject.new(PROJECT)
    for version, raw in enumerate(STORY, start=1):
        live.apply(parse_event(raw), version)
    threshold = AlertKey(TS, AlertKind.THRESHOLD, "0.80")
    assert set(live.conditions()) == {threshold}
    lines = dict(live.lines)
    # Dated 2025-03-01, month 6: were it a fact, the clock would move there and the forecast,
    # 2,100.00 spent + the even plan's last 18 months (2,500 x 18/24 = 1,875.00) = 3,975.00
    # > 2,500, would be raised. It is not.
    changes = live.apply(parse_event(acknowledgement(day="2025-03-01")), 3)
    assert (changes.raised, changes.resolved) == ({}, [])
    assert live.latest == date(2024, 10, 15) and live.version == 3 and live.lines == lines
    # A grant payment on the same day is a fact of the ledger: the clock moves, the forecast holds.
    changes = live.apply(parse_event(event("GrantPayment", "pay-1", "2025-03-01", {"amount": "10.00"})), 4)
    forecast = changes.raised[AlertKey(TS, AlertKind.FORECAST_OVERSPEND)]
    assert (forecast["month"], forecast["forecast"], forecast["excess"]) == (6, "3975.00", "1475.00")
    # Folding without alerts (a catch-up after a restart) keeps the clock where it was too.
    quiet = LiveProject.new(PROJECT)
    for version, raw in enumerate((*STORY, acknowledgement(day="2025-03-01")), start=1):
        quiet.fold(parse_event(raw), version)
    assert quiet.latest == date(2024, 10, 15)


def test_readers_write_dates_as_people_read_them() -> None:
    assert long_date(date(2025, 3, 14)) == "14 March 2025"
    assert long_date(date(2024, 12, 2)) == "2 December 2024"
