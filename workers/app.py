"""The Celery app, configured from the same settings as the library.

Settings that matter with Redis are set on purpose:
- `task_acks_late` + `task_reject_on_worker_lost`: a task is acknowledged after it ran, so a worker
  killed mid-task leaves its message to be redelivered (harmless: catch-ups are idempotent);
- one `visibility_timeout` for the broker and the result backend; no task is ever scheduled with an
  ETA or countdown longer than it (Redis would redeliver it early, to a second worker);
- `worker_prefetch_multiplier = 1`: a worker holds one unacknowledged message at a time.
Creating the app connects to nothing; the broker is contacted when a worker starts or a task is sent.
"""

from __future__ import annotations

from celery import Celery

from ktpledger.settings import Settings

VISIBILITY_TIMEOUT = 3600  # seconds; longer than any task and any countdown we use
SWEEP_EVERY = 30.0
DELIVER_EVERY = 30.0
# Digests: composed once per recipient and period by the first run of the day (the table's unique
# key makes a second scheduler's run compose nothing), retried by the next runs while they fail.
DIGEST_EVERY = 3600.0
# The portfolio's rows of the day: a quarter of an hour after midnight the office's first read
# finds them judged; a run with nothing to judge only reads the stored rows' versions.
PORTFOLIO_EVERY = 900.0
QUEUE = "ktpledger"


def make_app(settings: Settings | None = None) -> Celery:
    settings = settings or Settings.from_env()
    broker = settings.broker_url or "memory://"
    app = Celery("ktpledger", broker=broker, include=["workers.tasks"])
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT},
        result_backend_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT},
        broker_connection_retry_on_startup=True,
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=QUEUE,
        worker_hijack_root_logger=False,
        timezone="UTC",
        beat_schedule={
            "sweep-lagging-projections": {"task": "ktpledger.sweep", "schedule": SWEEP_EVERY},
            "deliver-due-notifications": {"task": "ktpledger.deliver_due", "schedule": DELIVER_EVERY},
            "send-digests": {"task": "ktpledger.digest_send", "schedule": DIGEST_EVERY},
            "judge-portfolio": {"task": "ktpledger.portfolio_judge", "schedule": PORTFOLIO_EVERY},
        },
    )
    return app


app = make_app()
