"""A demo-like ledger for the API and dashboard tests: a realistic fec project part-way through,
with claims every month, an LMC approval and virement, a reversal, a grant payment and alerts open;
a second (non-fec) project; and a small closed one."""

from __future__ import annotations

from typing import Any

from tests.ledger.factory import claim, decision, event, offer, reversal

MAIN = "KTP-0042"
SECOND = "KTP-0107"
CLOSED = "KTP-0009"


def main_project() -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = [offer(MAIN)]
    months = [
        "2024-10",
        "2024-11",
        "2024-12",
        "2025-01",
        "2025-02",
        "2025-03",
        "2025-04",
        "2025-05",
        "2025-06",
    ]
    for number, month in enumerate(months, start=1):
        events.append(
            claim(
                f"salary-{month}",
                "4150.00",
                category="associate_employment",
                date=f"{month}-28",
                project=MAIN,
            )
        )
        if number % 3 == 0:
            events.append(
                claim(
                    f"supervisor-{month}",
                    "1980.00",
                    category="knowledge_base_supervisor",
                    date=f"{month}-27",
                    project=MAIN,
                )
            )
    events += [
        claim("rail-lmc-1", "184.20", category="travel_subsistence", date="2024-11-14", project=MAIN),
        claim(
            "conf-1",
            "640.00",
            category="travel_subsistence",
            date="2025-01-20",
            project=MAIN,
            tags=["conference"],
        ),
        claim(
            "conf-2",
            "710.50",
            category="travel_subsistence",
            date="2025-03-11",
            project=MAIN,
            tags=["conference"],
        ),
        claim(
            "laptop", "1499.00", category="consumables", date="2024-10-21", project=MAIN, tags=["computer"]
        ),
        claim("sensors", "862.35", category="consumables", date="2025-02-03", project=MAIN),
        claim("course-1", "1450.00", category="associate_development", date="2024-12-02", project=MAIN),
        claim("course-2", "1995.00", category="associate_development", date="2025-04-09", project=MAIN),
        claim("estates-typo", "250.00", category="consumables", date="2025-02-05", project=MAIN),
        reversal("estates-typo-reversed", "estates-typo", date="2025-02-12", project=MAIN),
        decision(
            "lmc-2025-03-approve",
            "2025-03-20",
            project=MAIN,
            kind="approve_exceedance",
            category="travel_subsistence",
            limit="3500",
            justification="Two international trade shows agreed in the project plan",
            approved_by="KTP adviser J. Smith",
        ),
        decision(
            "lmc-2025-03-virement",
            "2025-03-20",
            project=MAIN,
            kind="virement",
            **{
                "from": "consumables",
                "to": "travel_subsistence",
                "amount": "1000",
                "minute": "LMC 3, item 4",
            },
        ),
        claim("course-3", "700.00", category="associate_development", date="2025-06-12", project=MAIN),
        claim("trade-show", "1320.00", category="travel_subsistence", date="2025-05-16", project=MAIN),
        event("GrantPayment", "payment-q1", "2025-04-30", {"amount": "18250.00"}, project=MAIN),
    ]
    return events


def second_project() -> list[dict[str, Any]]:
    budget = {
        "associate_employment": "55000",
        "academic_secretarial_support": "15000",
        "associate_development": "2000",
        "travel_subsistence": "1250",
        "consumables": "2000",
    }
    return [
        offer(
            SECOND,
            date="2025-01-06",
            title="Low-carbon concrete mix design",
            knowledge_base="Example College",
            business="Stonebridge Aggregates plc",
            methodology="non_fec",
            business_type="large",
            start="2025-02-01",
            months=12,
            budget=budget,
        ),
        claim(
            "salary-2025-02", "4580.00", category="associate_employment", date="2025-02-28", project=SECOND
        ),
        claim(
            "salary-2025-03", "4580.00", category="associate_employment", date="2025-03-31", project=SECOND
        ),
        claim("kit", "350.00", category="consumables", date="2025-03-12", project=SECOND),
    ]


def closed_project() -> list[dict[str, Any]]:
    return [
        offer(
            CLOSED,
            date="2024-01-10",
            start="2024-02-01",
            months=6,
            title="A short pilot",
            budget={
                "associate_employment": "24000",
                "associate_development": "1000",
                "travel_subsistence": "625",
                "consumables": "1000",
                "knowledge_base_supervisor": "4000",
            },
        ),
        claim("salary-1", "4000.00", category="associate_employment", date="2024-02-28", project=CLOSED),
        event("GrantPayment", "payment-1", "2024-07-01", {"amount": "2680.00"}, project=CLOSED),
        event("ProjectClosed", "closed", "2024-07-31", {}, project=CLOSED),
    ]


def all_events() -> list[dict[str, Any]]:
    return main_project() + second_project() + closed_project()
