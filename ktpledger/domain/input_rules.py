"""What every input must be before any rule of the guidance is asked: the door (README, "Input rules").

- **Dates** lie in `EARLIEST_DATE` .. `LATEST_DATE` (1990-01-01 to 2099-12-31): an event's date, an
  offer's start, a project's end with every extension, and every day a reader asks about. A KTP
  runs for a few years, so anything outside is a slip of the keyboard (0025 for 2025, 2205 for
  2025); and a bound far inside Python's and the databases' calendars (year 1..9999) keeps all
  date arithmetic of the folds (an end date, a quarter's end, "three months since the last
  claim") from overflowing, whatever the ledger holds.
- **Text** anywhere in an event must be storable and hashable as UTF-8: no lone surrogate (an
  escape such as `\\ud800`, or in a body or file a byte that is not UTF-8), no NUL (PostgreSQL
  cannot store it), and in free text (descriptions, minutes, titles...: `check_storable`) no
  control character but tab, line feed and carriage return: the C0 controls, DEL and the C1
  controls (U+0080..U+009F, which are nearly always text decoded with the wrong code page) are
  invisible, garble terminals and cannot be written to an XLSX cell. Every other string of an
  event is a name or a number its reader matches in full against ASCII (a project, a date, a
  category, an amount) or an idempotency key of printable characters, and every key of an object
  is a field or category name: each of those refuses such characters by itself.
- **JSON objects** name each key once: a duplicate key is refused, never silently the last one.
- **JSON numbers** are judged as written: the parser keeps the text of a number whose value would
  lose how it was written (`1e3`, `-0`) as a `WrittenNumber`, which no field of whole digits takes.

These checks run at the door only (`events.parse_event`, the readers' days): events already in a
ledger are read back without them, so a stricter door never makes a recorded event unreadable.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

from ktpledger.domain.errors import RuleViolation

EARLIEST_DATE = date(1990, 1, 1)
LATEST_DATE = date(2099, 12, 31)
DATE_RANGE = f"{EARLIEST_DATE.isoformat()} to {LATEST_DATE.isoformat()}"

# The control characters no text of an event may hold, as a regular expression's character range
# (also the OpenAPI document's, api/openapi.py): C0 controls but tab, LF and CR; DEL; C1.
CONTROL_CHARACTERS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
# ... and lone surrogates, which cannot be stored as UTF-8.
_UNSTORABLE = re.compile(f"[{CONTROL_CHARACTERS}\ud800-\udfff]")


def check_date_range(day: date, *, field: str, rule: str) -> date:
    """`day`, if it lies in the ledger's range of dates; else `RuleViolation` naming `field`."""
    if EARLIEST_DATE <= day <= LATEST_DATE:
        return day
    raise RuleViolation(
        rule,
        f"{field} {day.isoformat()} is outside the dates the ledger accepts, {DATE_RANGE}: check the year",
        field=field,
    )


def text_problem(text: str) -> str | None:
    """Why `text` cannot be stored and hashed as it is, or None."""
    if text.isprintable():  # the usual case, at C speed: no control character, no surrogate
        return None
    found = _UNSTORABLE.search(text)
    if found is None:
        return None  # tabs, new lines, and other characters that are fine to store
    char = found.group()
    code = f"U+{ord(char):04X}"
    if "\ud800" <= char <= "\udfff":
        byte = (
            f" (in a body or file: the byte 0x{ord(char) - 0xDC00:02X}, which is not UTF-8)"
            if char >= "\udc80"
            else ""
        )
        return f"a lone surrogate {code}, which cannot be stored as UTF-8{byte}; send the text as UTF-8"
    if char == "\x00":
        return "a NUL character (U+0000); remove it"
    return f"the control character {code}; remove it (tab, line feed and carriage return are allowed)"


class DuplicateKeys(dict[str, Any]):
    """A JSON object that named a key more than once (`duplicate`, the first such key): the parser
    keeps it, so that only the event holding it is refused, not the whole body or file."""

    duplicate: str = ""


def json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """`json.loads`'s `object_pairs_hook`: a dict, or a `DuplicateKeys` when a key is named twice."""
    made = dict(pairs)
    if len(made) == len(pairs):
        return made
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            break
        seen.add(key)
    marked = DuplicateKeys(made)
    marked.duplicate = key
    return marked


class WrittenNumber(Decimal):
    """A JSON number whose value would hide how it was written (`1e3`, `-0`, `2.5E-1`): it keeps
    its text, which `str()` gives back, so a refusal quotes it as typed and money and whole
    numbers, which must be plain ASCII digits, refuse it."""

    text: str

    def __new__(cls, text: str) -> WrittenNumber:
        number = super().__new__(cls, text)
        number.text = text
        return number

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"WrittenNumber({self.text!r})"


def json_float(text: str) -> Decimal:
    """`json.loads`'s `parse_float`: a Decimal, never a binary float (R-22); with an exponent, a
    `WrittenNumber`."""
    if "e" in text or "E" in text:
        return WrittenNumber(text)
    return Decimal(text)


def json_int(text: str) -> int | Decimal:
    """`json.loads`'s `parse_int`: an int; `-0` (which an int cannot tell from 0) a `WrittenNumber`."""
    if text == "-0":
        return WrittenNumber(text)
    return int(text)


def check_keys_once(node: object, *, where: str = "") -> None:
    """Refuse (R-30) an object of the event (at `where`, "" for the event itself) that named a key
    twice: which of the two was meant cannot be known."""
    if type(node) is DuplicateKeys:
        field = f"{where}.{node.duplicate}" if where else node.duplicate
        raise RuleViolation("R-30", f"{field} is given twice in one object: give it once", field=field)


def check_storable(value: object, *, field: str) -> None:
    """Refuse (R-30) free text that cannot be stored and hashed (`text_problem`), naming `field`."""
    if type(value) is str and not value.isprintable() and (problem := text_problem(value)) is not None:
        raise RuleViolation("R-30", f"{field} holds {problem}", field=field)
