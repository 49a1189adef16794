"""A partial index of the fact events: a project's offer, amendments, LMC decisions, closures and
reopenings, invoices, payments and grant claims, by project and version (`ix_events_facts`).

`ledger_store.fact_streams` (the facts `GET /alerts`, `ktpledger alerts` and the rewording of a
refusal fold a project from) read a project's events by type: every row of its stream, the claims
filtered out one by one (2,536 rows read to find 7 of a project of 2,500 claims; issue 18). Through
this index it reads the fact rows alone. A claim's insert only tests the predicate; the rare fact
event adds an entry.

The predicate names the types as literals, as the query does (`tables.EVENTS_FACTS_PREDICATE`):
PostgreSQL's generic plans never see a parameter's value, and SQLite matches a partial index to
the query's terms as written. It is this migration's own copy, frozen: a change to the fact types
is a new migration (tests/ledger/test_migrations.py holds the two equal).

Building it reads `events` once, holding off appends meanwhile (PostgreSQL's CREATE INDEX takes a
SHARE lock; CONCURRENTLY cannot run in the migration's transaction): a few seconds a million events.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

FACTS_PREDICATE = (
    "type IN ('BusinessInvoiced', 'BusinessPaymentReceived', 'ClaimSubmitted', 'GrantOffered', "
    "'LMCDecision', 'OfferAmended', 'ProjectClosed', 'ProjectReopened')"
)


def upgrade() -> None:
    op.create_index(
        "ix_events_facts",
        "events",
        ["project", "version"],
        postgresql_where=sa.text(FACTS_PREDICATE),
        sqlite_where=sa.text(FACTS_PREDICATE),
    )


def downgrade() -> None:
    op.drop_index("ix_events_facts", table_name="events")
