"""Events as they arrive: bytes of a JSON Lines file, stdin or an HTTP body, into JSON values.

Each event is judged on its own (README, "Input rules"), so nothing here refuses a whole input
that could be read event by event:

- bytes are decoded as UTF-8 with `surrogateescape`: a byte that is not UTF-8 becomes a lone
  surrogate in the text it stood in, and the event holding it is refused by the door
  (`input_rules.check_event_text`), naming the field; a UTF-8 byte order mark at the start is
  dropped;
- JSON Lines are split on "\\n" alone (a "\\r" before it is dropped), never by `str.splitlines`,
  which also splits at U+2028, U+2029, U+0085, form feeds and more, all of which may stand inside a
  JSON string; a line of nothing but JSON whitespace is skipped;
- numbers become `Decimal` (never a binary float, R-22), or a `WrittenNumber` that keeps its text
  when the value would hide how it was written (`1e3`, `-0`); an object that names a key twice
  is kept as `DuplicateKeys`, refused with the event that holds it.

`record` also reads a JSON array of events, and pretty-printed objects one after another
(`read_events`); a CSV or XLSX export is refused whole, once (`looks_like_export`).
"""

from __future__ import annotations

import json
from decimal import Decimal

from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.input_rules import json_float, json_int, json_object

BYTE_ORDER_MARK = "\ufeff"
ZIP_MAGIC = b"PK\x03\x04"  # an XLSX workbook is a zip archive
BETWEEN_VALUES = " \t\r\n"  # JSON's whitespace
JSON_WHITESPACE = " \t\r"  # of a line split at "\n"; a line of nothing else is blank


def _refuse_constant(name: str) -> Decimal:
    raise ValueError(f"{name} is not a number")  # NaN, Infinity: JSON has no such numbers


# One decoder for every input: its hooks are what make the door's rules hold.
_DECODER = json.JSONDecoder(
    parse_float=json_float,
    parse_int=json_int,
    parse_constant=_refuse_constant,
    object_pairs_hook=json_object,
)


def decode_input(data: bytes) -> str:
    """A file, stdin or HTTP body as text: UTF-8, a leading byte order mark dropped, and any byte
    that is not UTF-8 kept as a lone surrogate for the door to refuse with its event."""
    text = data.decode("utf-8", errors="surrogateescape")
    return text[1:] if text.startswith(BYTE_ORDER_MARK) else text


def json_lines(text: str) -> list[tuple[int, str]]:
    """The non-blank lines of JSON Lines `text`, each with its line number in the file (from 1)."""
    numbered: list[tuple[int, str]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if line.strip(JSON_WHITESPACE):
            numbered.append((number, line))
    return numbered


def load_json_lines(text: str) -> list[object]:
    """JSON Lines as parsed objects, money as `Decimal`; a bad line becomes a `RuleViolation` in place."""
    return [parse_json(line) for _, line in json_lines(text)]


def parse_json(text: str) -> object:
    """One JSON document with numbers as Decimal (never float), or a `RuleViolation`."""
    try:
        return _DECODER.decode(text)
    except (ValueError, RecursionError) as error:
        return RuleViolation("R-30", f"not a JSON object: {error}")


def export_refusal() -> RuleViolation:
    """The one refusal of a CSV or XLSX export given where events are expected."""
    return RuleViolation(
        "R-30",
        "this looks like a CSV (or XLSX) export: use `ktpledger import FILE --project P --profile PROFILE`",
    )


def looks_like_export(data: bytes, text: str) -> bool:
    """Whether `data` (read as `text`) is an XLSX workbook (a zip archive) or a CSV export: a first
    non-blank line that starts with neither `{` nor `[`, is no JSON value on its own, and holds
    commas, semicolons or tabs."""
    if data.startswith(ZIP_MAGIC):
        return True
    numbered = json_lines(text)
    if not numbered:
        return False
    first = numbered[0][1].strip(JSON_WHITESPACE)
    if first[0] in "{[" or not any(mark in first for mark in ",;\t"):
        return False
    return isinstance(parse_json(first), RuleViolation)


def read_events(text: str) -> list[tuple[int, object]]:
    """The JSON values of an input of events, each with the line (from 1) it starts on: a value
    that cannot be read is a `RuleViolation` in its place, naming where.

    - a first non-blank character `[`: a JSON array of events, each element judged on its own; the
      array cut short or broken ends the reading with one refusal naming the element and line;
    - a first non-blank line that is no JSON value on its own but starts an object: objects one
      after another, pretty-printed or not; after one that cannot be read, reading resumes at the
      next line starting with `{`;
    - otherwise JSON Lines (`json_lines`), each line judged on its own, as always."""
    numbered = json_lines(text)
    if not numbered:
        return []
    first = numbered[0][1].lstrip(JSON_WHITESPACE)
    if first.startswith("["):
        return _array(text, text.index("["))
    if first.startswith("{") and isinstance(parse_json(numbered[0][1]), RuleViolation):
        return _objects(text)
    return [(number, parse_json(line)) for number, line in numbered]


class _Lines:
    """Line numbers of positions in `text`, asked in increasing order (no quadratic recount)."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._at = 0
        self._line = 1

    def of(self, position: int) -> int:
        self._line += self._text.count("\n", self._at, position)
        self._at = position
        return self._line


def _skip(text: str, position: int) -> int:
    while position < len(text) and text[position] in BETWEEN_VALUES:
        position += 1
    return position


def _decode(text: str, position: int) -> tuple[object, int] | ValueError:
    try:
        return _DECODER.raw_decode(text, position)
    except ValueError as error:
        return error
    except RecursionError:
        return ValueError("nested too deeply")


def _array(text: str, start: int) -> list[tuple[int, object]]:
    lines = _Lines(text)
    found: list[tuple[int, object]] = []
    position = _skip(text, start + 1)
    if position < len(text) and text[position] == "]":
        position = _skip(text, position + 1)
        if position < len(text):
            found.append((lines.of(position), RuleViolation("R-30", "not JSON: extra data after the array")))
        return found
    while True:
        index = len(found) + 1
        if position >= len(text):
            where = lines.of(position)
            found.append(
                (where, RuleViolation("R-30", f"the JSON array is cut short at event {index} (line {where})"))
            )
            return found
        line = lines.of(position)
        decoded = _decode(text, position)
        if isinstance(decoded, ValueError):
            message = f"event {index} of the JSON array (line {line}) is not JSON: {decoded}"
            found.append((line, RuleViolation("R-30", message)))
            return found
        value, position = decoded
        found.append((line, value))
        position = _skip(text, position)
        if position < len(text) and text[position] == ",":
            position = _skip(text, position + 1)
            continue
        if position < len(text) and text[position] == "]":
            position = _skip(text, position + 1)
            if position < len(text):
                where = lines.of(position)
                found.append(
                    (where, RuleViolation("R-30", f"not JSON: extra data after the array (line {where})"))
                )
            return found
        where = lines.of(position)
        cut = "cut short" if position >= len(text) else "broken"
        message = f"the JSON array is {cut} after event {index} (line {where}): expected , or ]"
        found.append((where, RuleViolation("R-30", message)))
        return found


def _objects(text: str) -> list[tuple[int, object]]:
    lines = _Lines(text)
    found: list[tuple[int, object]] = []
    position = _skip(text, 0)
    while position < len(text):
        line = lines.of(position)
        decoded = _decode(text, position)
        if not isinstance(decoded, ValueError):
            value, end = decoded
            line_end = text.find("\n", end)
            line_end = len(text) if line_end < 0 else line_end
            if not text[end:line_end].strip(JSON_WHITESPACE):
                found.append((line, value))
                position = _skip(text, line_end)
                continue
            decoded = ValueError(f"extra data after the value on line {lines.of(end)}")
        found.append((line, RuleViolation("R-30", f"the event from line {line} is not JSON: {decoded}")))
        resume = text.find("\n{", position)
        position = len(text) if resume < 0 else resume + 1
    return found
