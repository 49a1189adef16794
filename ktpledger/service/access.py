"""The access policy of the HTTP API and the dashboard: roles, what each may record, and who a
token speaks for.

- `admin`: everything, including the events only an administrator records (`GrantOffered`,
  `OfferAmended`, `ProjectClosed`, `ProjectReopened`);
- `finance`: reads, and records `SpendClaimed`, `ClaimReversed`, `ParentalLeaveCost`, `GrantPayment`
  and `AlertAcknowledged`, and the business's invoices and payments (`BusinessInvoiced`,
  `BusinessPaymentReceived`, R-44), grant claims (`ClaimSubmitted`, R-45) and their approvals
  (`ClaimApproved`, R-46);
- `lmc`: reads, and records `LMCDecision`, `AlertAcknowledged` and `SpendProfileSet` (R-43);
- `viewer`: reads only.

A token may be limited to some projects: it cannot read or write any other. Tokens are stored by
`ktpledger.adapters.tokens`; this module decides what a stored token may do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from ktpledger.adapters import tokens
from ktpledger.adapters.database import Database
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.events import EVENT_TYPES
from ktpledger.domain.recorded import Channel, RecordedBy, recorded_by


class Role(StrEnum):
    ADMIN = "admin"
    FINANCE = "finance"
    LMC = "lmc"
    VIEWER = "viewer"


EVERY_TYPE = frozenset(EVENT_TYPES)

RECORDS: Mapping[Role, frozenset[str]] = {
    Role.ADMIN: EVERY_TYPE,
    Role.FINANCE: frozenset(
        {"SpendClaimed", "ClaimReversed", "ParentalLeaveCost", "GrantPayment", "AlertAcknowledged"}
    )
    # the business's invoices and payments
    | frozenset({"BusinessInvoiced", "BusinessPaymentReceived"})
    # grant claims: the finance office submits the quarter's claim
    | frozenset({"ClaimSubmitted"})
    # claim approvals: the finance office records the monitoring officer's approval notice
    | frozenset({"ClaimApproved"}),
    Role.LMC: frozenset({"LMCDecision", "AlertAcknowledged"})
    # Spend profiles: the LMC sets and changes a line's plan (with its minute).
    | frozenset({"SpendProfileSet"}),
    Role.VIEWER: frozenset(),
}
"""The event types each role may record. Only `admin` records `GrantOffered`, `OfferAmended`,
`ProjectClosed` and `ProjectReopened` (every type not named for another role); `lmc`, `finance` and
`admin` acknowledge alerts (R-39)."""


@dataclass(frozen=True)
class Principal:
    """Who a request comes from: a token's role and the projects it was granted (None: all)."""

    token_id: int
    role: Role
    projects: frozenset[str] | None
    label: str | None = None

    def can_read(self, project: str) -> bool:
        return self.projects is None or project in self.projects

    def can_record(self, event_type: str) -> bool:
        return event_type in RECORDS[self.role]

    @property
    def records_anything(self) -> bool:
        return bool(RECORDS[self.role])

    def visible(self, projects: Iterable[str]) -> list[str]:
        return [project for project in projects if self.can_read(project)]

    def recorder(self, channel: Channel = "api") -> RecordedBy:
        """Who the events this token records are recorded by: its label and role. A token with no
        label (or one that cannot be a name: empty, a control character) is named `token N`."""
        name = self.label or f"token {self.token_id}"
        try:
            return recorded_by(name, self.role.value, channel, field="label")
        except RuleViolation:
            return RecordedBy(f"token {self.token_id}", self.role.value, channel)


COMMAND_LINE = Principal(token_id=0, role=Role.ADMIN, projects=None, label="command line")
"""Who the command line reads as: it holds the database itself, so it sees every project, as an
admin token of all projects does (no token is stored for it; `token_id` 0 names none)."""


def create_token(
    database: Database, role: Role | str, projects: Iterable[str] | None = None, label: str | None = None
) -> str:
    """Create a token with `role` (a ValueError if there is no such role) for `projects` (None or
    empty: all); returns the token, which is shown once: only its hash is kept."""
    return tokens.store_token(database, Role(role).value, projects, label)


def authenticate(database: Database, token: str | None) -> Principal | None:
    """The principal of an active token, or None for a missing, unknown or revoked one."""
    stored = tokens.find_active_token(database, token)
    if stored is None:
        return None
    return Principal(
        token_id=stored.token_id, role=Role(stored.role), projects=stored.projects, label=stored.label
    )
