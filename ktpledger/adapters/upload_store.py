"""The dashboard's held uploads (table `dashboard_uploads`, migration 0014): put, get, update and
the sweep that keeps them bounded. The caller (api/upload_store.py) decides the session's tag, the
bounds and the age; this module only stores."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update

from ktpledger.adapters.database import Database
from ktpledger.adapters.upload_tables import dashboard_uploads as uploads


@dataclass(frozen=True)
class HeldUpload:
    export: bytes
    meta: dict[str, Any]
    stored_ns: int


def put(database: Database, tag: str, nonce: str, export: bytes, meta: dict[str, Any], now_ns: int) -> None:
    """Keep `export` and `meta` under (`tag`, `nonce`), replacing an earlier upload of that form."""
    with database.projection() as connection:
        key = (uploads.c.session_tag == tag) & (uploads.c.nonce == nonce)
        connection.execute(delete(uploads).where(key))
        connection.execute(
            uploads.insert().values(
                session_tag=tag, nonce=nonce, stored_ns=now_ns, meta=json.dumps(meta), export=export
            )
        )
        connection.commit()


def get(database: Database, tag: str, nonce: str) -> HeldUpload | None:
    with database.read() as connection:
        row = connection.execute(
            select(uploads.c.export, uploads.c.meta, uploads.c.stored_ns).where(
                uploads.c.session_tag == tag, uploads.c.nonce == nonce
            )
        ).first()
    if row is None:
        return None
    return HeldUpload(bytes(row.export), json.loads(row.meta), int(row.stored_ns))


def update_meta(database: Database, tag: str, nonce: str, meta: dict[str, Any]) -> None:
    """Replace an entry's `meta`, keeping its age."""
    with database.projection() as connection:
        connection.execute(
            update(uploads)
            .where(uploads.c.session_tag == tag, uploads.c.nonce == nonce)
            .values(meta=json.dumps(meta))
        )
        connection.commit()


def remove(database: Database, tag: str, nonce: str) -> None:
    with database.projection() as connection:
        connection.execute(delete(uploads).where(uploads.c.session_tag == tag, uploads.c.nonce == nonce))
        connection.commit()


def sweep(database: Database, *, older_than_ns: int, tag: str, per_session: int, total: int) -> None:
    """Remove the entries stored before `older_than_ns`, then the oldest past `per_session` of
    `tag`'s and past `total` in all."""
    with database.projection() as connection:
        connection.execute(delete(uploads).where(uploads.c.stored_ns < older_than_ns))
        for where, keep in ((uploads.c.session_tag == tag, per_session), (None, total)):
            query = select(uploads.c.session_tag, uploads.c.nonce).order_by(
                uploads.c.stored_ns.desc(), uploads.c.nonce.desc()
            )
            if where is not None:
                query = query.where(where)
            for row in connection.execute(query.offset(keep)).all():
                connection.execute(
                    delete(uploads).where(
                        uploads.c.session_tag == row.session_tag, uploads.c.nonce == row.nonce
                    )
                )
        connection.commit()


def count(database: Database) -> int:
    with database.read() as connection:
        return int(connection.execute(select(func.count()).select_from(uploads)).scalar_one())
