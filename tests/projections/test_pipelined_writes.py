"""The writes a catch-up sends with its commit in one pipeline (`unit.pipelined()`, PostgreSQL)
fail as any write does, and leave the pooled connection clean."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ktpledger.adapters.errors import BackendDataError
from ktpledger.adapters.projection_sql import projection_store
from ktpledger.bootstrap import bootstrap
from ktpledger.service.schema import upgrade
from ktpledger.service.wakeup import Asleep
from ktpledger.settings import Settings


@pytest.mark.postgres
def test_a_write_failing_in_a_pipeline_leaves_nothing_and_the_connection_clean(postgres_url: str) -> None:
    """`unit.pipelined()` (psycopg's pipeline mode, the writes a catch-up sends with its commit):
    a statement refused there is the store's error as ever, nothing of the unit is kept, and the
    pooled connection goes back with no transaction (the next unit on it reads)."""
    app = bootstrap(Settings(database_url=postgres_url), wakeup=Asleep())
    upgrade(app.database)
    try:
        store = projection_store(app.database)
        now = datetime.now(UTC)
        move = {"version": 1, "position": 1, "clock": None, "updated_at": now}
        with pytest.raises(BackendDataError), store.write() as unit, unit.pipelined():
            unit.heads.advance([{"project": "KTP-A", **move}])
            unit.heads.advance([{"project": "K" * 100, **move}])  # longer than the column
            unit.commit()
        for _ in range(3):  # whichever pooled connection comes back
            with store.read() as unit:
                assert unit.heads.of(["KTP-A"]) == []
        with store.write() as unit, unit.pipelined():
            unit.heads.advance([{"project": "KTP-A", **move}])
            unit.commit()
        with store.read() as unit:
            assert [row["version"] for row in unit.heads.of(["KTP-A"])] == [1]
    finally:
        app.close()
