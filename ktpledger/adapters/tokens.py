"""Token storage for the HTTP API and the dashboard: only a token's SHA-256 hash is stored.

A token is 32 random bytes, URL-safe base64 (`secrets.token_urlsafe(32)`), shown once when it is
made. A row holds its hash, a role name and the projects it was granted ("*": every project). What
a role may do is the access policy's (`ktpledger.service.access`): here a role is only a name.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update

from ktpledger.adapters.database import Database
from ktpledger.adapters.token_tables import api_tokens
from ktpledger.domain.events import PROJECT_PATTERN

ALL_PROJECTS = "*"
TOKEN_BYTES = 32
MAX_LABEL = 200  # api_tokens.label is VARCHAR(200)
MAX_TOKEN = 200  # a longer text is no token of ours: refused before it is hashed


@dataclass(frozen=True)
class StoredToken:
    """An active token's row: its id, role name, granted projects (None: every one) and label."""

    token_id: int
    role: str
    projects: frozenset[str] | None
    label: str | None


def hash_token(token: str) -> str:
    """The stored form of a token: its SHA-256 digest, hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def parse_projects(projects: Iterable[str] | None) -> str:
    """The stored form of a grant: "*" for every project, else a sorted comma list."""
    names = sorted({name.strip() for name in projects or () if name.strip()})
    if not names or ALL_PROJECTS in names:
        return ALL_PROJECTS
    for name in names:
        if not PROJECT_PATTERN.fullmatch(name) or "," in name:
            raise ValueError(f"not a project reference: {name!r}")
    return ",".join(names)


def store_token(
    database: Database, role: str, projects: Iterable[str] | None = None, label: str | None = None
) -> str:
    """Store a new token with the role named `role` for `projects` (None or empty: all); returns
    the token, which is shown once: only its hash is kept. The caller has checked the role."""
    if label is not None and len(label) > MAX_LABEL:
        raise ValueError(f"a label is at most {MAX_LABEL} characters")
    token = new_token()
    with database.projection() as connection:
        connection.execute(
            api_tokens.insert().values(
                token_hash=hash_token(token),
                role=role,
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


def find_active_token(database: Database, token: str | None) -> StoredToken | None:
    """The row of an active token, or None for a missing, unknown or revoked one."""
    if not token or len(token) > MAX_TOKEN:
        return None
    digest = hash_token(token)
    with database.read() as connection:
        row = connection.execute(
            select(api_tokens).where(api_tokens.c.token_hash == digest, api_tokens.c.revoked_at.is_(None))
        ).first()
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    projects = None if row.projects == ALL_PROJECTS else frozenset(row.projects.split(","))
    return StoredToken(token_id=int(row.id), role=row.role, projects=projects, label=row.label)
