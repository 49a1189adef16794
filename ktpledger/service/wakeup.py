"""The port between appending and projecting: after a commit, wake whatever catches projections up.

A wake-up carries only project references: the ledger is the outbox, so losing or repeating one
costs nothing but time. With no broker configured the work runs in-process at once (the embedded
default); with one, a dispatcher registered under the `ktpledger.dispatchers` entry-point group
(the Celery one lives in `workers`) sends it to worker processes. ktpledger never imports them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points
from typing import Protocol

from ktpledger.service.background import OwnThread
from ktpledger.service.projections import Projector
from ktpledger.settings import Settings

log = logging.getLogger("ktpledger.wakeup")


class WakeUp(Protocol):
    """Told which projects gained events; must not raise for a transient failure."""

    def projects_changed(self, projects: set[str]) -> None: ...


class Asleep:
    """The wake-up of a read-only App (`bootstrap(read_only=True)`): nothing is appended, so
    nothing is woken, and no delivery runs."""

    def projects_changed(self, projects: set[str]) -> None:
        return None


class InProcess:
    """Catch the projections up right away in this process, then give delivery a turn (in the
    composition root, a request to its `BackgroundDelivery`: the append does not wait for it)."""

    def __init__(self, projector: Projector, deliver: Callable[[list[int]], object] | None = None) -> None:
        self.projector = projector
        self.deliver = deliver

    def projects_changed(self, projects: set[str]) -> None:
        raised: list[int] = []
        for message in chunks(projects):
            try:
                raised += [
                    alert for result in self.projector.catch_up_many(message) for alert in result.raised
                ]
            except Exception:
                # The events are committed; the projection catches up on the next wake-up or replay.
                log.exception(
                    "projection of %s did not catch up; it will on the next append or replay", message
                )
        if self.deliver is None:
            return
        try:
            # Called after every append, not only when alerts were raised: with no beat in this
            # process, this is when earlier failed deliveries whose back-off has passed are retried.
            self.deliver(raised)
        except Exception:
            log.exception("alert delivery failed; it is retried after the next append")


class BackgroundDelivery(OwnThread):
    """Runs `deliver` on a thread of its own whenever asked, so that an append in the embedded
    default never waits for a slow channel (a webhook may take its whole timeout).

    Asks that arrive while a run is going make exactly one more run; `close` waits for the run
    that was asked for, up to `close_timeout` seconds, and stops the thread. What a process leaves
    undelivered stays in the notifications outbox and goes with a later run, here or elsewhere."""

    thread_name = "ktpledger-deliver"
    unfinished = "alert delivery still running after %.0f s; what is left goes with a later run"

    def __init__(self, deliver: Callable[[], object], *, close_timeout: float = 30.0) -> None:
        self._deliver = deliver
        super().__init__(close_timeout=close_timeout, log=log)

    def _clear(self) -> None:
        self._pending = False

    def request(self) -> None:
        """Ask for a run soon; never blocks on a run and never raises."""
        self._forked()
        with self._changed:
            if self._closing:
                return
            self._pending = True
            self._wake()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._pending and not self._closing:
                    self._changed.wait()
                if not self._pending:
                    return
                self._pending = False
            try:
                self._deliver()
            except Exception:
                log.exception("alert delivery failed; it is retried on the next run")


class DispatcherNotFound(RuntimeError):
    """A broker is configured but no dispatcher is installed for it."""


def load_dispatcher(settings: Settings, name: str = "celery") -> WakeUp:
    """The dispatcher registered as `name` in the `ktpledger.dispatchers` entry-point group."""
    for entry in entry_points(group="ktpledger.dispatchers"):
        if entry.name == name:
            factory = entry.load()
            dispatcher: WakeUp = factory(settings)
            return dispatcher
    raise DispatcherNotFound(
        f"KTPLEDGER_BROKER_URL is set but no '{name}' dispatcher is installed (ktpledger.dispatchers)"
    )


PROJECTS_PER_MESSAGE = 20


def chunks(projects: Iterable[str], size: int = PROJECTS_PER_MESSAGE) -> list[list[str]]:
    """Projects sorted and cut into wake-up messages of at most `size`."""
    names = sorted(set(projects))
    return [names[start : start + size] for start in range(0, len(names), size)]


class PausedAfterFailure:
    """Sends wake-ups with `send`, and after a send fails sends none for `pause` seconds.

    While the broker is away, each send waits out the broker client's own retries (about 0.6 s with
    Celery's defaults) before it fails; paid by every append, that would slow the ledger down for a
    message the sweeper makes unneeded (it wakes every project behind the ledger). So the first
    failure is logged and the wake-ups of the next `pause` seconds are skipped, logged once; then
    sending is tried again."""

    def __init__(
        self,
        send: Callable[[list[str]], object],
        *,
        pause: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self._pause = pause
        self._clock = clock
        self._until = 0.0
        self._skipped = 0
        self._lock = threading.Lock()

    def __call__(self, messages: Iterable[list[str]]) -> None:
        with self._lock:
            now = self._clock()
            if now < self._until:
                self._skipped += 1
                return
            if self._skipped:
                log.info("trying the broker again after %s wake-ups skipped", self._skipped)
                self._skipped = 0
        for message in messages:
            try:
                self._send(message)
            except Exception:  # a broker hiccup must not fail an append that is already committed
                log.warning(
                    "could not wake the projections of %s; the sweeper will, and no wake-up is sent "
                    "for %.0f s",
                    message,
                    self._pause,
                    exc_info=True,
                )
                with self._lock:
                    self._until = self._clock() + self._pause
                return
