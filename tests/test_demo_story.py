"""The demo's story as data (issue 12, item 8): demo_story.jsonl, read by a short driver."""

from __future__ import annotations

from importlib import resources

import pytest

from ktpledger.demo_story import PROJECT, STORY, is_step, quarters
from ktpledger.domain.errors import RuleViolation
from ktpledger.service.json_input import load_json_lines

HEADINGS = [
    "Grant offer",
    "2024 Q2",
    "2024 Q3",
    "2024 Q4",
    "2025 Q1",
    "2025 Q2",
    "2025 Q3",
    "LMC, October 2025",
    "2025 Q4",
    "2026 Q1 and closure",
]


def story_text() -> str:
    return resources.files("ktpledger").joinpath(STORY).read_text(encoding="utf-8")


def test_the_story_is_told_in_its_steps_for_one_project() -> None:
    steps = quarters()
    assert [heading for heading, _ in steps] == HEADINGS
    events = [event for _, items in steps for event in items if not is_step(event)]
    assert len(events) == 49  # with the offer letter's spend profile and a payment per claim
    assert all(items for _, items in steps)
    assert {event["project"] for event in events} == {PROJECT}
    assert len({event["key"] for event in events}) == len(events)
    assert steps[0][1][0]["type"] == "GrantOffered" and events[-1]["type"] == "GrantPayment"


def test_the_events_are_lines_the_ledger_reads_as_they_are() -> None:
    read = [
        item
        for item in load_json_lines(story_text())
        if not (isinstance(item, dict) and ("heading" in item or "step" in item))
    ]
    assert not [item for item in read if isinstance(item, RuleViolation)]
    assert read == [event for _, items in quarters() for event in items if not is_step(event)]


def test_each_ended_quarter_is_claimed_invoiced_and_paid_in_order() -> None:
    items = [item for _, found in quarters() for item in found]
    ended = ["2024Q2", "2024Q3", "2024Q4", "2025Q1", "2025Q2", "2025Q3", "2025Q4", "2026Q1"]
    for kind in ("claim", "invoice", "invoice_payment"):
        assert [item["quarter"] for item in items if item.get("step") == kind] == ended, kind
    # A grant payment names each claim, after it in the story; the final claim comes before the
    # closure (a claim on a closed project is refused, R-36).
    order = [item.get("step") or item["type"] for item in items]
    payments = [item for item in items if item.get("type") == "GrantPayment"]
    assert [payment["data"]["claim"] for payment in payments] == list(range(1, 9))
    claims = [index for index, kind in enumerate(order) if kind == "claim"]
    paid = [index for index, kind in enumerate(order) if kind == "GrantPayment"]
    assert all(claim < payment for claim, payment in zip(claims, paid, strict=True))
    assert claims[-1] < order.index("ProjectClosed")
    narrated = {name for item in items if item.get("step") == "claim" for name in item["narratives"]}
    assert narrated <= {
        "associate_development",
        "additional_associate_support",
        "consumables",
        "travel_subsistence",
    }


def test_the_story_has_no_binary_floats() -> None:
    def numbers(node: object) -> list[object]:
        if isinstance(node, dict):
            return [number for value in node.values() for number in numbers(value)]
        if isinstance(node, list):
            return [number for value in node for number in numbers(value)]
        return [node] if isinstance(node, float) else []

    assert numbers(quarters()) == []


def test_an_event_before_the_first_heading_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    class Story:
        def joinpath(self, name: str) -> Story:
            return self

        def read_text(self, encoding: str) -> str:
            return '{"type": "ProjectClosed", "project": "P", "key": "k", "date": "2026-01-01", "data": {}}\n'

    monkeypatch.setattr(resources, "files", lambda package: Story())
    with pytest.raises(ValueError, match="line 1: an event before the first heading"):
        quarters()


def test_an_unknown_step_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    class Story:
        def joinpath(self, name: str) -> Story:
            return self

        def read_text(self, encoding: str) -> str:
            return '{"heading": "H"}\n{"step": "refund", "quarter": "2025Q1", "date": "2025-04-02"}\n'

    monkeypatch.setattr(resources, "files", lambda package: Story())
    with pytest.raises(ValueError, match="line 2: unknown step 'refund'"):
        quarters()
