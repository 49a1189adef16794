"""The inputs of the fault campaign (issue 11, items 1 and 2), each as the bytes of one JSON event
as it would stand in a JSON Lines file or a POST /events list, with what the door must say.

`ktpledger record` (tests/ledger/test_record_door.py) and `POST /events`
(tests/api/test_events_door.py) are each given every case between a valid offer and a valid claim:
the case's event is judged on its own, and the events beside it are recorded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tests.ledger.factory import PROJECT, claim, decision, event, offer


def as_bytes(item: dict[str, Any]) -> bytes:
    """One event as ASCII JSON (non-ASCII characters as \\u escapes)."""
    return json.dumps(item).encode("ascii")


def raw_text(item: dict[str, Any]) -> bytes:
    """One event as UTF-8 JSON with non-ASCII characters as themselves (U+2028 stays U+2028)."""
    return json.dumps(item, ensure_ascii=False).encode("utf-8", errors="surrogatepass")


def described(key: str, description: str) -> dict[str, Any]:
    item = claim(key)
    item["data"]["description"] = description
    return item


@dataclass(frozen=True)
class Case:
    """`lines`: the case's events (the last is the one judged; any before it must be recorded).
    `rule`: the rule of the refusal, None when the last event must be recorded; `words`: what the
    message must say."""

    name: str
    lines: tuple[bytes, ...]
    rule: str | None
    words: tuple[str, ...] = ()


BEFORE = as_bytes(offer())  # every case follows the offer of PROJECT
AFTER = as_bytes(claim("after-the-case", "12.34"))  # and is followed by a valid claim

CASES = (
    Case(
        "lone surrogate in a description",
        (as_bytes(described("s", "a\ud800b")),),
        "R-30",
        ("description holds", "lone surrogate U+D800"),
    ),
    Case(
        "lone surrogate in a field name",
        (as_bytes({**claim("s"), "data": {**claim("s")["data"], "\udc00": 1}}),),
        "R-30",
        ('no field "\\udc00"',),  # quoted escaped: a lone surrogate cannot be written out
    ),
    Case("control character in a description", (as_bytes(described("c", "a\x07b")),), "R-30", ("U+0007",)),
    Case("Arabic-Indic digits in money", (as_bytes(claim("u", "\u0665\u0660")),), "R-22", ("ASCII digits",)),
    Case("underscore in money", (as_bytes(claim("u", "1_000.00")),), "R-22", ('"_"',)),
    Case(
        "-0 as a budget line",
        (as_bytes(offer("KTP-0043", budget={**offer()["data"]["budget"], "associate_estates": "-0"})),),
        "R-22",
        ("budget.associate_estates", "without a sign"),
    ),
    Case(
        "-0 as a JSON number",
        (as_bytes(claim("z")).replace(b'"amount": "100.00"', b'"amount": -0'),),
        "R-22",
        ("without a sign", "-0"),
    ),
    Case(
        "an exponent in a JSON number",
        (as_bytes(claim("e")).replace(b'"amount": "100.00"', b'"amount": 1e3'),),
        "R-22",
        ("exponent", "1e3"),
    ),
    Case("an exponent in a string", (as_bytes(claim("e", "1E3")),), "R-22", ("exponent",)),
    Case(
        "months written 2.4e1",
        (as_bytes(offer("KTP-0043")).replace(b'"months": 24', b'"months": 2.4e1'),),
        "R-02",
        ("months must be a whole number", "2.4e1"),
    ),
    Case(
        "a project name ending in a new line",
        (as_bytes(offer(PROJECT + "\n")),),
        "R-30",
        ("project must be a reference",),
    ),
    Case("U+2028 inside a string", (raw_text(described("ls", "line\u2028separator")),), None),
    Case(
        "U+0085 inside a string",
        (raw_text(described("nel", "next\x85line")),),
        "R-30",
        ("description holds", "U+0085"),
    ),
    Case(
        "a key given twice",
        (as_bytes(claim("d", "1.00")).replace(b'"amount": "1.00"', b'"amount": "1.00", "amount": "900.00"'),),
        "R-30",
        ("amount is given twice",),
    ),
    Case(
        "a byte that is not UTF-8",
        (as_bytes(described("b", "caf-e")).replace(b"caf-e", b"caf\xe9"),),
        "R-30",
        ("description holds", "0xE9", "not UTF-8"),
    ),
    Case(
        "an offer starting in 9999",
        (as_bytes(offer("KTP-9999", start="9999-06-01")),),
        "R-01",
        ("start 9999-06-01", "1990-01-01 to 2099-12-31"),
    ),
    Case(
        "an offer whose months end past 2099",
        (as_bytes(offer("KTP-2098", start="2098-06-01")),),
        "R-02",
        ("2100-05-31",),
    ),
    Case(
        "an extension past 2099",
        (
            as_bytes(offer("KTP-2098", start="2098-01-01")),
            as_bytes(decision("ext", "2025-01-01", project="KTP-2098", kind="extension", months=1)),
        ),
        "R-32",
        ("2100-01-31", "extend it by fewer months"),
    ),
    Case(
        "a payment dated 2205",
        (as_bytes(event("GrantPayment", "pay", "2205-01-01", {"amount": "10.00"})),),
        "R-30",
        ("date 2205-01-01",),
    ),
)
