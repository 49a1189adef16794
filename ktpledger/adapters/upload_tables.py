"""The dashboard's held uploads (migration 0014), on the same metadata as the ledger's tables.

An export uploaded to the dashboard waits here between its preview and its confirmation, so that
the confirmation never takes the file from the browser again and any server of several may answer
it. Not a projection and not the ledger: nothing is derived from it, `replay` leaves it alone, and
an entry is removed once it expires (adapters/upload_store.py).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, LargeBinary, String, Table, Text

from ktpledger.adapters.tables import metadata

dashboard_uploads = Table(
    "dashboard_uploads",
    metadata,
    # HMAC(session token, "upload"): finds a session's entries without storing its token
    Column("session_tag", String(32), primary_key=True),
    Column("nonce", String(64), primary_key=True),  # the form's nonce
    Column("stored_ns", BigInteger, nullable=False),  # when stored, ns since the epoch: its age
    Column("meta", Text, nullable=False),  # JSON: the file's name, the profile's text, the plan ...
    Column("export", LargeBinary, nullable=False),  # the file as uploaded, at most 32 MB
)
