"""Celery tasks: thin wrappers over ktpledger's service functions, the same ones the embedded
default runs in-process. Each worker process builds its own application on first use."""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import worker_process_init

from ktpledger.bootstrap import App, bootstrap
from ktpledger.service.wakeup import chunks
from ktpledger.settings import Settings
from workers.app import app

log = logging.getLogger("ktpledger.workers")
_application: App | None = None


class _Dispatcher:
    """Inside a worker, a wake-up is another catch-up message."""

    def projects_changed(self, projects: set[str]) -> None:
        for chunk in chunks(projects):
            catch_up.delay(chunk)


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
def catch_up(projects: str | list[str]) -> dict[str, Any]:
    """Fold the new events of the named projects into their projections; raise and resolve their
    alerts. The message names projects and nothing else: the events are read from the ledger."""
    names = [projects] if isinstance(projects, str) else list(projects)
    results = application().projector.catch_up_many(names)
    raised = [alert for result in results for alert in result.raised]
    if raised:
        deliver.delay(raised)
    return {
        "projects": len(results),
        "events": sum(r.to_version - r.from_version for r in results),
        "raised": raised,
        "quarantined": [r.project for r in results if r.failed is not None],
    }


@app.task(name="ktpledger.deliver")
def deliver(alert_ids: list[int]) -> dict[str, int]:
    """Send new alerts to the configured channels (retries are the database's, not Celery's)."""
    from ktpledger.service.notify import DeliveryPolicy, deliver_alerts

    found = application()
    policy = DeliveryPolicy.from_settings(found.settings)
    report = deliver_alerts(found.database, found.notifiers, alert_ids, policy=policy)
    return {"delivered": report.delivered, "retried": report.retried, "failed": report.failed}


@app.task(name="ktpledger.deliver_due")
def deliver_due() -> dict[str, int]:
    """Send every notification that is due, of KTP alerts and system alerts: new ones, and those
    whose back-off has passed (retried for KTPLEDGER_NOTIFY_RETRY_HOURS from their first attempt)."""
    from ktpledger.service.notify import DeliveryPolicy
    from ktpledger.service.notify import deliver_due as due

    found = application()
    report = due(found.database, found.notifiers, policy=DeliveryPolicy.from_settings(found.settings))
    return {"delivered": report.delivered, "retried": report.retried, "failed": report.failed}


@app.task(name="ktpledger.sweep")
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
