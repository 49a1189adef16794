"""Safe writes from the dashboard's forms: tokens bound to the session, signed payloads, refusals
logged.

The session is the `ktpledger_token` cookie (HttpOnly): a form's secrets are HMAC-SHA256 keyed by
that token, so only this session can make or check them, and the server stores nothing.

- Every rendered form gets a random `nonce` and its issue time. Its CSRF token is
  `HMAC(session, "csrf|form|project|nonce|issued")`; a write must carry it, match, be at most
  12 hours old (`MAX_AGE`), and pass `csrf.refusal_of_origin` (Sec-Fetch-Site, Origin, Referer).
- The preview's confirm button carries the typed values as a `payload` (base64url JSON) and
  `HMAC(session, "payload|form|project|nonce|issued|payload")`: a changed payload is refused.
- The events' keys derive from the nonce (`dashboard:NONCE`), so confirming twice records once.

Every refusal is logged as a warning on `ktpledger.dashboard.security` (token id and label, route,
project, reason).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass

from fastapi import Request

from ktpledger.api import csrf
from ktpledger.api.forms.base import Values
from ktpledger.service.access import Principal

log = logging.getLogger("ktpledger.dashboard.security")

MAX_AGE = 12 * 3600  # a form is good for a working day, as the session is
NONCE_BYTES = 16


def now() -> int:
    """The clock forms are issued and judged by (tests move it)."""
    return int(time.time())


def new_nonce() -> str:
    return secrets.token_urlsafe(NONCE_BYTES)


def _mac(session: str, *parts: str) -> str:
    message = "|".join(parts).encode("utf-8", "backslashreplace")
    digest = hmac.new(session.encode("utf-8", "backslashreplace"), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class Stamp:
    """The hidden fields every step of one form carries: its nonce, when it was issued, and its
    CSRF token for this session."""

    nonce: str
    issued: int
    csrf: str


def issue(
    session: str, form: str, project: str, nonce: str | None = None, issued: int | None = None
) -> Stamp:
    """A new form's stamp (or the same form's again, from its nonce and issue time)."""
    nonce = nonce or new_nonce()
    issued = now() if issued is None else issued
    return Stamp(nonce, issued, _mac(session, "csrf", form, project, nonce, str(issued)))


def sign_payload(session: str, stamp: Stamp, form: str, project: str, payload: str) -> str:
    return _mac(session, "payload", form, project, stamp.nonce, str(stamp.issued), payload)


def encode_values(values: Values) -> str:
    plain = {name: value if isinstance(value, str) else list(value) for name, value in values.items()}
    text = json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(text.encode()).decode()


def decode_values(payload: str) -> dict[str, str | tuple[str, ...]] | None:
    try:
        plain = json.loads(base64.urlsafe_b64decode(payload.encode()))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(plain, dict):
        return None
    values: dict[str, str | tuple[str, ...]] = {}
    for name, value in plain.items():
        if isinstance(value, str):
            values[str(name)] = value
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            values[str(name)] = tuple(value)
        else:
            return None
    return values


def refusal_of_stamp(
    request: Request, session: str, form: str, project: str, nonce: str, issued: str, csrf_token: str
) -> tuple[str | None, Stamp | None]:
    """Why a form's POST is refused (None when not), and its stamp when it is good."""
    origin = csrf.refusal_of_origin(request)
    if origin is not None:
        return origin, None
    if not csrf_token:
        return "the form carried no form token", None
    if not nonce or not issued.isdigit():
        return "the form carried no nonce or issue time", None
    expected = issue(session, form, project, nonce, int(issued))
    if not hmac.compare_digest(expected.csrf.encode(), csrf_token.encode("utf-8", "backslashreplace")):
        return (
            "the form's token was not issued to this session (another session's form, or a changed one)",
            None,
        )
    age = now() - expected.issued
    if age > MAX_AGE or age < -300:
        return "the form has expired (it is more than 12 hours old): open the form again", None
    return None, expected


def payload_refusal(
    session: str, stamp: Stamp, form: str, project: str, payload: str, signature: str
) -> str | None:
    expected = sign_payload(session, stamp, form, project, payload)
    if not signature or not hmac.compare_digest(
        expected.encode(), signature.encode("utf-8", "backslashreplace")
    ):
        return "the confirmation's values were changed after the preview (the signature does not match)"
    return None


def log_refusal(request: Request, who: Principal | None, project: str, reason: str) -> None:
    token = f"token {who.token_id} ({who.label or 'no label'!r})" if who is not None else "no session"
    log.warning(
        "dashboard write refused: %s, route %s %r, project %r: %s",  # %r: no line breaks from a URL
        token,
        request.method,
        request.url.path,
        project,
        reason,
        extra={
            "token_id": who.token_id if who else None,
            "token_label": who.label if who else None,
            "route": request.url.path,
            "project": project,
            "reason": reason,
        },
    )
