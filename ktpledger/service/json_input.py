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
"""

from __future__ import annotations

import json
from decimal import Decimal

from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.input_rules import json_float, json_int, json_object

BYTE_ORDER_MARK = "\ufeff"
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
