"""Where the dashboard's export upload keeps an export between its preview and its confirmation.

The confirmation never takes the file from the browser again: the preview holds the export and its
profile's text here (the database's `dashboard_uploads`, so any of several servers may confirm what
another previewed) and signs their SHA-256 into the confirm button's payload; the confirm step reads
them back and refuses them if the digest differs. An entry is:

- **per session**: found by `HMAC(session token, "upload")`, so another session can neither find
  nor use it (and the token itself is never written);
- **bounded**: at most `PER_SESSION` entries per session and `TOTAL` in all (the oldest go first),
  each export at most 32 MB (as `POST /imports`);
- **expiring**: gone `MAX_AGE` (12 hours, as the form's own expiry) after it was stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

from ktpledger.adapters import upload_store
from ktpledger.adapters.database import Database

PER_SESSION = 3
TOTAL = 32
MAX_AGE = 12 * 3600  # seconds: a dashboard form's life
NS = 1_000_000_000


@dataclass(frozen=True)
class Stored:
    export: bytes
    meta: dict[str, Any]


def session_tag(session: str) -> str:
    digest = hmac.new(session.encode("utf-8", "backslashreplace"), b"upload", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def digest_of(export: bytes, profile_text: str) -> str:
    both = hashlib.sha256()
    both.update(hashlib.sha256(export).digest())
    both.update(hashlib.sha256(profile_text.encode()).digest())
    return both.hexdigest()


def _nonce(nonce: str) -> str:
    return "".join(ch for ch in nonce if ch.isalnum() or ch in "-_")[:64]


def put(database: Database, session: str, nonce: str, export: bytes, meta: dict[str, Any]) -> None:
    """Hold `export` and `meta` for this session's form `nonce` (replacing an earlier upload), then
    drop what is expired or past the bounds."""
    now = time.time_ns()
    tag = session_tag(session)
    upload_store.put(database, tag, _nonce(nonce), export, meta, now)
    upload_store.sweep(
        database, older_than_ns=now - MAX_AGE * NS, tag=tag, per_session=PER_SESSION, total=TOTAL
    )


def get(database: Database, session: str, nonce: str) -> Stored | None:
    """This session's upload of form `nonce`, or None (never stored, expired or removed)."""
    tag = session_tag(session)
    held = upload_store.get(database, tag, _nonce(nonce))
    if held is None:
        return None
    if time.time_ns() - held.stored_ns > MAX_AGE * NS:
        upload_store.remove(database, tag, _nonce(nonce))
        return None
    return Stored(held.export, held.meta)


def update(database: Database, session: str, nonce: str, meta: dict[str, Any]) -> None:
    """Replace the entry's `meta` (the confirmation adds its result), keeping its age."""
    upload_store.update_meta(database, session_tag(session), _nonce(nonce), meta)
