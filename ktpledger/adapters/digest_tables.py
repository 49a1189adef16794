"""The digests (migration 0016), on the same metadata as the ledger's tables.

A row per recipient and period: the digest as composed (subject, plain text and HTML bodies),
the snapshot of the alerts open when it was composed (the next digest compares with it), and its
delivery, retried as the notification outboxes' rows are. The unique (recipient, period_end) is
what keeps a period from being sent twice, whoever composes it: a second composition of the same
period (another beat scheduler, a rerun of `ktpledger digest send`) inserts nothing.

Not a projection: `replay` leaves it alone (the snapshots say what was sent, not what the ledger
holds).
"""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, Identity, Index, Integer, String, Table, Text, UniqueConstraint

from ktpledger.adapters.tables import Position, metadata

digests = Table(
    "digests",
    metadata,
    Column("id", Position, Identity(always=False), primary_key=True),
    Column("recipient", String(254), nullable=False),  # the e-mail address, lower case
    Column("every", String(8), nullable=False),  # day | week
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("as_of", Date, nullable=False),  # the day the figures were judged on
    # pending | delivered | failed | empty (nothing new, resolved or open: never sent)
    Column("status", String(16), nullable=False),
    Column("subject", Text, nullable=False),
    Column("body_text", Text, nullable=False),
    Column("body_html", Text, nullable=False),
    Column("counts", Text, nullable=False),  # JSON: new, resolved, worsening, open
    Column("snapshot", Text, nullable=False),  # JSON: the open alerts by identity (domain/digest.py)
    Column("delivery_id", String(64), nullable=False),  # the Message-ID's left part, the same on retries
    Column("attempts", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("first_attempt_at", DateTime(timezone=True), nullable=True),
    Column("last_attempt_at", DateTime(timezone=True), nullable=True),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Column("failed_at", DateTime(timezone=True), nullable=True),
    Column("last_error", Text, nullable=True),
    UniqueConstraint("recipient", "period_end", name="uq_digests_recipient_period"),
    sqlite_autoincrement=True,
)

Index("ix_digests_due", digests.c.status, digests.c.next_attempt_at)
