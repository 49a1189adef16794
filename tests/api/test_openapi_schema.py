"""The OpenAPI document refuses what the server refuses for its form (api/openapi.py): checked
here input by input with a JSON Schema validator, beside the schemathesis run that checks it
against the server."""

from __future__ import annotations

from typing import Any, cast

import jsonschema_rs
import pytest

from tests.api.openapi_document import openapi_document
from tests.ledger.factory import claim, decision, event, offer

DOCUMENT = openapi_document()


def parameter(path: str, name: str) -> dict[str, Any]:
    [operation] = DOCUMENT["paths"][path].values()
    [found] = [item for item in operation["parameters"] if item["name"] == name]
    return cast(dict[str, Any], found)


def valid(schema: dict[str, Any], value: object) -> bool:
    return bool(jsonschema_rs.validator_for(schema).is_valid(value))


EVENT = {**DOCUMENT["components"]["schemas"]["Event"], "components": DOCUMENT["components"]}


def test_every_schema_in_the_document_compiles() -> None:
    def schemas(node: object) -> list[dict[str, Any]]:
        if isinstance(node, dict):
            found = [node["schema"]] if isinstance(node.get("schema"), dict) else []
            return found + [item for value in node.values() for item in schemas(value)]
        if isinstance(node, list):
            return [item for value in node for item in schemas(value)]
        return []

    for schema in [*schemas(DOCUMENT["paths"]), EVENT]:
        jsonschema_rs.validator_for({**schema, "components": DOCUMENT["components"]})  # raises if not


@pytest.mark.parametrize(
    ("path", "name", "good", "bad"),
    [
        (
            "/projects/{project}/events",
            "project",
            ["KTP-0042", "a", "x/y.z_1-2", "A" * 64],
            ["", "-KTP", "KTP 42", "KTP-0042\n", "KTP\u00e9", "A" * 65, "KTP-0042?x"],
        ),
        (
            "/projects",
            "today",
            ["2025-06-30", "1990-01-01", "2099-12-31"],
            [
                "",
                "2025-6-30",
                "20250630",
                "1989-12-31",
                "2100-01-01",
                "2025-13-01",
                "2025-06-30\n",
                "\uff12\uff10\uff12\uff15-06-30",
            ],
        ),
        (
            "/projects/{project}/claim-pack",
            "quarter",
            ["2025Q2", "1990Q1"],
            ["2025Q5", "2025q2", "25Q2", "2025Q2 "],
        ),
        ("/projects/{project}/reconciliation", "format", ["pdf", "json"], ["PDF", "docx", ""]),
        (
            "/costing",
            "salary",
            ["0", "35000", "35000.5", "35000.50"],
            ["", "-1", "1e3", "1.234", "1,000", "\u0661\u0662", "+5", "1.", ".5"],
        ),
        ("/costing", "months", ["1", "24", "60"], ["0", "61", "024", "1.0", " 24"]),
        ("/costing", "supervisor_fte", ["0", "0.1", "1", "1.0"], ["1.1", "-0.1", "0.1e1", ""]),
        ("/costing", "methodology", ["fec", "non_fec"], ["FEC", "other"]),
    ],
)
def test_parameters_refuse_what_the_server_refuses(
    path: str, name: str, good: list[str], bad: list[str]
) -> None:
    found = parameter(path, name)
    for value in good:
        assert valid(found["schema"], value), (name, value)
    for value in bad:
        assert not valid(found["schema"], value), (name, value)


def test_the_claim_packs_quarter_is_required() -> None:
    assert parameter("/projects/{project}/claim-pack", "quarter")["required"] is True


GOOD_EVENTS = [
    offer(),
    offer(methodology="non_fec", budget={"academic_secretarial_support": "30000"}),
    claim("rail", "86.40", tags=["conference"]),
    decision(
        "lmc",
        kind="virement",
        **{"from": "consumables", "to": "travel_subsistence", "amount": "500", "minute": "m"},
    ),
    decision("lmc", kind="extension", months=3, costed=False),
    decision("lmc", kind="budget_revision", budget={"consumables": "4500"}, minute="LMC 3"),
    decision(
        "lmc",
        kind="approve_exceedance",
        category="consumables",
        limit="5000",
        justification="j",
        approved_by="LMC",
    ),
    event("ClaimReversed", "undo", "2025-02-10", {"claim": "rail", "reason": "refund"}),
    event("ParentalLeaveCost", "pl", "2025-06-30", {"amount": "2400.00", "description": "pay"}),
    event("GrantPayment", "pay", "2025-04-28", {"amount": "9100"}),
    event("ProjectClosed", "close", "2026-10-15", {}),
    {"type": "ProjectClosed", "project": "KTP-0042", "key": "close", "date": "2026-10-15"},
    event("OfferAmended", "amend", "2025-03-01", {"reason": "typo", "title": "Machine vision QA"}),
    event(
        "OfferAmended",
        "amend",
        "2025-03-01",
        {"reason": "r", "start": "2024-11-01", "months": 24, "budget": {"consumables": "4500"}},
    ),
    event("ProjectReopened", "reopen", "2026-11-01", {"reason": "a late invoice"}),
]


def changed(item: dict[str, Any], **data: Any) -> dict[str, Any]:
    return {**item, "data": {**item["data"], **data}}


BAD_EVENTS = {
    "unknown type": {**claim("x"), "type": "SpendMade"},
    "extra envelope field": {**claim("x"), "extra": 1},
    "project with a newline": {**claim("x"), "project": "KTP-0042\n"},
    "date out of range": {**claim("x"), "date": "2100-01-01"},
    "blank key": {**claim("x"), "key": " "},
    "money with a sign": changed(claim("x"), amount="-5.00"),
    "money with an exponent": changed(claim("x"), amount="1e3"),
    "three decimals": changed(claim("x"), amount="1.005"),
    "money as a float": changed(claim("x"), amount=1.5),
    "zero claim": changed(claim("x"), amount="0.00"),
    "unknown category": changed(claim("x"), category="snacks"),
    "the derived line claimed": changed(claim("x"), category="knowledge_base_overheads"),
    "unknown tag": changed(claim("x"), tags=["party"]),
    "blank description": changed(claim("x"), description="  "),
    "NUL in a description": changed(claim("x"), description="a\x00b"),
    "text too long": changed(claim("x"), description="x" * 2001),
    "extra data field": changed(claim("x"), note="n"),
    "no amount": {**claim("x"), "data": {"category": "consumables", "description": "d"}},
    "offer before the first rule set": {**offer(), "date": "2023-01-25"},
    "offer of the derived line": changed(offer(), budget={"knowledge_base_overheads": "1000"}),
    "fec offer of a non-fec line": changed(offer(), budget={"academic_secretarial_support": "1000"}),
    "non-fec supervisor cost": changed(offer(methodology="non_fec", budget={}), supervisor_cost="50000"),
    "virtual and London": changed(offer(), virtual=True, london=True),
    "months out of range": changed(offer(), months=61),
    "budget in pence": changed(offer(), budget={"consumables": "100.50"}),
    "grant rate of 0": changed(offer(), grant_rate="0"),
    "unknown business type": changed(offer(), business_type="charity"),
    "unknown decision kind": decision("lmc", kind="merger", minute="m"),
    "virement to the same line": decision(
        "lmc", kind="virement", **{"from": "consumables", "to": "consumables", "amount": "500", "minute": "m"}
    ),
    "empty budget revision": decision("lmc", kind="budget_revision", budget={}, minute="m"),
    "extension of 0 months": decision("lmc", kind="extension", months=0),
    "closure with data": event("ProjectClosed", "close", "2026-10-15", {"reason": "done"}),
    "amendment without a reason": event("OfferAmended", "a", "2025-03-01", {"title": "t"}),
    "amendment of nothing": event("OfferAmended", "a", "2025-03-01", {"reason": "r"}),
    "amendment of the methodology": event(
        "OfferAmended", "a", "2025-03-01", {"reason": "r", "methodology": "non_fec"}
    ),
    "amendment with a null": event("OfferAmended", "a", "2025-03-01", {"reason": "r", "title": None}),
    "amendment of months as text": event("OfferAmended", "a", "2025-03-01", {"reason": "r", "months": "24"}),
    "amendment of an empty budget": event("OfferAmended", "a", "2025-03-01", {"reason": "r", "budget": {}}),
    "amendment to virtual and London": event(
        "OfferAmended", "a", "2025-03-01", {"reason": "r", "virtual": True, "london": True}
    ),
    "reopening without a reason": event("ProjectReopened", "r", "2026-11-01", {}),
    "reopening with a blank reason": event("ProjectReopened", "r", "2026-11-01", {"reason": " "}),
}


def test_events_the_server_records_are_valid() -> None:
    for item in GOOD_EVENTS:
        assert valid(EVENT, item), item


@pytest.mark.parametrize("what", sorted(BAD_EVENTS))
def test_events_the_server_refuses_for_their_form_are_invalid(what: str) -> None:
    assert not valid(EVENT, BAD_EVENTS[what]), what
