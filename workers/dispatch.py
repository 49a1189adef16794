"""The Celery dispatcher, registered as `celery` in the `ktpledger.dispatchers` entry points."""

from __future__ import annotations

from ktpledger.service.wakeup import PausedAfterFailure, chunks
from ktpledger.settings import Settings


class CeleryWakeUp:
    """Sends `ktpledger.catch_up` messages naming the projects that gained events (a few per message,
    so one append is one or a few messages, however many projects it touched)."""

    def __init__(self, settings: Settings) -> None:
        from workers.app import make_app

        self.app = make_app(settings)
        self._send = PausedAfterFailure(lambda chunk: self.app.send_task("ktpledger.catch_up", args=[chunk]))

    def projects_changed(self, projects: set[str]) -> None:
        self._send(chunks(projects))
