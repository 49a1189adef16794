"""Access control of the HTTP API, as the API's modules met it before issue 12 split it up.

The policy (roles, what each records, `Principal`) is `ktpledger.service.access`; token storage
(hashing, create, list, revoke, look-up) is `ktpledger.adapters.tokens`; the HTTP side (a request's
bearer token, or the dashboard's cookie, made a `Principal`; 401 and 403) is `api/security.py`.

Only `api/errors.py` still imports `Principal` from here: it is being changed on another branch of
issue 12. Once it imports `ktpledger.service.access`, delete this module.
"""

from __future__ import annotations

from ktpledger.service.access import Principal

__all__ = ["Principal"]
