"""The demo's story as data (issue 12, item 8): demo_story.jsonl, read by a short driver."""

from __future__ import annotations

from importlib import resources

import pytest

from ktpledger.demo_story import PROJECT, STORY, quarters
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
    events = [event for _, items in steps for event in items]
    assert len(events) == 48  # with the offer letter's spend profile
    assert all(items for _, items in steps)
    assert {event["project"] for event in events} == {PROJECT}
    assert len({event["key"] for event in events}) == len(events)
    assert steps[0][1][0]["type"] == "GrantOffered" and events[-1]["type"] == "GrantPayment"


def test_the_events_are_lines_the_ledger_reads_as_they_are() -> None:
    read = [
        item for item in load_json_lines(story_text()) if not (isinstance(item, dict) and "heading" in item)
    ]
    assert not [item for item in read if isinstance(item, RuleViolation)]
    assert read == [event for _, items in quarters() for event in items]


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
