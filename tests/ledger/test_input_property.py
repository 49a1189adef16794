"""Whatever a submitter sends, `Ledger.append` answers each event "recorded" or "rejected" (naming a
rule), never with an exception, and its answer can be written out as UTF-8 JSON (issue 11, item 2).

Arbitrary Unicode (lone surrogates, controls, separators, any plane) in every text field, and
arbitrary JSON values in every field, envelope and data; bounded examples on SQLite."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ktpledger.bootstrap import App, bootstrap
from ktpledger.service.json_input import parse_json
from ktpledger.service.ledger import AppendResult
from ktpledger.service.schema import upgrade
from ktpledger.settings import Settings
from tests.ledger.factory import claim, decision, event, offer, reversal

EXAMPLES = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
NUMBERS = itertools.count()

# Every character there is, lone surrogates and controls included; the ones the campaign found
# drawn often (a plane of 1.1 million code points holds only 2,048 surrogates).
AWKWARD = "\ud800\udfff\udce9\x00\x07\x1f\x7f\x85\x9f\u2028\u2029\ufeff\ufffe\n\r\t "
# (a list of characters joined: `st.text` draws lone surrogates only rarely, whatever its alphabet)
ANY_TEXT = st.lists(
    st.one_of(st.sampled_from(AWKWARD), st.characters(exclude_categories=())), max_size=12
).map("".join)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.decimals(allow_nan=False, allow_infinity=False, places=None)
    | st.floats(allow_nan=False, allow_infinity=False)
    | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner, max_size=3),
    max_leaves=8,
)


def templates() -> list[dict[str, Any]]:
    """One valid event of each shape onto the offered project (the offer itself, for a new one)."""
    return [
        offer("KTP-NEW", key="offer"),
        claim("claim", "12.34", tags=["computer"]),
        decision(
            "vire",
            kind="virement",
            **{"from": "consumables", "to": "associate_employment"},
            amount="10",
            minute="m",
        ),
        decision(
            "approve",
            kind="approve_exceedance",
            category="consumables",
            limit="5000",
            justification="j",
            approved_by="a",
        ),
        decision("extend", kind="extension", months=1, costed=False),
        decision("revise", kind="budget_revision", budget={"consumables": "4100"}, minute="m"),
        reversal("reverse", "first-claim", "1.00"),
        event("ParentalLeaveCost", "leave", "2025-01-20", {"amount": "5.00", "description": "d"}),
        event("GrantPayment", "pay", "2025-01-20", {"amount": "5.00"}),
    ]


TEXT_FIELDS = (
    "title",
    "knowledge_base",
    "business",
    "description",
    "minute",
    "justification",
    "approved_by",
    "reason",
)


@pytest.fixture
def ledger_app(sqlite_url: str) -> Iterator[App]:
    application = bootstrap(Settings(database_url=sqlite_url))
    upgrade(application.database)
    first = application.ledger.append([offer(), claim("first-claim", "50.00")])
    assert [result.status for result in first] == ["recorded", "recorded"]
    yield application
    application.close()


def unique(item: dict[str, Any]) -> dict[str, Any]:
    """A new key each time (so no answer is a duplicate of an earlier example's)."""
    key = item.get("key")
    return {**item, "key": f"{next(NUMBERS)}-{key}" if isinstance(key, str) else key}


def as_read(line: str) -> object:
    """`line` as a body or file is read (numbers as written, keys kept), under a new key."""
    parsed = parse_json(line)
    return unique(parsed) if type(parsed) is dict else parsed


def answered(results: list[AppendResult], sent: int) -> None:
    assert len(results) == sent
    for result in results:
        assert result.status in ("recorded", "rejected"), result
        if result.status == "rejected":
            assert result.error is not None and result.error.rule.startswith("R-"), result
        # What POST /events sends back: UTF-8 JSON, so nothing in it may be a lone surrogate.
        json.dumps(result.to_json(), ensure_ascii=False).encode("utf-8")


@EXAMPLES
@given(
    template=st.sampled_from(templates()),
    texts=st.fixed_dictionaries(dict.fromkeys((*TEXT_FIELDS, "key", "project"), ANY_TEXT)),
    replace=st.sets(st.sampled_from((*TEXT_FIELDS, "key", "project")), min_size=1),
)
def test_any_unicode_in_any_text_field_is_recorded_or_rejected(
    ledger_app: App, template: dict[str, Any], texts: dict[str, str], replace: set[str]
) -> None:
    item = dict(template)
    data = dict(item["data"])
    for name in replace:
        if name in ("key", "project"):
            item[name] = texts[name]
        elif name in data:
            data[name] = texts[name]
    item["data"] = data
    item = unique(item)
    answered(ledger_app.ledger.append([item]), 1)
    answered(ledger_app.ledger.append([as_read(json.dumps(item))]), 1)


@EXAMPLES
@given(
    template=st.sampled_from(templates()),
    where=st.sampled_from(("type", "project", "key", "date", "data", "data.*", "data.+")),
    field=st.integers(min_value=0, max_value=20),
    value=JSON_VALUES,
)
def test_any_json_value_in_any_field_is_recorded_or_rejected(
    ledger_app: App, template: dict[str, Any], where: str, field: int, value: object
) -> None:
    item = dict(template)
    data = dict(item["data"])
    if where == "data.*":  # one of the data's own fields
        names = sorted(data)
        data[names[field % len(names)]] = value
        item["data"] = data
    elif where == "data.+":  # a field the event type does not have
        item["data"] = {**data, f"extra{field}": value}
    else:
        item[where] = value
    item = unique(item)
    answered(ledger_app.ledger.append([item]), 1)
    answered(ledger_app.ledger.append([as_read(json.dumps(item, default=str))]), 1)
    assert ledger_app.ledger.verify()[1] is None


def test_the_examples_reach_both_answers(ledger_app: App) -> None:
    """The property tests are not vacuous: valid templates are recorded, a surrogate rejected."""
    results = ledger_app.ledger.append([unique(item) for item in templates()])
    assert [result.status for result in results] == ["recorded"] * len(results), results
    bad = unique(claim("bad"))
    bad["data"]["description"] = "a\ud800"
    assert ledger_app.ledger.append([bad])[0].status == "rejected"
