"""The composition root: the only place that builds engines and clients from settings.

Nothing connects at import time; `bootstrap()` returns the objects every entry point needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ktpledger.adapters.database import Database, build_engine
from ktpledger.adapters.notifiers import Notifier
from ktpledger.notify_settings import build_notifiers
from ktpledger.service.ledger import Ledger
from ktpledger.service.notify import DeliveryPolicy, deliver_due
from ktpledger.service.projections import Projector
from ktpledger.service.wakeup import Asleep, BackgroundDelivery, InProcess, WakeUp, load_dispatcher
from ktpledger.settings import Settings


@dataclass
class App:
    """What the entry points use: settings, the database, the ledger and the projector."""

    settings: Settings
    database: Database
    ledger: Ledger
    projector: Projector
    wakeup: WakeUp
    notifiers: Mapping[str, Notifier] = field(default_factory=dict)
    delivery: BackgroundDelivery | None = None  # the embedded default's alert delivery
    read_only: bool = False  # built for reading: no delivery, no wake-up, its ledger refuses appends

    def close(self) -> None:
        if self.delivery is not None:
            self.delivery.close()  # deliver what the last appends raised before the engine goes
        self.ledger.close()
        self.database.dispose()


def bootstrap(
    settings: Settings | None = None, *, wakeup: WakeUp | None = None, read_only: bool = False
) -> App:
    """Build the application. Without a broker, projections run in-process after each append.

    `read_only`: for commands that only read. Such an App has no notifiers, no delivery thread and
    no wake-up (nor a broker's dispatcher), and its ledger refuses appends: a read can never send
    an alert notification or catch a projection up, whatever the outbox holds."""
    settings = settings or Settings.from_env()
    if read_only and wakeup is not None:
        raise ValueError("a read-only App wakes nothing: give no wakeup")
    database = Database(build_engine(settings.database_url))
    if read_only:
        return App(
            settings=settings,
            database=database,
            ledger=Ledger(database, read_only=True),
            projector=Projector(database, channels=settings.notify_channels),
            wakeup=Asleep(),
            read_only=True,
        )
    notifiers = {
        name: notifier for name, notifier in build_notifiers().items() if name in settings.notify_channels
    }
    projector = Projector(database, channels=settings.notify_channels, renotify_after=settings.renotify_after)
    delivery: BackgroundDelivery | None = None
    if wakeup is None:
        if settings.broker_url is None:
            # Notifications go out on a thread of their own: an append never waits for a channel.
            policy = DeliveryPolicy.from_settings(settings)
            background = BackgroundDelivery(lambda: deliver_due(database, notifiers, policy=policy))
            wakeup = InProcess(projector, lambda _raised: background.request())
            delivery = background
        else:
            wakeup = load_dispatcher(settings)
    ledger = Ledger(database, on_appended=wakeup.projects_changed)
    return App(
        settings=settings,
        database=database,
        ledger=ledger,
        projector=projector,
        wakeup=wakeup,
        notifiers=notifiers,
        delivery=delivery,
    )
