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

`EventSource` reads the same inputs from a binary stream a chunk at a time, for `record` to keep
its memory bounded whatever the size of the file. Only JSON Lines stream: an array, or objects
pretty-printed one after another, are read whole as before (they are what people write by hand,
not what a program exports by the million), and `read_events` judges them, so both read alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from decimal import Decimal
from itertools import chain
from typing import BinaryIO

from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.input_rules import json_float, json_int, json_object

BYTE_ORDER_MARK = "\ufeff"
ZIP_MAGIC = b"PK\x03\x04"  # an XLSX workbook is a zip archive
BETWEEN_VALUES = " \t\r\n"  # JSON's whitespace
JSON_WHITESPACE = " \t\r"  # of a line split at "\n"; a line of nothing else is blank
READ_CHUNK = 1 << 16  # bytes read from a stream at a time


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
    return list(_non_blank(enumerate(text.split("\n"), start=1)))


def _non_blank(lines: Iterable[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    """The numbered lines (split at "\\n") that are not blank, a "\\r" before the "\\n" dropped: the
    one definition of a JSON Lines line, for text read whole and for a stream alike."""
    for number, line in lines:
        line = line.removesuffix("\r")
        if line.strip(JSON_WHITESPACE):
            yield number, line


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
    first, parsed = _first_line(numbered[0][1])
    if first == "[":
        return _array(text, text.index("["))
    if first == "{" and isinstance(parsed, RuleViolation):
        return _objects(text)
    return list(_parsed(numbered, parsed))


def _first_line(line: str) -> tuple[str, object]:
    """What the first non-blank line of an input says it is: its first character ("[" for an
    array) and, when it starts an object, that object parsed on its own (a `RuleViolation` when
    it is no JSON value on its own: objects pretty-printed one after another), else None."""
    first = line.lstrip(JSON_WHITESPACE)[:1]
    return first, parse_json(line) if first == "{" else None


def _parsed(numbered: Iterable[tuple[int, str]], first: object) -> Iterator[tuple[int, object]]:
    """JSON Lines parsed line by line, each line judged on its own; `first` is the first line
    already parsed (None if it was not)."""
    for index, (number, line) in enumerate(numbered):
        yield number, first if index == 0 and first is not None else parse_json(line)


class UnreadableInput(Exception):
    """A stream of events that failed while it was being read (the `OSError` is its cause)."""


class EventSource:
    """The events of a binary stream (a file, stdin) read a chunk at a time, as `read_events`
    reads them from text: each with the line it starts on, a value that cannot be read a
    `RuleViolation` in its place.

    JSON Lines stream line by line: memory holds one chunk and one line, whatever the size of
    the input. An input whose first non-blank line starts a JSON array, or an object that is not
    whole on that line (objects pretty-printed one after another), is read whole and handed to
    `read_events`, as before.

    Creating one reads up to the first non-blank line, so that `looks_like_export` can be asked
    before any event is read; its events can be read once. A failure to read raises
    `UnreadableInput`."""

    def __init__(self, source: BinaryIO, *, chunk_size: int = READ_CHUNK) -> None:
        self._raw = _byte_lines(source, chunk_size)
        self._lines = _decoded(self._raw)
        # The lines up to the first non-blank one, kept as read (bytes) and decoded: the head of
        # the input, for the export check and for an input that has to be read whole.
        self._head: list[tuple[int, bytes, str]] = []
        for number, raw, line in self._lines:
            self._head.append((number, raw, line))
            if line.strip(JSON_WHITESPACE):
                break

    def looks_like_export(self) -> bool:
        """Whether the input is a CSV or XLSX export (`looks_like_export`), judged on its head."""
        head = b"\n".join(raw for _, raw, _ in self._head)
        return looks_like_export(head, "\n".join(line for _, _, line in self._head))

    def __iter__(self) -> Iterator[tuple[int, object]]:
        numbered = list(_non_blank((number, line) for number, _, line in self._head))
        if not numbered:
            return
        first, parsed = _first_line(numbered[0][1])
        if first == "[" or (first == "{" and isinstance(parsed, RuleViolation)):
            data = b"\n".join(chain((raw for _, raw, _ in self._head), self._raw))
            yield from read_events(decode_input(data))
            return
        rest = _non_blank((number, line) for number, _, line in self._lines)
        yield from _parsed(chain(numbered, rest), parsed)


def stream_events(source: BinaryIO, *, chunk_size: int = READ_CHUNK) -> Iterator[tuple[int, object]]:
    """The events of a binary stream, each with the line it starts on (`EventSource`)."""
    return iter(EventSource(source, chunk_size=chunk_size))


def _byte_lines(source: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    """The lines of `source` split at b"\\n" alone (dropped), read `chunk_size` bytes at a time.
    Lines are split as bytes and decoded whole: a UTF-8 character cut by a chunk's end is joined
    again before it is decoded. As `str.split`, the last line is yielded even when empty."""
    pending: list[bytes] = []  # the start of a line that goes on in the next chunk
    while True:
        try:
            chunk = source.read(chunk_size)
        except OSError as error:
            raise UnreadableInput(str(error)) from error
        if not chunk:
            break
        parts = chunk.split(b"\n")
        if len(parts) == 1:
            pending.append(chunk)
            continue
        pending.append(parts[0])
        yield b"".join(pending)
        yield from parts[1:-1]
        pending = [parts[-1]]
    yield b"".join(pending)


def _decoded(lines: Iterable[bytes]) -> Iterator[tuple[int, bytes, str]]:
    """Each line numbered (from 1), as read and as text (`decode_input`, line by line: "\\n" is
    never part of a UTF-8 character, so splitting first decodes the same text)."""
    for number, raw in enumerate(lines, start=1):
        line = raw.decode("utf-8", errors="surrogateescape")
        yield number, raw, line.removeprefix(BYTE_ORDER_MARK) if number == 1 else line


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
