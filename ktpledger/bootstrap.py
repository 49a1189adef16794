"""The composition root: the only place that builds engines and clients from settings.

Nothing connects at import time; `bootstrap()` returns the objects every entry point needs.
"""

from __future__ import annotations

from dataclasses import dataclass

from ktpledger.adapters.database import Database, build_engine
from ktpledger.service.ledger import Ledger
from ktpledger.settings import Settings


@dataclass
class App:
    """What the entry points use: settings, the database and the ledger."""

    settings: Settings
    database: Database
    ledger: Ledger

    def close(self) -> None:
        self.database.dispose()


def bootstrap(settings: Settings | None = None) -> App:
    settings = settings or Settings.from_env()
    database = Database(build_engine(settings.database_url))
    ledger = Ledger(database)
    return App(settings=settings, database=database, ledger=ledger)
