"""The composition root: the only place that builds engines and clients from settings.

Nothing connects at import time; `bootstrap()` returns the objects every entry point needs.
"""

from __future__ import annotations

from dataclasses import dataclass

from ktpledger.adapters.database import Database, build_engine
from ktpledger.service.ledger import Ledger
from ktpledger.service.projections import Projector
from ktpledger.service.wakeup import InProcess, WakeUp, load_dispatcher
from ktpledger.settings import Settings


@dataclass
class App:
    """What the entry points use: settings, the database, the ledger and the projector."""

    settings: Settings
    database: Database
    ledger: Ledger
    projector: Projector
    wakeup: WakeUp

    def close(self) -> None:
        self.database.dispose()


def bootstrap(settings: Settings | None = None, *, wakeup: WakeUp | None = None) -> App:
    """Build the application. Without a broker, projections run in-process after each append."""
    settings = settings or Settings.from_env()
    database = Database(build_engine(settings.database_url))
    projector = Projector(database, channels=settings.notify_channels)
    if wakeup is None:
        wakeup = InProcess(projector) if settings.broker_url is None else load_dispatcher(settings)
    ledger = Ledger(database, on_appended=wakeup.projects_changed)
    return App(settings=settings, database=database, ledger=ledger, projector=projector, wakeup=wakeup)
