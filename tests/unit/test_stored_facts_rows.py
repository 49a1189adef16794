"""Stored facts rows parsed for the readers of many projects (`stored_facts.parsed_rows`, shared by
`current_facts` and `listed_facts_of`): a row of another version than the caller read is left out,
so is one whose facts do not parse (of an older format); the rest are parsed, kept in the cache by
project and the facts' version, and returned by project."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ktpledger.service.caches import BoundedCache
from ktpledger.service.stored_facts import parsed_rows


@dataclass(frozen=True)
class Facts:
    project: str
    version: int


def parse(document: Mapping[str, Any]) -> Facts:
    if document.get("format") != 1:
        raise ValueError("another format")
    return Facts(str(document["project"]), int(document["version"]))


def row(project: str, version: int, **facts: Any) -> dict[str, Any]:
    document = {"format": 1, "project": project, "version": version, **facts}
    return {"project": project, "version": version, "facts": json.dumps(document)}


def test_rows_of_the_version_read_are_parsed_and_kept_the_rest_left_to_the_caller() -> None:
    cache: BoundedCache[tuple[str, int], Facts] = BoundedCache(10)
    rows = [
        row("A", 3),
        row("B", 4),  # the caller read version 5: left out
        row("C", 2, format=0),  # facts of an older format: left out
        {"project": "D", "version": 1, "facts": "{not json"},  # left out (a ValueError)
        {"project": "E", "version": 1, "facts": json.dumps({"format": 1})},  # left out (a KeyError)
        row("F", 7),
    ]
    versions = {"A": 3, "B": 5, "C": 2, "D": 1, "E": 1, "F": 7}
    found = parsed_rows(rows, versions, parse, cache)
    assert found == {"A": Facts("A", 3), "F": Facts("F", 7)}
    assert list(found) == ["A", "F"]  # in the rows' order
    assert cache.get(("A", 3)) == Facts("A", 3) and cache.get(("F", 7)) == Facts("F", 7)
    assert [cache.get((name, versions[name])) for name in "BCDE"] == [None] * 4
