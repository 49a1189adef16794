"""The Celery dispatcher, registered as `celery` in the `ktpledger.dispatchers` entry points."""

from __future__ import annotations

from ktpledger.service.wakeup import chunks, each_logged
from ktpledger.settings import Settings


class CeleryWakeUp:
    """Sends `ktpledger.catch_up` messages naming the projects that gained events (a few per message,
    so one append is one or a few messages, however many projects it touched)."""

    def __init__(self, settings: Settings) -> None:
        from workers.app import make_app

        self.app = make_app(settings)

    def projects_changed(self, projects: set[str]) -> None:
        each_logged(chunks(projects), lambda chunk: self.app.send_task("ktpledger.catch_up", args=[chunk]))
