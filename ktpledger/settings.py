"""Settings from the environment (CONTRACT.md, Configuration); read once, by the composition root."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace

from ktpledger.notify_settings import notify_channels

DEFAULT_DATABASE_URL = "sqlite:///ktpledger.db"


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for a bare `postgresql://` URL, as CONTRACT.md names `postgresql+psycopg://`."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@dataclass(frozen=True)
class Settings:
    """Where the ledger lives and where tasks go: no broker means tasks run in-process (eager)."""

    database_url: str = DEFAULT_DATABASE_URL
    broker_url: str | None = None
    notify_channels: tuple[str, ...] = ("log",)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            database_url=normalise_database_url(env.get("KTPLEDGER_DATABASE_URL") or DEFAULT_DATABASE_URL),
            broker_url=env.get("KTPLEDGER_BROKER_URL") or None,
            notify_channels=tuple(notify_channels(env)),
        )

    def with_broker(self, url: str | None) -> Settings:
        return replace(self, broker_url=url or None)

    def with_database(self, url: str | None) -> Settings:
        return self if not url else replace(self, database_url=normalise_database_url(url))
