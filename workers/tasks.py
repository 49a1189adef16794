"""Celery tasks: thin wrappers over ktpledger's service functions, the same ones the embedded
default runs in-process. Each worker process builds its own application on first use."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, Protocol, TypeVar, cast

from celery.signals import worker_process_init, worker_shutdown

from ktpledger.bootstrap import App, bootstrap
from ktpledger.service.collector import SurvivorsFrozen
from ktpledger.service.wakeup import BackgroundDelivery, chunks
from ktpledger.settings import Settings
from workers.app import app
from workers.due import DueProjects

log = logging.getLogger("ktpledger.workers")
_application: App | None = None
_raised: RaisedDeliveries | None = None
_turns: CatchUpsFirst | None = None
_due: DueProjects | None = None
_survivors: SurvivorsFrozen | None = None

P = ParamSpec("P")
R_co = TypeVar("R_co", covariant=True)


class Task(Protocol[P, R_co]):
    """What this module uses of a Celery task: calling it runs it here; `delay` sends a message with
    the same arguments (its AsyncResult is never read: the tasks ignore their results)."""

    name: str

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R_co: ...

    def delay(self, *args: P.args, **kwargs: P.kwargs) -> object: ...


def task(name: str) -> Callable[[Callable[P, R_co]], Task[P, R_co]]:
    """`app.task(name=...)`, typed: Celery ships no types, so its decorator is Any to mypy. A Celery
    task is called with its function's arguments and has `delay` with the same ones; the cast says
    so once, here, rather than leaving every task untyped."""
    return cast(Callable[[Callable[P, R_co]], Task[P, R_co]], app.task(name=name))


def _on_worker_process_init(handler: Callable[..., None]) -> Callable[..., None]:
    """`worker_process_init.connect`, typed: it registers the handler and returns it unchanged."""
    connect = cast(Callable[[Callable[..., None]], Callable[..., None]], worker_process_init.connect)
    return connect(handler)


def _on_worker_shutdown(handler: Callable[..., None]) -> Callable[..., None]:
    """`worker_shutdown.connect`, typed, as above."""
    connect = cast(Callable[[Callable[..., None]], Callable[..., None]], worker_shutdown.connect)
    return connect(handler)


# How long a worker must have had no catch-up running before its delivery thread takes a turn,
# and the most a raised alert waits for such a gap: a delivery costs a worker 4-5 ms of CPU an
# alert (claim, present, send, finish), and a month step raises several alerts a project at once,
# so deliveries run beside the catch-ups took half the CPU of a burst and doubled its lag
# (bench/lag.py, claims a month apart, 2026-12-06: p99 530-540 ms, 120-230 ms with none delivered;
# waiting for a gap, 4 pairs alternated: 206-380 ms -> 121-265 ms).
QUIET_SECONDS = 0.02
PATIENCE_SECONDS = 5.0
# Past its patience, a delivery goes beside the catch-ups but takes at most this share of the time
# (a turn of d seconds, then a rest of 3d): all at once, the deferred deliveries of a burst of
# month steps made the seconds after the patience the run's worst (p99 240-290 ms a second). 3
# rounds alternated: p99 70-292 ms with the patience alone, 33-168 ms with this share (the last
# notification delivered 0.7-1.6 s after the projections caught up).
BUSY_SHARE = 0.25
# Alerts delivered in one turn: a turn runs beside whatever catch-up arrives meanwhile, so short.
TURN_ALERTS = 4


class CatchUpsFirst:
    """Whether a worker's catch-ups leave its delivery thread a turn: the catch-ups mark when they
    run (`catching_up`), and the delivery thread waits for a quiet gap (`wait_turn`). Projection
    lag has a target and a notification has none but to be sent (retried for days, README
    "Notifications"), so under load the catch-ups go first; `patience` bounds the wait, so a
    worker never idle still delivers."""

    def __init__(
        self, quiet: float = QUIET_SECONDS, patience: float = PATIENCE_SECONDS, share: float = BUSY_SHARE
    ) -> None:
        self.quiet, self.patience, self.share = quiet, patience, share
        self._changed = threading.Condition()
        self._running = 0
        self._last_end = time.monotonic()
        self._released = False
        self._rest_until = 0.0  # after a turn taken while the worker was busy (`took`)

    @contextmanager
    def catching_up(self) -> Iterator[None]:
        with self._changed:
            self._running += 1
        try:
            yield
        finally:
            with self._changed:
                self._running -= 1
                self._last_end = time.monotonic()
                self._changed.notify_all()

    def wait_turn(self, asked_at: float) -> None:
        """Return once no catch-up has run for `quiet` seconds; or, the worker busy, `patience`
        seconds after `asked_at` (a `time.monotonic()`) and the rest after the last turn over
        (`took`); or at once after `release`."""
        deadline = asked_at + self.patience
        with self._changed:
            while not self._released:  # bounded: by the deadline and the rest
                now = time.monotonic()
                if self._running == 0 and now - self._last_end >= self.quiet:
                    return
                due = max(deadline, self._rest_until)
                if now >= due:
                    return
                wait = due - now
                if self._running == 0:
                    wait = min(wait, self.quiet - (now - self._last_end))
                self._changed.wait(wait)

    def took(self, seconds: float) -> None:
        """A turn took `seconds`: the next waits that much again, times (1 - share) / share,
        unless the worker is quiet by then."""
        with self._changed:
            self._rest_until = time.monotonic() + seconds * (1 - self.share) / self.share

    def release(self) -> None:
        """Wait no more (the worker is stopping: what was asked for goes now)."""
        with self._changed:
            self._released = True
            self._changed.notify_all()


class RaisedDeliveries:
    """The alerts this worker process's catch-ups raised, delivered on a thread of its own
    (`BackgroundDelivery`), all those gathered since the last run at once. A delivery run waits on
    the database and the channels (a webhook may take its whole timeout): as a task of its own it
    held the worker for 100-370 ms, and every catch-up queued behind it waited as long (issue 18,
    projection lag). The run goes a few alerts at a time, each turn in a gap between catch-ups
    (`CatchUpsFirst`). What a process leaves undelivered stays in the outbox for `deliver_due`."""

    def __init__(
        self,
        deliver_ids: Callable[[list[int]], object],
        turns: CatchUpsFirst | None = None,
        *,
        turn_alerts: int = TURN_ALERTS,
    ) -> None:
        self._deliver_ids = deliver_ids
        self.turns = CatchUpsFirst() if turns is None else turns
        self._turn_alerts = turn_alerts
        self._gathered: set[int] = set()
        self._asked_at = 0.0  # when the oldest of `_gathered` was added
        self._lock = threading.Lock()
        self._thread = BackgroundDelivery(self._run)

    def add(self, alert_ids: list[int]) -> None:
        with self._lock:
            if not self._gathered:
                self._asked_at = time.monotonic()
            self._gathered.update(alert_ids)
        self._thread.request()

    def _run(self) -> None:
        with self._lock:
            ids, self._gathered = sorted(self._gathered), set()
            asked_at = self._asked_at
        for start in range(0, len(ids), self._turn_alerts):  # bounded: the ids gathered
            self.turns.wait_turn(asked_at)
            began = time.monotonic()
            self._deliver_ids(ids[start : start + self._turn_alerts])
            self.turns.took(time.monotonic() - began)

    def close(self) -> None:
        self.turns.release()
        self._thread.close()


def catch_up_turns() -> CatchUpsFirst:
    global _turns
    if _turns is None:
        _turns = CatchUpsFirst()
    return _turns


def raised_deliveries() -> RaisedDeliveries:
    global _raised
    if _raised is None:
        _raised = RaisedDeliveries(deliver, catch_up_turns())
    return _raised


@_on_worker_shutdown
def _deliver_before_stopping(**_: Any) -> None:
    # Waits for the run asked for (up to BackgroundDelivery's close timeout); the rest stays due.
    if _raised is not None:
        _raised.close()


def due_projects() -> DueProjects:
    global _due
    if _due is None:
        _due = DueProjects(Settings.from_env().broker_url)
    return _due


class _Dispatcher:
    """Inside a worker, a wake-up is another catch-up message (its projects announced first, as
    the Celery dispatcher announces them: workers/due.py)."""

    def projects_changed(self, projects: set[str]) -> None:
        try:
            due_projects().add(projects)
        except Exception:  # only a saving is lost: each message names its projects
            log.warning("could not announce %s as due", sorted(projects), exc_info=True)
        for chunk in chunks(projects):
            catch_up.delay(chunk)


def application() -> App:
    global _application
    if _application is None:
        _application = bootstrap(Settings.from_env(), wakeup=_Dispatcher())
        survivors().settle()  # what start-up made lives for good: out of every collection's walk
    return _application


def survivors() -> SurvivorsFrozen:
    """This process's `SurvivorsFrozen`: its long-lived objects kept out of the collector's walks."""
    global _survivors
    if _survivors is None:
        _survivors = SurvivorsFrozen()
    return _survivors


@_on_worker_process_init
def _fresh_process(**_: Any) -> None:
    # A forked pool process must not share its parent's database connections.
    global _application, _raised, _due, _turns, _survivors
    _application = None
    _survivors = None  # its own clock of freezes
    _raised = None  # its thread is the parent's: a child gathers and delivers its own
    _turns = None  # and marks its own catch-ups
    _due = None  # nor may it share the parent's Redis connection


@task("ktpledger.catch_up")
def catch_up(projects: str | list[str]) -> dict[str, Any]:
    """Fold the new events of the named projects into their projections; raise and resolve their
    alerts. The message names projects and nothing else: the events are read from the ledger.
    Other projects announced as due (workers/due.py) that this process keeps folded and no other
    worker holds are caught up in the same transaction."""
    names = [projects] if isinstance(projects, str) else list(projects)
    with catch_up_turns().catching_up():
        results = application().projector.catch_up_many(names, also=due_projects().take())
    survivors().settle()  # between catch-ups: no lock held, no transaction open
    raised = [alert for result in results for alert in result.raised]
    if raised:
        raised_deliveries().add(raised)
    return {
        "projects": len(results),
        "events": sum(r.to_version - r.from_version for r in results),
        "raised": raised,
        "quarantined": [r.project for r in results if r.failed is not None],
    }


@task("ktpledger.deliver")
def deliver(alert_ids: list[int]) -> dict[str, int]:
    """Send new alerts to the configured channels (retries are the database's, not Celery's). A
    worker's own catch-ups deliver theirs on a thread (`RaisedDeliveries`); the task is kept for
    whoever sends it."""
    from ktpledger.service.notify import DeliveryPolicy, deliver_alerts

    found = application()
    policy = DeliveryPolicy.from_settings(found.settings)
    report = deliver_alerts(found.database, found.notifiers, alert_ids, policy=policy)
    return {"delivered": report.delivered, "retried": report.retried, "failed": report.failed}


@task("ktpledger.deliver_due")
def deliver_due() -> dict[str, int]:
    """Send every notification that is due, of KTP alerts and system alerts: new ones, and those
    whose back-off has passed (retried for KTPLEDGER_NOTIFY_RETRY_HOURS from their first attempt)."""
    from ktpledger.service.notify import DeliveryPolicy
    from ktpledger.service.notify import deliver_due as due

    found = application()
    report = due(found.database, found.notifiers, policy=DeliveryPolicy.from_settings(found.settings))
    return {"delivered": report.delivered, "retried": report.retried, "failed": report.failed}


@task("ktpledger.digest_send")
def digest_send() -> dict[str, Any]:
    """Compose the digests due today (one per recipient and period, never twice) and send every
    pending one; the digest channel off, nothing. Beat runs it hourly: a period's digest is
    composed by the first run of its day, and a failed send is retried by the next runs."""
    from ktpledger.service.delivery_policy import DeliveryPolicy
    from ktpledger.service.digest import send_digests

    found = application()
    if found.digest is None:
        return {"composed": 0, "delivered": 0, "retried": 0, "failed": 0}
    run = send_digests(
        found.database,
        found.digest.recipients,
        found.digest.mailer,
        found.settings.reading_day(),
        policy=DeliveryPolicy.from_settings(found.settings),
        channels=found.settings.notify_channels,
    )
    return {"composed": len(run.composed), **run.delivery.to_json()}


@task("ktpledger.portfolio_judge")
def portfolio_judge() -> dict[str, Any]:
    """Judge the portfolio's rows of the day (R-47) that are not stored yet, so the KTP office's
    first read of a day reads them instead of judging a thousand projects (`service/portfolio`,
    "Where the rows come from"). Beat runs it every quarter of an hour."""
    from ktpledger.service.portfolio import judge_the_day

    found = application()
    today = found.settings.reading_day()
    return {"as_of": today.isoformat(), "judged": judge_the_day(found, today)}


@task("ktpledger.sweep")
def sweep() -> dict[str, int]:
    """Wake every projection that has fallen behind the ledger (a lost message only delays); then
    record the ledger-wide chain for the events appended since, so reports read their checkpoint
    off the record (`ktpledger.service.checkpoints`)."""
    projector = application().projector
    changed, position = projector.changed_since_sweep()
    lagging = set(projector.lagging()) | changed
    for chunk in chunks(lagging):
        catch_up.delay(chunk)
    projector.save_sweep(position)
    try:
        recorded = application().checkpoints.extend().position
    except Exception:  # the next sweep extends it; a checkpoint meanwhile works out what it lacks
        log.warning("the ledger-wide chain was not extended", exc_info=True)
        recorded = -1
    return {"woken": len(lagging), "chain_recorded_to": recorded}
