"""The database schema as SQLAlchemy Core tables; Alembic migrations create exactly this."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

from ktpledger.domain.month_ends import FACT_TYPES

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s_%(column_1_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
Position = BigInteger().with_variant(Integer(), "sqlite")

events = Table(
    "events",
    metadata,
    Column("position", Position, Identity(always=False), primary_key=True),
    Column("project", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("type", String(40), nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("key", String(200), nullable=False),
    Column("date", Date, nullable=False),
    Column("data", Text, nullable=False),  # canonical JSON, exactly the text that is hashed
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # Migration 0012: which link document `hash` is of (1: before it; 2: with `recorded_by`), and who
    # recorded the event (canonical JSON `{"channel","name","role"}`, exactly the text hashed; NULL
    # on every chain version 1 row, and on a version 2 row whose append did not say).
    Column("chain_version", Integer, nullable=False, server_default="1"),
    Column("recorded_by", Text, nullable=True),
    UniqueConstraint("project", "version"),
    UniqueConstraint("project", "key"),
    sqlite_autoincrement=True,
)
# Migration 0022: a partial index of the fact events alone, by project and version, for
# `ledger_store.fact_streams` (its query names the same predicate). The types are written as
# literals, in the query as in the index, so that both PostgreSQL (whose generic plans never see a
# parameter's value) and SQLite (which matches a partial index's predicate to the query's terms as
# written) read a project's few fact rows through it, not every row of its stream filtered by type
# (`GET /alerts` read 2,536 rows to find 7, the whole stream of every project it named: issue 18).
# A claim's insert only tests the predicate. The migration keeps its own copy, frozen with it;
# tests/ledger/test_migrations.py holds the two equal.
EVENTS_FACTS_PREDICATE = "type IN ({})".format(", ".join(f"'{kind}'" for kind in sorted(FACT_TYPES)))
Index(
    "ix_events_facts",
    events.c.project,
    events.c.version,
    postgresql_where=text(EVENTS_FACTS_PREDICATE),
    sqlite_where=text(EVENTS_FACTS_PREDICATE),
)


# The ledger-wide chain as recorded when it was last extended (migration 0011; `domain/anchor.py`):
# one row per event in position order, with the number of events up to it and the chain's link at
# it, so a checkpoint at a recorded position is one row read. Only extended (INSERT), never edited.
# It is a cache that `verify --against` never trusts: that recomputes the chain from `events`, and
# uses these rows only to name what changed when their own chain reaches the checkpoint's head.
ledger_chain = Table(
    "ledger_chain",
    metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("events", BigInteger, nullable=False),  # events at or before this position
    Column("project", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("hash", String(64), nullable=False),  # the event's own hash
    Column("link", String(64), nullable=False),  # the ledger-wide chain's link at this event
)
# --- projections: derived from the ledger alone, rebuilt by `ktpledger replay` ---------------------
# Money in projections is integer pence: exact on both backends.

projection_heads = Table(
    "projection_heads",
    metadata,
    Column("project", String(64), primary_key=True),
    Column("version", Integer, nullable=False),  # the last event of the project folded in
    Column("position", BigInteger, nullable=False),  # that event's global position
    Column("clock", Date, nullable=True),  # the latest event date (R-41 forecast)
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # Quarantine (migration 0009): `failed` once a recorded event of the project cannot be read or
    # folded; `version` and `position` then stay at the last append that folded whole, and
    # `failed_version`/`failed_position` name the row, `error` the refusal.
    Column("status", String(16), nullable=False, server_default="ok"),  # ok | failed
    Column("error", Text, nullable=True),
    Column("failed_version", Integer, nullable=True),
    Column("failed_position", BigInteger, nullable=True),
)

# Each project's health facts (issue 16, migration 0015): `domain/health_facts.HealthFacts` as
# JSON, written with the other projections in the same transaction, so the portfolio judges a
# thousand projects as of its day without folding their streams. Derived data: replay rebuilds it.
project_facts = Table(
    "project_facts",
    metadata,
    Column("project", String(64), primary_key=True),
    Column("version", Integer, nullable=False),  # the project's version the facts are of
    Column("facts", Text, nullable=False),
)

# Each project's portfolio row as judged for a day (issue 16, migration 0017): the row
# (`service/portfolio.PortfolioRow`) as JSON, of the project's `version`, judged `as_of` that day.
# A cache of the day, not a projection: a reader uses a row only when it is of the ledger's head
# and of the day asked for, and judges (and writes back) any other; an hourly task judges the
# day's rows before anyone asks. Never compared by `verify --projections`; replay leaves it.
portfolio_rows = Table(
    "portfolio_rows",
    metadata,
    Column("project", String(64), primary_key=True),
    Column("version", Integer, nullable=False),  # the project's version the row was judged from
    Column("as_of", Date, nullable=False),  # the day it was judged as of
    Column("row", Text, nullable=False),
)

# Projects' folded states (issue 18, `domain/snapshot.py`), the newest two of each project and the
# newest two full ones: an append or a catch-up in a new process loads the newest at or before the
# version it needs and folds on from there. Derived data: written with appends every `SNAPSHOT_EVERY`
# events (full) and every `TOTALS_EVERY` (totals: `claims` empty), and by replay; checked by
# `verify --projections`; a row of another `format` is ignored.
state_snapshots = Table(
    "state_snapshots",
    metadata,
    Column("project", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),  # the project's version the state is folded to
    Column("format", String(40), nullable=False),  # `snapshot.SNAPSHOT_FORMAT_NOW` of its writer
    Column("state", LargeBinary, nullable=False),  # the state but its claims (`snapshot.snapshot_of`)
    Column("written_at", DateTime(timezone=True), nullable=False),
    # Its claims, read only when the state is asked for them (`snapshot.DeferredClaims`).
    Column("claims", LargeBinary, nullable=False, server_default=text("''")),
)

allowance_lines = Table(
    "allowance_lines",
    metadata,
    Column("project", String(64), primary_key=True),
    Column("category", String(40), primary_key=True),
    Column("ordinal", Integer, nullable=False),
    Column("budget_pence", BigInteger, nullable=False),
    Column("limit_pence", BigInteger, nullable=True),
    Column("limit_kind", String(16), nullable=False),
    Column("spent_pence", BigInteger, nullable=False),
    Column("eligible_pence", BigInteger, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Position, Identity(always=False), primary_key=True),
    Column("project", String(64), nullable=False),
    Column("category", String(40), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("detail", Text, nullable=False),  # JSON: the figures when it was raised (the audit trail)
    Column("current", Text, nullable=True),  # JSON: the figures now, while it is open
    Column("status", String(16), nullable=False),  # open | resolved
    Column("raised_at_version", Integer, nullable=False),
    Column("resolved_at_version", Integer, nullable=True),
    Column("raised_at", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    Column(
        "resolved_reason", String(32), nullable=True
    ),  # closed | lmc_decision | offer_amended | reversal | no_longer_holds
    Column("quiet", Boolean, nullable=False, server_default=false()),  # raised and resolved in one append
    # Migration 0013: the ledger dates of the raise and the resolution (the dates of the events at
    # those versions), and the acknowledgement (R-39, `AlertAcknowledged`): the first one stands.
    Column("raised_on", Date, nullable=True),
    Column("resolved_on", Date, nullable=True),
    Column("acknowledged_at_version", Integer, nullable=True),
    Column("acknowledged_on", Date, nullable=True),
    Column("acknowledged_by_name", String(200), nullable=True),
    Column("acknowledged_by_role", String(16), nullable=True),
    Column("acknowledged_by_channel", String(16), nullable=True),
    Column("acknowledgement_note", Text, nullable=True),
    # One crossing, one alert: redelivered or replayed work cannot raise it twice.
    UniqueConstraint(
        "project", "category", "kind", "subject", "raised_at_version", name="uq_alerts_crossing"
    ),
    sqlite_autoincrement=True,
)

notifications = Table(
    "notifications",
    metadata,
    Column("alert_id", BigInteger, primary_key=True),
    Column("channel", String(32), primary_key=True),
    Column("status", String(16), nullable=False),  # pending | delivered | failed | suppressed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text, nullable=True),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    # Migration 0010: the retry period runs from the first attempt (a resend clears it).
    Column("first_attempt_at", DateTime(timezone=True), nullable=True),
    Column("last_attempt_at", DateTime(timezone=True), nullable=True),
    Column("failed_at", DateTime(timezone=True), nullable=True),
)

trackers = Table(
    "trackers",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# --- system alerts: the service's own troubles, for administrators (migration 0008) ---------------
# Not projections of the ledger: `replay` neither deletes nor rebuilds them. Each kind names what it
# is about in `subject` (a project for `projection_failed`, a channel for `channel_down`); at most one
# is open per (kind, subject). Their notifications have an outbox of their own, of the same shape as
# `notifications`.

system_alerts = Table(
    "system_alerts",
    metadata,
    Column("id", Position, Identity(always=False), primary_key=True),
    Column("kind", String(32), nullable=False),  # projection_failed | channel_down
    Column("subject", String(200), nullable=False),  # the project, or the channel
    Column("detail", Text, nullable=False),  # JSON: what went wrong, as it was when raised
    Column("message", Text, nullable=False),  # a sentence for an administrator
    Column("status", String(16), nullable=False),  # open | resolved
    Column("raised_at", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    Column("resolved_reason", Text, nullable=True),
    sqlite_autoincrement=True,
)

system_notifications = Table(
    "system_notifications",
    metadata,
    Column("system_alert_id", BigInteger, primary_key=True),
    Column("channel", String(32), primary_key=True),
    Column("status", String(16), nullable=False),  # pending | delivered | failed | suppressed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text, nullable=True),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    # Migration 0010: the retry period runs from the first attempt (a resend clears it).
    Column("first_attempt_at", DateTime(timezone=True), nullable=True),
    Column("last_attempt_at", DateTime(timezone=True), nullable=True),
    Column("failed_at", DateTime(timezone=True), nullable=True),
)

# --- channel health (migration 0010): when a channel's current run of failed attempts began ------
# A row per channel that has ever failed; `failing_since` is NULL while it delivers. A channel that has
# failed every attempt for KTPLEDGER_CHANNEL_DOWN_MINUTES raises a `channel_down` system alert.

channel_health = Table(
    "channel_health",
    metadata,
    Column("channel", String(32), primary_key=True),
    Column("failing_since", DateTime(timezone=True), nullable=True),
    Column("failures", Integer, nullable=False),  # failed attempts since `failing_since`
    Column("last_failure_at", DateTime(timezone=True), nullable=True),
    Column("last_error", Text, nullable=True),
)

Index(
    "ix_system_alerts_open",
    system_alerts.c.kind,
    system_alerts.c.subject,
    unique=True,
    postgresql_where=system_alerts.c.status == "open",
    sqlite_where=system_alerts.c.status == "open",
)
Index("ix_system_notifications_due", system_notifications.c.status, system_notifications.c.next_attempt_at)

Index(
    "ix_alerts_open",
    alerts.c.project,
    alerts.c.category,
    alerts.c.kind,
    alerts.c.subject,
    unique=True,
    postgresql_where=alerts.c.status == "open",
    sqlite_where=alerts.c.status == "open",
)
Index("ix_alerts_project_status", alerts.c.project, alerts.c.status)
Index("ix_notifications_due", notifications.c.status, notifications.c.next_attempt_at)
