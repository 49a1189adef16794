"""Grant claims (R-45): `ktpledger claim submit` works out a quarter's claim from the ledger
(`domain/claims.claim_worked`) and records it as a `ClaimSubmitted` event, frozen as submitted;
`ktpledger claim approve` records the monitoring officer's approval of one (`ClaimApproved`, R-46).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from ktpledger.adapters.database import Database
from ktpledger.domain.claims import ClaimWorked, claim_line_json, claim_worked
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.events import ClaimApproved, ClaimSubmitted, parse_event, quarter_span
from ktpledger.domain.money import format_money
from ktpledger.domain.project import GrantClaim, same_content
from ktpledger.domain.recorded import located
from ktpledger.domain.rules import Category
from ktpledger.service.ledger import fold as fold_stream
from ktpledger.service.ledger_reading import project_stream


@dataclass(frozen=True)
class ClaimDraft:
    """A quarter's claim as `ktpledger claim submit` shows it, and the event that records it."""

    project: str
    worked: ClaimWorked
    number: int
    on: date
    position: int
    event: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        worked = self.worked
        return {
            "project": self.project,
            "number": self.number,
            "quarter": worked.quarter,
            "start": worked.start.isoformat(),
            "end": worked.end.isoformat(),
            "final_quarter": worked.final_quarter,
            "date": self.on.isoformat(),
            "lines": {category.value: claim_line_json(line) for category, line in worked.lines.items()},
            "quarter_grant": format_money(worked.quarter_grant),
            "prior_period": format_money(worked.prior_period),
            "grant": format_money(worked.grant),
            "ledger": {"position": self.position, "version": worked.version, "head_hash": worked.head_hash},
        }


def parse_narratives(given: list[str]) -> dict[Category, str]:
    """`--narrative CATEGORY=TEXT`, repeatable: refused (R-45, naming the option) when not of that
    form, naming an unknown category, or naming one twice."""
    found: dict[Category, str] = {}
    names = {category.value: category for category in Category}
    for item in given:
        name, sep, text = item.partition("=")
        category = names.get(name.strip())
        if not sep or not text.strip() or category is None:
            raise RuleViolation(
                "R-45",
                f"--narrative must be CATEGORY=TEXT with a category of {', '.join(names)}, got {item!r}",
                field="narrative",
            )
        if category in found:
            raise RuleViolation("R-45", f"--narrative names {category.value} twice", field="narrative")
        found[category] = text.strip()
    return found


def _event(
    project: str, key: str, on: date, worked: ClaimWorked, number: int, position: int
) -> dict[str, Any]:
    return {
        "type": ClaimSubmitted.TYPE,
        "project": project,
        "key": key,
        "date": on.isoformat(),
        "data": worked.data(number, max(position, 1)),
    }


def draft_claim(
    database: Database, project: str, quarter: str, *, on: date, narratives: dict[Category, str]
) -> ClaimDraft:
    """The claim for `quarter` dated `on`, checked as the ledger would check it now (R-45, R-36):
    a refusal is raised (the missing narratives named, each with its variance), so a dry run says
    what recording would say."""
    label, _, _ = quarter_span(quarter, rule="R-45")
    key = f"claim-{project}-{label}"
    stream = project_stream(database, project)
    # Worked out without the claim itself, should it be recorded already: the same claim asked for
    # again, nothing recorded since, is then the same event, a duplicate.
    others = [item for item in stream if item.key != key]
    with located(stream):
        state = fold_stream(project, stream)
        worked = claim_worked(project, ((item.event(), item.version, item.hash) for item in others), quarter)
    extra = sorted(set(narratives) - set(worked.lines), key=lambda c: c.value)
    if extra:
        raise RuleViolation(
            "R-45",
            f"{extra[0].value} has nothing in the {label} claim: a narrative for it has nowhere to go",
            field="narrative",
        )
    worked = worked.with_narratives(narratives)
    earlier = next((claim for claim in state.grant_claims.values() if claim.claim.quarter == label), None)
    number = earlier.number if earlier is not None else len(state.grant_claims) + 1
    position = max((item.position for item in others), default=0)
    missing = worked.needing_narrative()
    if missing and earlier is None:
        # What else is wrong with the claim is said first (its quarter, its date), as recording would.
        placeholder = worked.with_narratives({category: "-" for category, _ in missing})
        state.check(parse_event(_event(project, key, on, placeholder, number, position)))
        listed = "; ".join(
            f"{category.value}: actual {format_money(line.actual)} against forecast "
            f"{format_money(line.forecast)}, variance {format_money(line.variance)}"
            for category, line in missing
        )
        passes = " ".join(f"--narrative {category.value}=TEXT" for category, _ in missing)
        raise RuleViolation(
            "R-45",
            f"a narrative is required where the variance is over 10% of the forecast: {listed}; pass {passes}",
            field=f"lines.{missing[0][0].value}.narrative",
        )
    event = _event(project, key, on, worked, number, position)
    parsed = parse_event(event)
    recorded = state.keys.get(parsed.key)
    if recorded is None or not same_content(recorded[0], parsed):  # the same claim again: a duplicate
        state.check(parsed)
    return ClaimDraft(project=project, worked=worked, number=number, on=on, position=position, event=event)


# --- claim approvals (R-46) ----------------------------------------------------------------------


@dataclass(frozen=True)
class ApprovalDraft:
    """A claim's approval as `ktpledger claim approve` shows it, and the event that records it."""

    project: str
    claim: GrantClaim
    on: date
    approval: ClaimApproved
    event: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        claimed = self.claim.claim.grant
        return {
            "project": self.project,
            "key": self.event["key"],
            "claim": self.claim.number,
            "quarter": self.claim.claim.quarter,
            "submitted_on": self.claim.submitted_on.isoformat(),
            "date": self.on.isoformat(),
            "claimed": format_money(claimed),
            "approved": format_money(self.approval.amount),
            "paid": format_money(self.claim.paid),
            "outstanding": format_money(self.approval.amount - self.claim.paid),
            "note": self.approval.note or None,
            "approved_by": self.approval.approved_by or None,
        }


def approval_key(project: str, claim: int) -> str:
    """The idempotency key of a claim's approval: one per claim (R-46 approves a claim once)."""
    return f"claim-approval-{project}-{claim}"


def draft_approval(
    database: Database,
    project: str,
    claim: int,
    amount: str,
    *,
    on: date,
    note: str | None = None,
    approved_by: str | None = None,
) -> ApprovalDraft:
    """The `ClaimApproved` event approving `amount` of grant on claim `claim` dated `on`, checked
    as the ledger would check it now (R-46): a refusal is raised, so a dry run says what recording
    would say. The same approval again, under its key, is a duplicate."""
    data: dict[str, Any] = {"claim": claim, "amount": amount}
    if note is not None:
        data["note"] = note
    if approved_by is not None:
        data["approved_by"] = approved_by
    event = {
        "type": ClaimApproved.TYPE,
        "project": project,
        "key": approval_key(project, claim),
        "date": on.isoformat(),
        "data": data,
    }
    parsed = parse_event(event)
    stream = project_stream(database, project)
    # Folded without the approval itself, should it be recorded already: the same approval asked
    # for again is then checked against the claim as it was before it, a duplicate.
    others = [item for item in stream if item.key != event["key"]]
    with located(stream):
        state = fold_stream(project, stream)
        before = fold_stream(project, others)
    recorded = state.keys.get(parsed.key)
    if recorded is None or not same_content(recorded[0], parsed):
        state.check(parsed)
    payload = parsed.payload
    assert isinstance(payload, ClaimApproved)
    return ApprovalDraft(
        project=project, claim=before.grant_claims[claim], on=on, approval=payload, event=event
    )
