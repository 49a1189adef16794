"""Celery tasks: thin wrappers over ktpledger's service functions, the same ones the embedded
default runs in-process. Each worker process builds its own application on first use."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from celery.signals import worker_process_init

from ktpledger.bootstrap import App, bootstrap
from ktpledger.settings import Settings
from workers.app import app

log = logging.getLogger("ktpledger.workers")
_application: App | None = None


class _Dispatcher:
    """Inside a worker, new alerts are delivered by a task of their own."""

    def projects_changed(self, projects: set[str]) -> None:
        for project in sorted(projects):
            catch_up.delay(project)


def application() -> App:
    global _application
    if _application is None:
        _application = bootstrap(Settings.from_env(), wakeup=_Dispatcher())
    return _application


@worker_process_init.connect
def _fresh_process(**_: Any) -> None:
    # A forked pool process must not share its parent's database connections.
    global _application
    _application = None


@app.task(name="ktpledger.catch_up")
def catch_up(project: str) -> dict[str, Any]:
    """Fold the project's new events into its projections; raise and resolve its alerts."""
    result = application().projector.catch_up(project)
    if result.raised:
        deliver.delay(result.raised)
    return {"project": project, "from": result.from_version, "to": result.to_version, "raised": result.raised}


@app.task(name="ktpledger.deliver")
def deliver(alert_ids: list[int]) -> dict[str, int]:
    """Send new alerts to the configured channels (retries are the database's, not Celery's)."""
    from ktpledger.service.notify import deliver_alerts

    report = deliver_alerts(application().database, application().notifiers, alert_ids)
    return {"delivered": report.delivered, "retried": report.retried, "failed": report.failed}


@app.task(name="ktpledger.deliver_due")
def deliver_due() -> dict[str, int]:
    """Retry every notification whose back-off has passed."""
    from ktpledger.service.notify import deliver_due as due

    report = due(application().database, application().notifiers)
    return {"delivered": report.delivered, "retried": report.retried, "failed": report.failed}


@app.task(name="ktpledger.sweep")
def sweep() -> dict[str, int]:
    """Wake every projection that has fallen behind the ledger (a lost message only delays)."""
    projector = application().projector
    changed, position = projector.changed_since_sweep()
    lagging = set(projector.lagging()) | changed
    for project in sorted(lagging):
        catch_up.delay(project)
    projector.save_sweep(position)
    return {"woken": len(lagging)}


@app.task(name="ktpledger.forecast_pass")
def forecast_pass(on: str | None = None) -> dict[str, int]:
    """The daily pass: judge every open project's forecast as of today (R-41)."""
    today = date.fromisoformat(on) if on else date.today()
    raised = application().projector.forecast_pass(today)
    if raised:
        deliver.delay(raised)
    return {"raised": len(raised)}
