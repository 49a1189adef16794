"""Where the dashboard's export upload keeps an export between its preview and its confirmation.

The confirmation never takes the file from the browser again: the preview stores the export and
its profile's text here, and signs their SHA-256 into the confirm button's payload; the confirm step
reads them back and refuses them if the digest differs. An entry is:

- **per session**: its name starts with `HMAC(session token, "upload")`, so another session can
  neither find nor use it (and the token itself is never written);
- **bounded**: at most `PER_SESSION` entries per session and `TOTAL` in all (the oldest go first),
  each export at most `MAX_EXPORT_BYTES` (32 MB, as `POST /imports`);
- **expiring**: removed `form_signing.MAX_AGE` (12 hours) after it was stored, as the form expires.

The folder is `<temp dir>/ktpledger-dashboard-uploads`: local to the server (several workers on one
host share it; several hosts need a sticky session). No table, no migration.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ktpledger.api import form_signing

PER_SESSION = 3
TOTAL = 32
FOLDER = Path(tempfile.gettempdir()) / "ktpledger-dashboard-uploads"


def folder() -> Path:
    FOLDER.mkdir(mode=0o700, parents=True, exist_ok=True)
    return FOLDER


def session_tag(session: str) -> str:
    digest = hmac.new(session.encode("utf-8", "backslashreplace"), b"upload", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def digest_of(export: bytes, profile_text: str) -> str:
    both = hashlib.sha256()
    both.update(hashlib.sha256(export).digest())
    both.update(hashlib.sha256(profile_text.encode()).digest())
    return both.hexdigest()


@dataclass(frozen=True)
class Stored:
    export: bytes
    meta: dict[str, Any]


def _paths(session: str, nonce: str) -> tuple[Path, Path]:
    safe = "".join(ch for ch in nonce if ch.isalnum() or ch in "-_")[:64]
    stem = folder() / f"{session_tag(session)}-{safe}"
    return stem.with_suffix(".export"), stem.with_suffix(".json")


def _remove(meta_path: Path) -> None:
    for path in (meta_path, meta_path.with_suffix(".export")):
        path.unlink(missing_ok=True)


def _stamp(path: Path) -> tuple[int, str] | None:
    try:
        return path.stat().st_mtime_ns, path.name
    except OSError:  # removed meanwhile (by another worker's sweep)
        return None


def sweep(session: str | None = None) -> None:
    """Remove the expired entries, then the oldest past the bounds (this session's, then all)."""
    now = time.time_ns()
    stamped = [(stamp, path) for path in folder().glob("*.json") if (stamp := _stamp(path)) is not None]
    live = []
    for (mtime, _name), path in sorted(stamped):
        if now - mtime > form_signing.MAX_AGE * 1_000_000_000:
            _remove(path)
        else:
            live.append(path)
    if session is not None:
        mine = [path for path in live if path.name.startswith(session_tag(session) + "-")]
        for path in mine[: max(0, len(mine) - PER_SESSION)]:
            _remove(path)
            live.remove(path)
    for path in live[: max(0, len(live) - TOTAL)]:
        _remove(path)


def put(session: str, nonce: str, export: bytes, meta: dict[str, Any]) -> None:
    """Keep `export` and `meta` for this session's form `nonce` (replacing an earlier upload)."""
    export_path, meta_path = _paths(session, nonce)
    export_path.write_bytes(export)
    export_path.chmod(0o600)
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    sweep(session)


def get(session: str, nonce: str) -> Stored | None:
    """This session's upload of form `nonce`, or None (never stored, expired or removed)."""
    export_path, meta_path = _paths(session, nonce)
    try:
        if time.time() - meta_path.stat().st_mtime > form_signing.MAX_AGE:
            _remove(meta_path)
            return None
        return Stored(export_path.read_bytes(), json.loads(meta_path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def update(session: str, nonce: str, meta: dict[str, Any]) -> None:
    """Replace the entry's `meta` (the confirmation adds its result), keeping its age."""
    _, meta_path = _paths(session, nonce)
    stat = meta_path.stat()
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    os.utime(meta_path, (stat.st_atime, stat.st_mtime))
