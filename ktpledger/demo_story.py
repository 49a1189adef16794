"""The demo project's life: a 24-month fec KTP, quarter by quarter, as CONTRACT.md events.

Acme Packaging Ltd (an SME) and the University of Northshire: an offer with a supervisor
costed from salary; quarterly salary, development, travel and consumables claims; a second
laptop (R-15) and a third conference (R-13); travel running over its budget until the LMC
approves an exceedance and vires money in; a duplicated hotel bill reversed; paternity pay
above statutory (R-35); quarterly grant payments; closure after the end date.
"""

from __future__ import annotations

from typing import Any

PROJECT = "KTP-DEMO-01"


def _event(kind: str, key: str, on: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": kind, "project": PROJECT, "key": key, "date": on, "data": data}


def _claim(key: str, on: str, category: str, amount: str, description: str, *tags: str) -> dict[str, Any]:
    return _event(
        "SpendClaimed",
        key,
        on,
        {"category": category, "amount": amount, "description": description, "tags": list(tags)},
    )


def _payment(key: str, on: str, amount: str) -> dict[str, Any]:
    return _event("GrantPayment", key, on, {"amount": amount})


OFFER = _event(
    "GrantOffered",
    "offer",
    "2024-03-01",
    {
        "title": "Predictive maintenance for packaging lines",
        "knowledge_base": "University of Northshire",
        "business": "Acme Packaging Ltd",
        "methodology": "fec",
        "business_type": "sme",
        "virtual": False,
        "london": False,
        "start": "2024-04-01",
        "months": 24,
        "supervisor_cost": "80000",
        "budget": {
            "associate_employment": "100000",
            "associate_development": "4000",
            "travel_subsistence": "2500",
            "consumables": "4000",
            "knowledge_base_supervisor": "16000",
            "associate_estates": "0",
            "additional_associate_support": "36000",
        },
    },
)


def quarters() -> list[tuple[str, list[dict[str, Any]]]]:
    """(label, events) per step of the project's life, in the order they are recorded."""
    return [
        ("Grant offer", [OFFER]),
        (
            "2024 Q2",
            [
                _claim(
                    "2024Q2-salary",
                    "2024-06-30",
                    "associate_employment",
                    "12150.00",
                    "Associate salary Apr-Jun",
                ),
                _claim(
                    "2024Q2-laptop", "2024-04-12", "consumables", "1450.00", "Associate laptop", "computer"
                ),
                _claim(
                    "2024Q2-supervision",
                    "2024-06-30",
                    "knowledge_base_supervisor",
                    "2000.00",
                    "Supervisor time",
                ),
                _claim(
                    "2024Q2-rail",
                    "2024-05-20",
                    "travel_subsistence",
                    "186.40",
                    "Rail to the Hull site",
                    "associate_travel",
                ),
            ],
        ),
        (
            "2024 Q3",
            [
                _claim(
                    "2024Q3-salary",
                    "2024-09-30",
                    "associate_employment",
                    "12150.00",
                    "Associate salary Jul-Sep",
                ),
                _claim(
                    "2024Q3-course",
                    "2024-08-15",
                    "associate_development",
                    "950.00",
                    "Machine learning course",
                ),
                _claim(
                    "2024Q3-conf1",
                    "2024-09-10",
                    "travel_subsistence",
                    "640.00",
                    "PackEx conference",
                    "conference",
                ),
                _claim(
                    "2024Q3-sensors", "2024-07-22", "consumables", "820.50", "Vibration sensors for the trial"
                ),
                _claim(
                    "2024Q3-support",
                    "2024-09-30",
                    "additional_associate_support",
                    "4500.00",
                    "Academic support",
                ),
                _claim(
                    "2024Q3-supervision",
                    "2024-09-30",
                    "knowledge_base_supervisor",
                    "2000.00",
                    "Supervisor time",
                ),
                _payment("pay-2024Q3", "2024-10-28", "20000.00"),
            ],
        ),
        (
            "2024 Q4",
            [
                _claim(
                    "2024Q4-salary",
                    "2024-12-31",
                    "associate_employment",
                    "12150.00",
                    "Associate salary Oct-Dec",
                ),
                _claim(
                    "2024Q4-hotel", "2024-11-05", "travel_subsistence", "412.00", "Hotel, Hull site visit"
                ),
                _claim(
                    "2024Q4-hotel-dup", "2024-11-05", "travel_subsistence", "412.00", "Hotel, Hull site visit"
                ),
                _claim(
                    "2024Q4-supervision",
                    "2024-12-31",
                    "knowledge_base_supervisor",
                    "2000.00",
                    "Supervisor time",
                ),
                _event(
                    "ClaimReversed",
                    "2024Q4-hotel-dup-reversal",
                    "2024-12-02",
                    {"claim": "2024Q4-hotel-dup", "reason": "Duplicate of 2024Q4-hotel"},
                ),
                _payment("pay-2024Q4", "2025-01-27", "11000.00"),
            ],
        ),
        (
            "2025 Q1",
            [
                _claim(
                    "2025Q1-salary",
                    "2025-03-31",
                    "associate_employment",
                    "12400.00",
                    "Associate salary Jan-Mar",
                ),
                _claim(
                    "2025Q1-conf2",
                    "2025-02-18",
                    "travel_subsistence",
                    "710.00",
                    "Industry 4.0 summit",
                    "conference",
                ),
                _claim(
                    "2025Q1-fees",
                    "2025-01-15",
                    "associate_development",
                    "700.00",
                    "MSc module fees",
                    "higher_degree_fee",
                ),
                _claim(
                    "2025Q1-support",
                    "2025-03-31",
                    "additional_associate_support",
                    "4500.00",
                    "Academic support",
                ),
                _claim(
                    "2025Q1-supervision",
                    "2025-03-31",
                    "knowledge_base_supervisor",
                    "2000.00",
                    "Supervisor time",
                ),
                _payment("pay-2025Q1", "2025-04-28", "12500.00"),
            ],
        ),
        (
            "2025 Q2",
            [
                _claim(
                    "2025Q2-salary",
                    "2025-06-30",
                    "associate_employment",
                    "12400.00",
                    "Associate salary Apr-Jun",
                ),
                _claim(
                    "2025Q2-conf3",
                    "2025-05-14",
                    "travel_subsistence",
                    "585.00",
                    "European packaging expo",
                    "conference",
                ),
                _claim(
                    "2025Q2-tablet",
                    "2025-04-03",
                    "consumables",
                    "899.00",
                    "Tablet for line-side readings",
                    "computer",
                ),
                _claim(
                    "2025Q2-supervision",
                    "2025-06-30",
                    "knowledge_base_supervisor",
                    "2000.00",
                    "Supervisor time",
                ),
                _payment("pay-2025Q2", "2025-07-28", "12000.00"),
            ],
        ),
        (
            "2025 Q3",
            [
                _claim(
                    "2025Q3-salary",
                    "2025-09-30",
                    "associate_employment",
                    "12400.00",
                    "Associate salary Jul-Sep",
                ),
                _claim(
                    "2025Q3-rail",
                    "2025-08-19",
                    "travel_subsistence",
                    "455.60",
                    "Rail, second site trials",
                    "associate_travel",
                ),
                _event(
                    "ParentalLeaveCost",
                    "2025Q3-paternity",
                    "2025-09-30",
                    {"amount": "3200.00", "description": "Occupational paternity pay above statutory"},
                ),
                _claim(
                    "2025Q3-support",
                    "2025-09-30",
                    "additional_associate_support",
                    "4500.00",
                    "Academic support",
                ),
                _claim(
                    "2025Q3-supervision",
                    "2025-09-30",
                    "knowledge_base_supervisor",
                    "2000.00",
                    "Supervisor time",
                ),
                _payment("pay-2025Q3", "2025-10-27", "11500.00"),
            ],
        ),
        (
            "LMC, October 2025",
            [
                _event(
                    "LMCDecision",
                    "lmc4-exceedance",
                    "2025-10-08",
                    {
                        "kind": "approve_exceedance",
                        "category": "travel_subsistence",
                        "limit": "3500",
                        "justification": "Trials at a second site need monthly visits",
                        "approved_by": "KTP programme manager",
                    },
                ),
                _event(
                    "LMCDecision",
                    "lmc4-virement",
                    "2025-10-08",
                    {
                        "kind": "virement",
                        "from": "consumables",
                        "to": "travel_subsistence",
                        "amount": "800",
                        "minute": "LMC4 item 3",
                    },
                ),
            ],
        ),
        (
            "2025 Q4",
            [
                _claim(
                    "2025Q4-salary",
                    "2025-12-31",
                    "associate_employment",
                    "12400.00",
                    "Associate salary Oct-Dec",
                ),
                _claim(
                    "2025Q4-course",
                    "2025-11-20",
                    "associate_development",
                    "1200.00",
                    "Reliability engineering course",
                ),
                _claim(
                    "2025Q4-support",
                    "2025-12-31",
                    "additional_associate_support",
                    "4500.00",
                    "Academic support",
                ),
                _claim(
                    "2025Q4-supervision",
                    "2025-12-31",
                    "knowledge_base_supervisor",
                    "2000.00",
                    "Supervisor time",
                ),
                _payment("pay-2025Q4", "2026-01-26", "12500.00"),
            ],
        ),
        (
            "2026 Q1 and closure",
            [
                _claim(
                    "2026Q1-salary",
                    "2026-03-31",
                    "associate_employment",
                    "12400.00",
                    "Associate salary Jan-Mar",
                ),
                _claim(
                    "2026Q1-rail",
                    "2026-02-11",
                    "travel_subsistence",
                    "298.00",
                    "Rail, final LMC",
                    "academic_travel",
                ),
                _claim(
                    "2026Q1-supervision",
                    "2026-03-31",
                    "knowledge_base_supervisor",
                    "2000.00",
                    "Supervisor time",
                ),
                _event("ProjectClosed", "close", "2026-04-20", {}),
                _payment("pay-final", "2026-05-26", "9000.00"),
            ],
        ),
    ]
