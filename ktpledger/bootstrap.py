"""The composition root: the only place that builds engines and clients from settings.

Nothing connects at import time; `bootstrap()` returns the objects every entry point needs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from ktpledger.adapters.database import Database, build_engine
from ktpledger.adapters.notifiers import DigestMailer, Notifier
from ktpledger.adapters.projection_sql import projection_store
from ktpledger.adapters.signing import Signer, Verifier, load_signer, load_verifier, private_key_exposed
from ktpledger.digest_settings import load_recipients
from ktpledger.domain.digest import DigestRecipient
from ktpledger.notify_settings import DIGEST, email_notifier, notifiers_for
from ktpledger.service.checkpoints import Checkpoints
from ktpledger.service.ledger import Ledger
from ktpledger.service.notify import DeliveryPolicy, deliver_due
from ktpledger.service.projections import Projector
from ktpledger.service.wakeup import Asleep, BackgroundDelivery, InProcess, WakeUp, load_dispatcher
from ktpledger.settings import Settings

log = logging.getLogger("ktpledger.bootstrap")


@dataclass
class App:
    """What the entry points use: settings, the database, the ledger and the projector."""

    settings: Settings
    database: Database
    ledger: Ledger
    projector: Projector
    wakeup: WakeUp
    checkpoints: Checkpoints
    verifier: Verifier | None = None  # checks checkpoints' signatures (`verify --against`)
    notifiers: Mapping[str, Notifier] = field(default_factory=dict)
    delivery: BackgroundDelivery | None = None  # the embedded default's alert delivery
    read_only: bool = False  # built for reading: no delivery, no wake-up, its ledger refuses appends
    digest: DigestSetup | None = None  # the digest channel's recipients and mailer, when it is on

    def close(self) -> None:
        if self.delivery is not None:
            self.delivery.close()  # deliver what the last appends raised before the engine goes
        self.ledger.close()
        self.database.dispose()


@dataclass(frozen=True)
class DigestSetup:
    """The digest channel (KTPLEDGER_NOTIFY names `digest`): its recipients, read once from
    KTPLEDGER_DIGEST_RECIPIENTS, and the mailer that sends through the KTPLEDGER_SMTP_* server."""

    recipients: tuple[DigestRecipient, ...]
    mailer: DigestMailer


def digest_setup(settings: Settings) -> DigestSetup | None:
    """The digest channel's setup, or None when it is off; a ValueError naming the file, the
    recipient and the field (or the variable) when it cannot be used."""
    if not settings.digest:
        return None
    recipients = tuple(load_recipients(settings.digest_recipients))
    return DigestSetup(recipients, DigestMailer(email_notifier(settings.channels, channel=DIGEST)))


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
    signer, verifier = checkpoint_keys(settings)
    database = Database(build_engine(settings.database_url))
    store = projection_store(database)
    if read_only:
        return App(
            settings=settings,
            database=database,
            ledger=Ledger(database, read_only=True),
            projector=Projector(database, channels=settings.notify_channels, store=store),
            wakeup=Asleep(),
            checkpoints=Checkpoints(database, signer),
            verifier=verifier,
            read_only=True,
        )
    # The channels the settings name, each with the address the settings hold: an alert is
    # written to the outbox for exactly the channels that have a notifier here.
    notifiers = notifiers_for(settings.notify_channels, settings.channels)
    digest = digest_setup(settings)
    projector = Projector(
        database,
        channels=settings.notify_channels,
        renotify_after=settings.renotify_after,
        store=store,
        # With the digest on, e-mail sends only the kinds that cannot wait (KTPLEDGER_EMAIL_KINDS).
        channel_kinds={} if settings.email_kinds is None else {"email": settings.email_kinds},
    )
    checkpoints = Checkpoints(database, signer)
    delivery: BackgroundDelivery | None = None
    if wakeup is None:
        if settings.broker_url is None:
            # Notifications go out on a thread of their own: an append never waits for a channel;
            # the ledger-wide chain of what was appended is recorded there too.
            policy = DeliveryPolicy.from_settings(settings)
            background = BackgroundDelivery(lambda: after_appends(database, notifiers, checkpoints, policy))
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
        checkpoints=checkpoints,
        verifier=verifier,
        notifiers=notifiers,
        delivery=delivery,
        digest=digest,
    )


def after_appends(
    database: Database, notifiers: Mapping[str, Notifier], checkpoints: Checkpoints, policy: DeliveryPolicy
) -> None:
    """The embedded default's work after appends, off their path: deliver what is due, then record
    the ledger-wide chain of the new events (so reports read their checkpoint off the record)."""
    try:
        deliver_due(database, notifiers, policy=policy)
    finally:
        try:
            checkpoints.extend()
        except Exception:  # the next run extends it; a checkpoint meanwhile works out what it lacks
            log.warning("the ledger-wide chain was not recorded; the next run will", exc_info=True)


def checkpoint_keys(settings: Settings) -> tuple[Signer | None, Verifier | None]:
    """The checkpoint signer and verifier the settings name (files read here, once); a key file
    that cannot be used is a ValueError naming it."""
    signer = None
    if settings.checkpoint_key:
        signer = load_signer(settings.checkpoint_key)
        if private_key_exposed(settings.checkpoint_key):
            log.warning(
                "the checkpoint key %s may be read by other users: chmod 600 it", settings.checkpoint_key
            )
    if settings.checkpoint_public_key:
        return signer, load_verifier(settings.checkpoint_public_key)
    return signer, None if signer is None else Verifier(signer.public)
