"""What a test's process sends to the database: the statements counted, wherever they go."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, event


def statements_sent(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The statements this process sends from now on, through SQLAlchemy's execution on `engine`
    or on the driver's own connection (psycopg's `Connection.execute`, which the projection
    store's hot statements use to skip SQLAlchemy's execution)."""
    said: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: said.append(a[2]))
    execute = psycopg.Connection.execute

    def counted(self: psycopg.Connection[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
        said.append(str(query))
        return execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "execute", counted)
    return said
