"""The Celery dispatcher, registered as `celery` in the `ktpledger.dispatchers` entry points."""

from __future__ import annotations

from ktpledger.service.wakeup import PausedAfterFailure, chunks
from ktpledger.settings import Settings


class CeleryWakeUp:
    """Sends `ktpledger.catch_up` messages naming the projects that gained events (a few per message,
    so one append is one or a few messages, however many projects it touched), each message's
    projects first announced as due (workers/due.py), so that a busy worker catches up many
    queued messages' projects at once."""

    def __init__(self, settings: Settings) -> None:
        from workers.app import make_app
        from workers.due import DueProjects

        self.app = make_app(settings)
        self.due = DueProjects(settings.broker_url)
        self._send = PausedAfterFailure(self._announce_and_send)

    def _announce_and_send(self, chunk: list[str]) -> None:
        self.due.add(chunk)
        self.app.send_task("ktpledger.catch_up", args=[chunk])

    def projects_changed(self, projects: set[str]) -> None:
        self._send(chunks(projects))
