"""A quarter's grant claim (R-45): what it is made of, worked out from the ledger's events, the one
reading every reader uses (`ktpledger claim submit`, `claim-pack`, the claim deadlines).

A claim for quarter Q is cumulative, as the claim pack's is (`reconciliation.quarter_claim`):

- per category, `eligible` and `grant`: the line's reconciled figures as the events dated up to
  Q's end leave them, less those of the events dated before Q (the final quarter, holding the
  project's end date, covers every event, those dated after the end too);
- `actual`: the spend dated in Q (claims less reversals, as the pack's `in_quarter`), against
  `forecast`: the line's spend profile for Q (`profile.planned_in_quarter`, R-43), and
  `variance` = actual - forecast; a variance over 10% of the forecast needs a narrative
  (`events.claim_needs_narrative`);
- `prior_period`: the grant of the events dated before Q as the ledger now stands, less the
  grant already claimed on the line: costs (or reversals) of quarters already claimed that were
  recorded since. A submitted claim is never changed (R-30): its late costs come here, labelled.

So a project's claims add up to its reconciliation's grant.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from ktpledger.domain.events import ClaimLine, ClaimSubmitted, Event, claim_needs_narrative
from ktpledger.domain.money import ZERO, format_money
from ktpledger.domain.profile import planned_in_quarter
from ktpledger.domain.quarters import Quarter
from ktpledger.domain.reconciliation import History, quarter_spend, quarter_states, reconcile
from ktpledger.domain.rules import Category, LimitKind


@dataclass(frozen=True)
class ClaimWorked:
    """A quarter's claim as the ledger's events now stand (module docstring), not yet numbered."""

    quarter: str
    start: date
    end: date
    final_quarter: bool
    lines: dict[Category, ClaimLine]
    version: int
    head_hash: str

    @property
    def quarter_grant(self) -> Decimal:
        return sum((line.grant for line in self.lines.values()), ZERO)

    @property
    def prior_period(self) -> Decimal:
        return sum((line.prior_period for line in self.lines.values()), ZERO)

    @property
    def grant(self) -> Decimal:
        return self.quarter_grant + self.prior_period

    def needing_narrative(self) -> list[tuple[Category, ClaimLine]]:
        """The lines whose variance needs a narrative and has none."""
        return [
            (category, line)
            for category, line in self.lines.items()
            if claim_needs_narrative(line.actual, line.forecast) and not line.narrative
        ]

    def with_narratives(self, narratives: dict[Category, str]) -> ClaimWorked:
        lines = {
            category: ClaimLine(
                actual=line.actual,
                forecast=line.forecast,
                variance=line.variance,
                eligible=line.eligible,
                grant=line.grant,
                prior_period=line.prior_period,
                narrative=narratives.get(category, line.narrative),
            )
            for category, line in self.lines.items()
        }
        return ClaimWorked(
            self.quarter, self.start, self.end, self.final_quarter, lines, self.version, self.head_hash
        )

    def data(self, number: int, position: int) -> dict[str, Any]:
        """The `ClaimSubmitted` event's data for this claim (canonical money)."""
        return ClaimSubmitted(
            number=number,
            quarter=self.quarter,
            lines=self.lines,
            grant=self.grant,
            position=position,
            version=self.version,
            head_hash=self.head_hash,
        ).to_data()


def claim_worked(project: str, events: Iterable[tuple[Event, int, str]], quarter: str) -> ClaimWorked:
    """The claim for `quarter` as the ledger's events (version order) now stand (module
    docstring). Whether the quarter may be claimed is `ProjectState.check`'s question (R-45)."""
    stream = list(events)
    states = quarter_states(project, stream, quarter, rule="R-45")
    label, start, end, until = states.label, states.start, states.end, states.until
    whole, before, through = states.whole, states.before, states.through
    lines: dict[Category, ClaimLine] = {}
    if whole.exists:
        earlier = (
            {line.category: line for line in reconcile(before, History()).lines} if before.exists else {}
        )
        now = {line.category: line for line in reconcile(through, History()).lines} if through.exists else {}
        spend = quarter_spend(((event, version) for event, version, _ in stream), start, end)
        claimed = whole.claimed_grant()
        plan_quarter = Quarter.parse(label)
        assert plan_quarter is not None
        for category in sorted(set(now) | set(earlier) | set(claimed), key=lambda c: c.value):
            derived = whole.limit_kind(category) is LimitKind.DERIVED if category in now else False
            actual = ZERO if derived else spend.get(category, ZERO)
            forecast = ZERO if derived else planned_in_quarter(whole, category, plan_quarter)
            line_now, line_before = now.get(category), earlier.get(category)
            eligible = (line_now.eligible if line_now else ZERO) - (
                line_before.eligible if line_before else ZERO
            )
            grant = (line_now.grant if line_now else ZERO) - (line_before.grant if line_before else ZERO)
            prior = (line_before.grant if line_before else ZERO) - claimed.get(category, ZERO)
            if actual or forecast or eligible or grant or prior:
                lines[category] = ClaimLine(
                    actual=actual,
                    forecast=forecast,
                    variance=actual - forecast,
                    eligible=eligible,
                    grant=grant,
                    prior_period=prior,
                )
    return ClaimWorked(
        quarter=label,
        start=start,
        end=end,
        final_quarter=until == date.max,
        lines=lines,
        version=whole.version,
        head_hash=whole.head_hash,
    )


def claim_line_json(line: ClaimLine) -> dict[str, Any]:
    """One line of a claim in JSON: its figures (money as text), its narrative or null, and
    whether it needs one."""
    return {
        "actual": format_money(line.actual),
        "forecast": format_money(line.forecast),
        "variance": format_money(line.variance),
        "narrative": line.narrative or None,
        "narrative_required": claim_needs_narrative(line.actual, line.forecast),
        "eligible": format_money(line.eligible),
        "grant": format_money(line.grant),
        "prior_period": format_money(line.prior_period),
    }
