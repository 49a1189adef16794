"""The Celery dispatcher, registered as `celery` in the `ktpledger.dispatchers` entry points."""

from __future__ import annotations

from ktpledger.service.wakeup import each_logged
from ktpledger.settings import Settings


class CeleryWakeUp:
    """Sends one `ktpledger.catch_up` message per project that gained events."""

    def __init__(self, settings: Settings) -> None:
        from workers.app import make_app

        self.app = make_app(settings)

    def projects_changed(self, projects: set[str]) -> None:
        each_logged(projects, lambda project: self.app.send_task("ktpledger.catch_up", args=[project]))
