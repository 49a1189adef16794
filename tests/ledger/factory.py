"""Event builders for tests: valid by default, override what a test is about."""

from __future__ import annotations

from typing import Any

PROJECT = "KTP-0042"


def offer(
    project: str = PROJECT, *, key: str = "offer", date: str = "2024-09-02", **data: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Machine vision for bakery QA",
        "knowledge_base": "University of Example",
        "business": "Crumb & Co Ltd",
        "methodology": "fec",
        "business_type": "sme",
        "virtual": False,
        "london": False,
        "start": "2024-10-01",
        "months": 24,
        "budget": {
            "associate_employment": "100000",
            "associate_development": "4000",
            "travel_subsistence": "2500",
            "consumables": "4000",
            "knowledge_base_supervisor": "16000",
            "associate_estates": "0",
            "additional_associate_support": "36000",
        },
    }
    body.update(data)
    return {"type": "GrantOffered", "project": project, "key": key, "date": date, "data": body}


def claim(
    key: str,
    amount: str = "100.00",
    *,
    category: str = "consumables",
    date: str = "2025-01-15",
    project: str = PROJECT,
    tags: list[str] | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "category": category,
        "amount": amount,
        "description": description or f"claim {key}",
    }
    if tags is not None:
        data["tags"] = tags
    return {"type": "SpendClaimed", "project": project, "key": key, "date": date, "data": data}


def decision(key: str, date: str = "2025-02-01", *, project: str = PROJECT, **data: Any) -> dict[str, Any]:
    return {"type": "LMCDecision", "project": project, "key": key, "date": date, "data": data}


def reversal(
    key: str, claim_key: str, amount: str | None = None, *, date: str = "2025-02-10", project: str = PROJECT
) -> dict[str, Any]:
    data: dict[str, Any] = {"claim": claim_key, "reason": "refund"}
    if amount is not None:
        data["amount"] = amount
    return {"type": "ClaimReversed", "project": project, "key": key, "date": date, "data": data}


def event(type_: str, key: str, date: str, data: dict[str, Any], project: str = PROJECT) -> dict[str, Any]:
    return {"type": type_, "project": project, "key": key, "date": date, "data": data}
