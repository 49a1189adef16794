"""The digest's recipients and their subscriptions: a TOML file named by
KTPLEDGER_DIGEST_RECIPIENTS, read once by the composition root (`bootstrap`) when KTPLEDGER_NOTIFY
names the `digest` channel.

    weekday = "monday"              # optional: the day weekly digests are made (default monday)

    [[recipient]]
    email = "ktp-office@uni.example"
    every = "week"                  # "day" (default) or "week"
    weekday = "friday"              # optional: this recipient's own day for a weekly digest
    projects = ["KTP-0042"]         # optional: default every project
    kinds = ["over_budget", "claim_overdue"]  # optional: default every kind

A file that cannot be used is a `ValueError` naming the file, the recipient (its number and
address) and the field: the process refuses to start rather than send nobody their digest.
Projects are not checked against the ledger (a recipient may be subscribed to a project before it
is recorded); kinds are, as they are a fixed list.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ktpledger.domain.alerts import AlertKind
from ktpledger.domain.digest import PERIODS, WEEK, WEEKDAYS, DigestRecipient

FIELDS = frozenset({"email", "every", "weekday", "projects", "kinds"})
TOP_FIELDS = frozenset({"weekday", "recipient"})


def _weekday(value: Any, where: str) -> int:
    if not isinstance(value, str) or value.strip().lower() not in WEEKDAYS:
        raise ValueError(f"{where}: weekday must be one of {', '.join(WEEKDAYS)}, not {value!r}")
    return WEEKDAYS.index(value.strip().lower())


def _names(value: Any, where: str, field: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise ValueError(f'{where}: {field} must be a list of names such as ["KTP-0042"], not {value!r}')
    return [item.strip() for item in value]


def _recipient(entry: Any, number: int, default_weekday: int, path: str) -> DigestRecipient:
    where = f"{path}: recipient {number}"
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where} must be a table ([[recipient]]), not {entry!r}")
    email = entry.get("email")
    if not isinstance(email, str) or "@" not in email or any(ch in email for ch in "\r\n\t ,<>"):
        raise ValueError(f"{where}: email must be one e-mail address, not {email!r}")
    email = email.strip().lower()
    where = f"{where} ({email})"
    unknown = sorted(set(entry) - FIELDS)
    if unknown:
        raise ValueError(f"{where}: unknown field {unknown[0]!r}: the fields are {', '.join(sorted(FIELDS))}")
    every = entry.get("every", "day")
    if every not in PERIODS:
        raise ValueError(f'{where}: every must be "day" or "week", not {every!r}')
    weekday = _weekday(entry["weekday"], where) if "weekday" in entry else default_weekday
    if "weekday" in entry and every != WEEK:
        raise ValueError(f'{where}: weekday is for a weekly digest (every = "week"), not a daily one')
    projects = _names(entry.get("projects", []), where, "projects")
    kinds = [kind.lower() for kind in _names(entry.get("kinds", []), where, "kinds")]
    known = {kind.value for kind in AlertKind}
    for kind in kinds:
        if kind not in known:
            raise ValueError(
                f"{where}: kinds names an unknown alert kind {kind!r}: choose from {', '.join(sorted(known))}"
            )
    return DigestRecipient(
        email=email, every=every, weekday=weekday, projects=frozenset(projects), kinds=frozenset(kinds)
    )


def parse_recipients(text: str, path: str) -> list[DigestRecipient]:
    """The recipients of a file's text (`path` names it in errors)."""
    try:
        found = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path}: not TOML: {error}") from None
    unknown = sorted(set(found) - TOP_FIELDS)
    if unknown:
        raise ValueError(
            f"{path}: unknown field {unknown[0]!r}: the file holds weekday and [[recipient]] tables"
        )
    default_weekday = _weekday(found["weekday"], path) if "weekday" in found else 0
    entries = found.get("recipient", [])
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path}: no recipient: add a [[recipient]] table with an email")
    recipients = [_recipient(entry, n, default_weekday, path) for n, entry in enumerate(entries, start=1)]
    seen: set[str] = set()
    for n, recipient in enumerate(recipients, start=1):
        if recipient.email in seen:
            raise ValueError(
                f"{path}: recipient {n} ({recipient.email}): email is given twice: one entry per address"
            )
        seen.add(recipient.email)
    return recipients


def load_recipients(path: str | None) -> list[DigestRecipient]:
    """The recipients of the file at `path` (KTPLEDGER_DIGEST_RECIPIENTS)."""
    if not path:
        raise ValueError(
            "KTPLEDGER_DIGEST_RECIPIENTS must name the recipients' file for the digest alert channel"
        )
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ValueError(
            f"KTPLEDGER_DIGEST_RECIPIENTS: cannot read {path}: {error.strerror or error}"
        ) from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text") from None
    return parse_recipients(text, path)
