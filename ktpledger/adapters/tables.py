"""The database schema as SQLAlchemy Core tables; Alembic migrations create exactly this."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

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
    UniqueConstraint("project", "version"),
    UniqueConstraint("project", "key"),
    sqlite_autoincrement=True,
)

Index("ix_events_type_position", events.c.type, events.c.position)
