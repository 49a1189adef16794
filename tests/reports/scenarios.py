"""Ledgers the report tests render: real events appended to a real (SQLite) ledger."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from ktpledger.bootstrap import App
from ktpledger.service.json_input import load_json_lines
from ktpledger.service.statements import claim_pack, reconciliation
from tests.ledger.factory import claim, decision, event, offer, reversal

# Text that must come out as text: markup, a spreadsheet formula, and characters beyond ASCII.
HOSTILE_TITLE = '=HYPERLINK("http://example.invalid/x","<script>alert(1)</script>") \u2013 £ bakery QA'
HOSTILE_MINUTE = '=HYPERLINK("http://example.invalid/m","LMC1 item 4")'

# Texts in other scripts, each of which the PDF must draw with an embedded font and give back as text.
GREEK_JAPANESE_TITLE = "Ελληνικά 日本語: 品質管理"
ARABIC_KNOWLEDGE_BASE = "جامعة المثال"
EMOJI_BUSINESS = "Crumb 🍞 & Co"
KOREAN_HEBREW_MINUTE = "회의록 4 — פרוטוקול"
CLAIM_TEXT = "Τρένο 電車 قطار 🚆"
NO_FONT_HAS = "\U000f0001"  # a private-use character: no embedded font draws it


def lifecycle() -> list[dict[str, Any]]:
    """The example project's life: a virement, a partial refund, parental leave, a payment, closed."""
    return [
        offer(
            months=30,
            london=True,
            budget={
                "associate_employment": "120000",
                "associate_development": "5000",
                "travel_subsistence": "3500",
                "consumables": "5000",
                "knowledge_base_supervisor": "20000",
                "associate_estates": "0",
                "additional_associate_support": "45000",
            },
            justifications={"travel_subsistence": "Monthly visits to three bakery sites"},
        ),
        claim("2024Q4-salary", "11250.00", category="associate_employment", date="2024-12-31"),
        claim("2024Q4-laptop", "1399.99", date="2024-10-14", tags=["computer"]),
        claim("2025Q1-rail-1", "86.40", category="travel_subsistence", date="2025-01-20"),
        decision(
            "lmc1-virement",
            "2025-02-05",
            kind="virement",
            **{"from": "consumables", "to": "associate_employment", "amount": "500", "minute": "LMC1 item 4"},
        ),
        reversal("2025Q1-rail-1-refund", "2025Q1-rail-1", "20.00"),
        event(
            "ParentalLeaveCost",
            "pl-2025-06",
            "2025-06-30",
            {"amount": "2400.00", "description": "Paternity pay"},
        ),
        event("GrantPayment", "pay-2025Q1", "2025-04-28", {"amount": "9100.00"}),
        decision("lmc3-extension", "2026-10-01", kind="extension", months=3, costed=False),
        event("ProjectClosed", "close", "2027-07-15", {}),
    ]


def hostile() -> list[dict[str, Any]]:
    """Text built to break reports, spend that is partly ineligible (a second computer, over
    budget), and more grant paid than is due (a negative balance)."""
    return [
        offer(title=HOSTILE_TITLE, business="@Crumb & Co Ltd", knowledge_base="-University of Example"),
        claim("laptop", "1399.99", date="2024-10-14", tags=["computer"]),
        claim("laptop-2", "899.00", date="2025-01-10", tags=["computer"]),
        claim("kit", "3000.00", date="2025-02-20"),
        claim("salary", "30000.00", category="associate_employment", date="2025-03-31"),
        decision(
            "lmc1",
            "2025-01-05",
            kind="virement",
            **{
                "from": "travel_subsistence",
                "to": "associate_employment",
                "amount": "500",
                "minute": HOSTILE_MINUTE,
            },
        ),
        event("GrantPayment", "pay", "2025-04-28", {"amount": "99999.00"}),
        event("ProjectClosed", "close", "2026-10-15", {}),
    ]


def open_non_fec() -> list[dict[str, Any]]:
    """A non-fec project still open: a statement so far, with the derived overheads line."""
    return [
        offer(
            methodology="non_fec",
            budget={
                "associate_employment": "90000",
                "academic_secretarial_support": "30000",
                "associate_development": "4000",
                "travel_subsistence": "2500",
                "consumables": "4000",
            },
        ),
        claim("salary", "22500.00", category="associate_employment", date="2024-12-31"),
        claim("support", "7500.00", category="academic_secretarial_support", date="2024-12-31"),
        claim("rail", "120.50", category="travel_subsistence", date="2025-01-20"),
    ]


def many_scripts() -> list[dict[str, Any]]:
    """A project whose texts are Greek, Japanese, Arabic, Korean, Hebrew and emoji."""
    return [
        offer(title=GREEK_JAPANESE_TITLE, knowledge_base=ARABIC_KNOWLEDGE_BASE, business=EMOJI_BUSINESS),
        claim("rail", "86.40", category="travel_subsistence", date="2025-01-20", description=CLAIM_TEXT),
        decision(
            "lmc1",
            "2025-01-05",
            kind="virement",
            **{
                "from": "travel_subsistence",
                "to": "associate_employment",
                "amount": "500",
                "minute": KOREAN_HEBREW_MINUTE,
            },
        ),
    ]


def record(app: App, events: list[dict[str, Any]]) -> None:
    text = "\n".join(json.dumps(item) for item in events)
    results = app.ledger.append(load_json_lines(text))
    rejected = [result for result in results if result.status == "rejected"]
    assert not rejected, rejected


def documents(app: App, project: str, quarter: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return reconciliation(app.database, project), claim_pack(app.database, project, quarter)


def long_listing(count: int) -> list[dict[str, Any]]:
    """An open project with `count` small consumables claims, one a day from its start: a
    transaction listing longer than a PDF page (a page holds about 48 of its rows)."""
    start = date(2024, 10, 1)
    return [
        offer(),
        *(
            claim(
                f"kit-{number:03d}",
                f"{10 + number % 9}.50",
                date=(start + timedelta(days=number % 180)).isoformat(),
                description=f"Lab supplies batch {number}",
            )
            for number in range(count)
        ),
    ]
