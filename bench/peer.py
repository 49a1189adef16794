"""The peer column of `make bench`: the same appends through the `eventsourcing` library's recorder.

When `import eventsourcing` succeeds in the running interpreter, `peer_rates` appends the same number
of events (ktpledger's bench events, JSON-encoded as the stored events' state, one stream a project,
round-robin) to eventsourcing's application recorder (`SQLiteApplicationRecorder` in a temporary
file, `PostgresApplicationRecorder` in a schema of its own, dropped at the end): in the same
batches, then one at a time. Otherwise it returns nothing and the column shows "-".

Compare with care: the peer runs after ktpledger's paths (not turn about with them), on an empty
table, and stores less (no hash chain, no checks against the folded state, a smaller row).

eventsourcing is not a dependency of ktpledger: install it in a separate environment,

    python3.11 -m venv .venv-bench && .venv-bench/bin/pip install -e . 'eventsourcing[postgres]'
    .venv-bench/bin/python bench/run.py ingest
"""

from __future__ import annotations

import json
import secrets
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from bench.figures import POSTGRES_CONNINFO

INSTALL = "python3.11 -m venv .venv-bench && .venv-bench/bin/pip install -e . 'eventsourcing[postgres]'"


def available() -> bool:
    try:
        import eventsourcing  # noqa: F401  # only whether it is there
    except ImportError:
        return False
    return True


def stored_events(count: int, projects: int = 100) -> list[Any]:
    """`count` events round-robin over `projects` streams, each event's state ~ a ktpledger claim."""
    from eventsourcing.persistence import StoredEvent

    ids = [uuid.uuid4() for _ in range(projects)]
    events = []
    for n in range(count):
        state = {
            "category": "consumables",
            "amount": f"{1 + n % 499}.25",
            "description": f"claim {n}",
            "date": "2025-01-15",
            "key": f"claim-{n:06d}",
            "tags": [],
        }
        events.append(
            StoredEvent(
                originator_id=ids[n % projects],
                originator_version=1 + n // projects,
                topic="bench:SpendClaimed",
                state=json.dumps(state, separators=(",", ":")).encode(),
            )
        )
    return events


@contextmanager
def recorder(backend: str) -> Iterator[Any]:
    """An empty application recorder on `backend` ("postgresql" or "sqlite"), its table made."""
    if backend == "sqlite":
        from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

        with tempfile.TemporaryDirectory(prefix="ktpledger-peer-") as folder:
            datastore = SQLiteDatastore(f"{folder}/peer.db")
            try:
                made = SQLiteApplicationRecorder(datastore)
                made.create_table()
                yield made
            finally:
                datastore.close()
        return
    from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

    schema = f"bench_peer_{secrets.token_hex(5)}"
    with psycopg.connect(POSTGRES_CONNINFO, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            datastore = PostgresDatastore(
                "test", "127.0.0.1", 5432, "postgres", "", schema=schema, pool_size=2
            )
            try:
                made = PostgresApplicationRecorder(datastore)
                made.create_table()
                yield made
            finally:
                datastore.close()
        finally:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def rate(work: Callable[[], None], events: int) -> float:
    started = time.perf_counter()
    work()
    return events / (time.perf_counter() - started)


def peer_rates(backend: str, events: int, batch: int, singles: int) -> dict[str, float]:
    """{"batched": events/s, "single": events/s} through eventsourcing on `backend`; {} without it."""
    if not available():
        return {}
    batched = stored_events(events)
    one_by_one = stored_events(singles)

    def in_batches(target: Any, rows: Sequence[Any]) -> None:
        for start in range(0, len(rows), batch):
            target.insert_events(rows[start : start + batch])

    def singly(target: Any, rows: Sequence[Any]) -> None:
        for row in rows:
            target.insert_events([row])

    with recorder(backend) as target:
        figures = {"batched": rate(lambda: in_batches(target, batched), events)}
    with recorder(backend) as target:
        figures["single"] = rate(lambda: singly(target, one_by_one), singles)
    return figures
