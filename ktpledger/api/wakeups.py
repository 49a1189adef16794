"""A broker's wake-ups sent after the response, not before it (`ktpledger serve` with a broker).

With KTPLEDGER_BROKER_URL set, every append sends a wake-up naming its projects (a Celery message
through Redis: about a millisecond of the request's CPU, and a round trip). The projections are
caught up by the workers, after the response either way, so the server hands the wake-ups to a
thread of its own (`SentAfterResponse`) which sends what has gathered since its last send as one
wake-up (`WakeUp.projects_changed` cuts it into messages of at most 20 projects), at most one every
`SPACING` seconds: after a quiet spell a wake-up goes at once; under load, one message carries the
projects of many requests (a send costs about a millisecond of CPU, whatever it carries), and a
wake-up waits at most `SPACING` longer than it would have.

A wake-up is only a hint (the ledger is the outbox, and the sweeper wakes every project behind it):
one lost when a process dies costs time, never a projection. At shutdown the thread sends what is
left before the process ends. The embedded default (no broker) is not changed: there the
projections catch up in the request, so that a read after a write sees it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ktpledger.service.background import OwnThread

log = logging.getLogger("ktpledger.wakeup")

SPACING = 0.025  # seconds between two sends at least: at most 40 sends a second a process


class SentAfterResponse(OwnThread):
    """`projects_changed` gathers projects and never waits for the broker; a thread of its own
    passes them to `send` (the dispatcher's `projects_changed`), all those gathered at once."""

    thread_name = "ktpledger-wakeups"
    unfinished = "wake-ups still being sent after %.0f s; the sweeper wakes the rest"

    def __init__(
        self,
        send: Callable[[set[str]], object],
        *,
        spacing: float = SPACING,
        close_timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self._spacing = spacing
        self._clock = clock
        super().__init__(close_timeout=close_timeout, log=log)

    def _clear(self) -> None:
        self._pending: set[str] = set()

    def projects_changed(self, projects: set[str]) -> None:
        """Gather `projects` for the next send; never blocks on the broker and never raises."""
        self._forked()
        with self._changed:
            if not self._closing:
                self._pending |= projects
                self._wake()
                return
        self._send_now(set(projects))  # after `close`: sent in the caller, as without this class

    def _run(self) -> None:
        sent = -self._spacing  # the clock when the last send began
        while True:
            with self._changed:
                while not self._pending and not self._closing:
                    self._changed.wait()
                # Under load, let the projects of more requests gather (at shutdown, send at once).
                while not self._closing and (wait := sent + self._spacing - self._clock()) > 0:
                    self._changed.wait(wait)
                if not self._pending:
                    return
                projects, self._pending = self._pending, set()
            sent = self._clock()
            self._send_now(projects)

    def _send_now(self, projects: set[str]) -> None:
        try:
            self._send(projects)
        except Exception:  # a dispatcher should not raise; a wake-up is a hint (the sweeper)
            log.exception("could not wake the projections of %s; the sweeper will", sorted(projects))
