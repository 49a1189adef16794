"""The closed sets of status strings the ledger stores and prints, as types.

Each set is a `Literal` of the very strings the database columns hold and the JSON shows: a stored
status comes back from the database as a plain `str` and is compared as one everywhere, so a
`StrEnum` would mean converting every row read (or a mix of members and strings). The constants are
`Final`, so mypy reads each as its one string and checks it against the set it goes into.
"""

from __future__ import annotations

from typing import Final, Literal

# A projection head: folded (`ok`), or quarantined (`failed`) until a retry folds it.
ProjectionStatus = Literal["ok", "failed"]
OK: Final = "ok"
FAILED: Final = "failed"  # also a notification's: given up on

# A KTP alert's, and a system alert's: open while its condition holds.
AlertStatus = Literal["open", "resolved"]
OPEN: Final = "open"
RESOLVED: Final = "resolved"

# A notification of an alert (or of a system alert) on one channel.
NotificationStatus = Literal["pending", "delivered", "failed", "suppressed"]
PENDING: Final = "pending"
DELIVERED: Final = "delivered"
SUPPRESSED: Final = "suppressed"

# The service's own troubles (`ktpledger system-alerts`).
SystemAlertKind = Literal["projection_failed", "channel_down"]
PROJECTION_FAILED: Final = "projection_failed"
CHANNEL_DOWN: Final = "channel_down"
