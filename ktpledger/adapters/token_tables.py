"""The HTTP API's access tokens (migration 0003), on the same metadata as the ledger's tables.

Only a token's SHA-256 hash is stored: the token itself is shown once, when it is created.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Identity, String, Table, Text, UniqueConstraint

from ktpledger.adapters.tables import Position, metadata

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Position, Identity(always=False), primary_key=True),
    Column("token_hash", String(64), nullable=False),  # sha256 hex of the token
    Column("role", String(16), nullable=False),  # admin | finance | lmc | viewer
    Column("projects", Text, nullable=False),  # "*" (every project) or a comma list of references
    Column("label", String(200), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    sqlite_autoincrement=True,
)
