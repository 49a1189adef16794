"""Access control for the HTTP API: bearer tokens, stored hashed, each with a role and its projects.

A token is 32 random bytes, URL-safe base64 (`secrets.token_urlsafe(32)`); only its SHA-256 hex
digest is stored. Roles:

- `admin`: everything, including the events only an administrator records (`GrantOffered`,
  `ProjectClosed`);
- `finance`: reads, and records `SpendClaimed`, `ClaimReversed`, `ParentalLeaveCost`, `GrantPayment`;
- `lmc`: reads, and records `LMCDecision`;
- `viewer`: reads only.

A token may be limited to some projects: it cannot read or write any other.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select, update

from ktpledger.adapters.database import Database
from ktpledger.adapters.token_tables import api_tokens
from ktpledger.domain.events import EVENT_TYPES, PROJECT_PATTERN

ALL_PROJECTS = "*"
TOKEN_BYTES = 32
MAX_LABEL = 200


class Role(StrEnum):
    ADMIN = "admin"
    FINANCE = "finance"
    LMC = "lmc"
    VIEWER = "viewer"


EVERY_TYPE = frozenset(EVENT_TYPES)

RECORDS: Mapping[Role, frozenset[str]] = {
    Role.ADMIN: EVERY_TYPE,
    Role.FINANCE: frozenset({"SpendClaimed", "ClaimReversed", "ParentalLeaveCost", "GrantPayment"}),
    Role.LMC: frozenset({"LMCDecision"}),
    Role.VIEWER: frozenset(),
}
"""The event types each role may record. Only `admin` records `GrantOffered` and `ProjectClosed`."""


def hash_token(token: str) -> str:
    """The stored form of a token: its SHA-256 digest, hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


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


def parse_projects(projects: Iterable[str] | None) -> str:
    """The stored form of a grant: "*" for every project, else a sorted comma list."""
    names = sorted({name.strip() for name in projects or () if name.strip()})
    if not names or ALL_PROJECTS in names:
        return ALL_PROJECTS
    for name in names:
        if not PROJECT_PATTERN.fullmatch(name) or "," in name:
            raise ValueError(f"not a project reference: {name!r}")
    return ",".join(names)


def create_token(
    database: Database, role: Role | str, projects: Iterable[str] | None = None, label: str | None = None
) -> str:
    """Create a token with `role` for `projects` (None or empty: all); returns the token, which is
    shown once: only its hash is kept."""
    role = Role(role)
    if label is not None and len(label) > MAX_LABEL:
        raise ValueError(f"a label is at most {MAX_LABEL} characters")
    token = new_token()
    with database.projection() as connection:
        connection.execute(
            api_tokens.insert().values(
                token_hash=hash_token(token),
                role=role.value,
                projects=parse_projects(projects),
                label=label,
                created_at=datetime.now(UTC),
                revoked_at=None,
            )
        )
        connection.commit()
    return token


def revoke_token(database: Database, token_id: int) -> bool:
    """Revoke the token with id `token_id`; True if an active token was revoked."""
    with database.projection() as connection:
        result = connection.execute(
            update(api_tokens)
            .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
        connection.commit()
    return bool(result.rowcount)


def list_tokens(database: Database) -> list[dict[str, object]]:
    """Every token's id, role, projects, label and dates (never a hash), oldest first."""
    with database.read() as connection:
        rows = connection.execute(select(api_tokens).order_by(api_tokens.c.id)).all()
    return [
        {
            "id": int(row.id),
            "role": row.role,
            "projects": row.projects,
            "label": row.label,
            "created_at": row.created_at.isoformat(),
            "revoked_at": None if row.revoked_at is None else row.revoked_at.isoformat(),
        }
        for row in rows
    ]


def authenticate(database: Database, token: str | None) -> Principal | None:
    """The principal of an active token, or None for a missing, unknown or revoked one."""
    if not token or len(token) > 200:
        return None
    digest = hash_token(token)
    with database.read() as connection:
        row = connection.execute(
            select(api_tokens).where(api_tokens.c.token_hash == digest, api_tokens.c.revoked_at.is_(None))
        ).first()
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    projects = None if row.projects == ALL_PROJECTS else frozenset(row.projects.split(","))
    return Principal(token_id=int(row.id), role=Role(row.role), projects=projects, label=row.label)
