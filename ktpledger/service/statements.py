"""The reconciliation (R-42) and the quarterly claim pack, as read models (`service/statement_models.py`,
`service/pack_models.py`; `to_json()` writes the JSON document of docs/cli.md).

Both are made from the ledger alone and name the ledger position, version and head hash they
were made from, and carry the checkpoint of the whole ledger at that position (signed when a key is
configured; Ed25519 signatures are deterministic); they hold no time of making, so the same
position always gives the same document.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from ktpledger.adapters.database import Database
from ktpledger.domain.alert_views import message
from ktpledger.domain.alerts import AlertKey, line_forecast
from ktpledger.domain.allowances import allowances
from ktpledger.domain.anchor import Checkpoint
from ktpledger.domain.claims import claim_worked
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.invoices import offer_business_total
from ktpledger.domain.labels import category_label, gbp
from ktpledger.domain.live import LiveProject, appends
from ktpledger.domain.money import ZERO
from ktpledger.domain.project import GrantClaim, ProjectState
from ktpledger.domain.reconciliation import (
    findings,
    fold_with_history,
    pack_covers_until,
    quarter_bounds,
    quarter_claim,
    quarter_spend,
    reconcile,
)
from ktpledger.domain.recorded import RecordedEvent, located
from ktpledger.domain.rules import LimitKind
from ktpledger.service.checkpoints import Checkpoints
from ktpledger.service.claim_history import ClaimHistory, claim_history_of
from ktpledger.service.claim_models import DraftClaim, SubmittedClaim, prior_period_items
from ktpledger.service.ledger import fold as fold_stream
from ktpledger.service.ledger_reading import project_stream
from ktpledger.service.pack_models import PACK_FIGURES, ClaimPack, PackAlert, PackLine
from ktpledger.service.statement_models import (
    TOTALS,
    LedgerPosition,
    LineChange,
    ProjectTerms,
    Receivables,
    ReconciliationStatement,
    StatementFinding,
    StatementInvoice,
    StatementLine,
    rate_shown,
)


def _ledger(stream: list[RecordedEvent]) -> LedgerPosition:
    head = stream[-1]
    return LedgerPosition(
        version=head.version, position=max(item.position for item in stream), head_hash=head.hash
    )


def _checkpoint(database: Database, checkpoints: Checkpoints | None, ledger: LedgerPosition) -> Checkpoint:
    """The checkpoint of the whole ledger at the report's position (unsigned without `checkpoints`)."""
    maker = checkpoints if checkpoints is not None else Checkpoints(database)
    return maker.at(ledger.position)


def _terms(state: ProjectState) -> ProjectTerms:
    offer = state.offer
    assert offer is not None
    return ProjectTerms(
        title=offer.title,
        knowledge_base=offer.knowledge_base,
        business=offer.business,
        methodology=offer.methodology,
        business_type=offer.business_type,
        virtual=offer.virtual,
        london=offer.london,
        start=offer.start,
        end=state.end,
        months=state.months,
    )


def reconciliation(
    database: Database, project: str, *, checkpoints: Checkpoints | None = None
) -> dict[str, Any]:
    """`ktpledger reconcile PROJECT --format json`: the JSON document of `reconciliation_statement`."""
    return reconciliation_statement(database, project, checkpoints=checkpoints).to_json()


def reconciliation_statement(
    database: Database, project: str, *, checkpoints: Checkpoints | None = None
) -> ReconciliationStatement:
    """`ktpledger reconcile PROJECT` (docs/cli.md), with the ledger it was made from and the
    checkpoint of the whole ledger there (signed by `checkpoints`)."""
    stream = project_stream(database, project)
    ledger = _ledger(stream)
    with located(stream):
        state, history = fold_with_history(
            project, ((item.event(), item.version, item.hash) for item in stream)
        )
    result = reconcile(state, history)
    lines = tuple(
        StatementLine(
            category=line.category,
            limit_kind=line.limit_kind,
            original_budget=line.original_budget,
            changes=tuple(
                LineChange(
                    version=c.version,
                    date=c.date if c.date != date.min else None,
                    kind=c.kind,
                    amount=c.amount,
                    note=c.note,
                )
                for c in line.changes
            ),
            final_budget=line.final_budget,
            claimed=line.claimed,
            eligible=line.eligible,
            ineligible=line.ineligible,
            ineligible_reasons=dict(line.reasons),
            grant=line.grant,
            business=line.business,
        )
        for line in result.lines
    )
    return ReconciliationStatement(
        project=project,
        terms=_terms(state),
        final=result.final,
        closed_on=state.closed_on,
        grant_rate=rate_shown(result.grant_rate),
        ledger=ledger,
        checkpoint=_checkpoint(database, checkpoints, ledger),
        lines=lines,
        parental_leave_incurred=result.parental_leave_incurred,
        parental_leave_reimbursable=result.parental_leave_reimbursable,
        totals={name: result.total(name) for name in TOTALS},
        grant_paid=result.grant_paid,
        balance_due=result.balance_due,
        receivables=_receivables(
            state,
            result.total("business"),
            result.balance_due,
            result.grant_paid,
            claim_history_of(project, state, stream, result.total("grant")),
        ),
        findings=tuple(
            StatementFinding(
                category=found.category,
                reason=found.reason,
                amount=found.amount,
                rule=found.rule,
                message=f"{category_label(found.category.value)}: {gbp(found.amount)} ineligible: "
                f"{found.what} ({found.rule}).",
            )
            for found in findings(state, result)
        ),
    )


def _receivables(
    state: ProjectState, business: Decimal, balance_due: Decimal, grant_paid: Decimal, claims: ClaimHistory
) -> Receivables:
    """The grant's and the business's receivables (R-44), from the same figures as the statement;
    the grant's claims (R-45, R-46) as the claim history reads them."""
    return Receivables(
        grant_due=balance_due + grant_paid,
        grant_received=grant_paid,
        invoices=tuple(
            StatementInvoice(
                number=invoice.number,
                quarter=invoice.invoice.quarter,
                invoiced_on=invoice.invoiced_on,
                due=invoice.due,
                amount=invoice.invoice.amount,
                quarter_costs=invoice.invoice.quarter_costs,
                prior_period=invoice.invoice.prior_period,
                prior_period_credit=invoice.invoice.prior_period_credit,
                offer_top_up=invoice.invoice.offer_top_up,
                paid=invoice.paid,
            )
            for invoice in state.invoices.values()
        ),
        business_share=business,
        offer_business=offer_business_total(state),
        claims=tuple(claim.row() for claim in claims.claims),
        claimed_total=claims.claimed_total,
        final_adjustment=claims.final_adjustment,
    )


def claim_pack(
    database: Database, project: str, quarter: str, *, checkpoints: Checkpoints | None = None
) -> dict[str, Any]:
    """`ktpledger claim-pack PROJECT --quarter Q --format json`: the JSON document of `quarter_pack`."""
    return quarter_pack(database, project, quarter, checkpoints=checkpoints).to_json()


def quarter_pack(
    database: Database, project: str, quarter: str, *, checkpoints: Checkpoints | None = None
) -> ClaimPack:
    """A quarter's claim: spend in the quarter per category, cumulative spend against budget,
    eligible and ineligible, the alerts open at the quarter's end, and a forecast to the end date.

    The pack covers the events dated up to the quarter's end; the pack of the quarter holding the
    project's end date (its final claim) covers every event, those dated after the end too (a late
    reversal, a decision after the end), so the grant of a project's packs adds up to its
    reconciliation's grant exactly. It carries the checkpoint of the whole ledger at its position,
    as the reconciliation does."""
    start, end = quarter_bounds(quarter)
    stream = project_stream(database, project)
    whole = fold_stream(project, stream)
    # Grant claims: a submitted quarter's pack is the pack of the ledger its claim was made
    # from (the events up to the claim's `version`), marked submitted, whatever is recorded later.
    submitted = whole.claimed_quarters().get(quarter.strip().upper()) if whole.exists else None
    if submitted is not None:
        stream = [item for item in stream if item.version <= submitted.claim.version]
        whole = fold_stream(project, stream)
    until = pack_covers_until(start, end, whole.end) if whole.exists else end
    known = [item for item in stream if item.date <= until]
    live = LiveProject.new(project)
    # Alerts event by event (the forecast's hysteresis needs them), append by append as the
    # projection records them: which version raised each alert open, for its acknowledgement.
    raised_at: dict[AlertKey, int] = {}
    for group in appends(known):
        for step in live.apply_append(group):
            if step.raised:
                raised_at[step.key] = step.version
            else:
                raised_at.pop(step.key, None)
    state = live.state
    if not state.exists:
        raise RuleViolation(
            "R-31", f"project {project} had no grant offer by {end.isoformat()}", field="quarter"
        )
    if end < state.start or start > state.end:
        raise RuleViolation(
            "R-33",
            f"{quarter} is outside the project's period {state.start} to {state.end}",
            field="quarter",
        )
    judged_on = min(end, state.end)
    live.latest = judged_on
    live.settle()
    # Every row the pack covers has folded above: what follows reads them again.
    spend = quarter_spend(((item.event(), item.version) for item in known), start, end)
    lines = []
    totals = dict.fromkeys(PACK_FIGURES, ZERO)
    month = 1
    for line in allowances(state):
        in_quarter = ZERO if line.limit_kind is LimitKind.DERIVED else spend.get(line.category, ZERO)
        forecast = line_forecast(state, line, judged_on)
        month = forecast.month
        figures: dict[str, Decimal] = {
            "in_quarter": in_quarter,
            "cumulative": line.spent,
            "budget": line.budget,
            "eligible": line.eligible,
            "ineligible": line.ineligible,
            "forecast": forecast.forecast,
        }
        for name, amount in figures.items():
            totals[name] += amount
        lines.append(
            PackLine(
                category=line.category,
                limit_kind=line.limit_kind,
                in_quarter=in_quarter,
                cumulative=line.spent,
                budget=line.budget,
                eligible=line.eligible,
                ineligible=line.ineligible,
                forecast=forecast.forecast,
                remaining=line.remaining,
                forecast_over_budget=forecast.forecast > line.budget,
            )
        )
    alerts = []
    for key, detail in sorted(live.conditions().items()):
        seen = state.acknowledged.get((key.category, str(key.kind), key.subject, raised_at.get(key, 0)))
        alerts.append(
            PackAlert(
                category=key.category,
                kind=str(key.kind),
                detail=detail,
                message=message(str(key.kind), key.category, detail),
                acknowledged_on=None if seen is None else seen[1],
                acknowledgement_note=None if seen is None else seen[2],
            )
        )
    ledger = _ledger(stream)
    submitted_claim = None if submitted is None else _submitted_claim(whole, stream, submitted, start)
    draft = None if submitted is not None else _draft_claim(project, stream, whole, quarter, start)
    with located(known):
        claim = quarter_claim(
            project, ((item.event(), item.version, item.hash) for item in known), quarter_start=start
        )
    return ClaimPack(
        project=project,
        terms=_terms(state),
        quarter=quarter.strip().upper(),
        start=start,
        end=end,
        final_quarter=until == date.max,
        grant_rate=rate_shown(state.grant_rate),
        ledger=ledger,
        checkpoint=_checkpoint(database, checkpoints, ledger),
        events_in_pack=len(known),
        month=month,
        lines=tuple(lines),
        totals=totals,
        eligible_added=dict(claim.eligible_added),
        grant_added=dict(claim.grant_added),
        grant=claim.grant,
        alerts_open_at_quarter_end=tuple(alerts),
        submitted=submitted_claim,
        draft_claim=draft,
    )


def _submitted_claim(
    state: ProjectState, stream: list[RecordedEvent], submitted: GrantClaim, start: date
) -> SubmittedClaim:
    """The quarter's claim as submitted, with the late items of its prior-period adjustment:
    `stream` and `state` are the ledger the claim was made from, so both stay as they were."""
    previous = state.grant_claims.get(submitted.number - 1)
    items = prior_period_items(
        ((item.event(), item.version) for item in stream),
        after=None if previous is None else previous.claim.version,
        through=submitted.claim.version,
        before=start,
    )
    return SubmittedClaim.of(submitted, items)


def _draft_claim(
    project: str, stream: list[RecordedEvent], state: ProjectState, quarter: str, start: date
) -> DraftClaim | None:
    """The quarter's claim as the ledger now stands (`claim submit --dry-run`'s figures, before
    narratives), when it is the next quarter to claim; None otherwise, or when the ledger refuses
    to work it out. Whether the quarter has ended is not asked: that depends on the day, and the
    pack depends on the ledger alone."""
    if not state.exists or state.next_claim_quarter() != quarter.strip().upper():
        return None
    try:
        with located(stream):
            worked = claim_worked(
                project, ((item.event(), item.version, item.hash) for item in stream), quarter
            )
    except RuleViolation:
        return None
    previous = max(state.grant_claims.values(), key=lambda claim: claim.number, default=None)
    items = prior_period_items(
        ((item.event(), item.version) for item in stream),
        after=None if previous is None else previous.claim.version,
        through=worked.version,
        before=start,
    )
    position = max(item.position for item in stream)
    return DraftClaim.of(worked, len(state.grant_claims) + 1, position, items)
