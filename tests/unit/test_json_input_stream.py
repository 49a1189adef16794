"""`stream_events` reads a binary stream a chunk at a time exactly as `read_events` reads the whole
text: the same values on the same lines, on every input form `record` takes, whatever the chunk
size (a chunk of 1 byte cuts every UTF-8 character, every "\\r\\n" and the byte order mark)."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest

from ktpledger.domain.errors import RuleViolation
from ktpledger.service.json_input import (
    EventSource,
    UnreadableInput,
    decode_input,
    looks_like_export,
    read_events,
    stream_events,
)

OFFER = {"type": "GrantOffered", "key": "offer", "data": {"months": 24}}
CLAIM = {"type": "SpendClaimed", "key": "c1", "data": {"amount": "10.00", "description": "café €"}}
LAST = {"type": "SpendClaimed", "key": "c2", "data": {"amount": "20.00"}}


def lines(*items: object) -> bytes:
    return b"\n".join(json.dumps(item, ensure_ascii=False).encode() for item in items)


INPUTS = {
    "json lines": lines(OFFER, CLAIM, LAST) + b"\n",
    "no final new line": lines(OFFER, CLAIM, LAST),
    "multi-byte utf-8": "\n".join(['{"k": "é"}', '{"k": "€😀"}', '{"k": "\u2028"}']).encode(),
    "not utf-8": b'{"k": "a\xffb"}\n{"k": "\xe2\x82"}\n{"k": "ok"}\n',
    "byte order mark": b"\xef\xbb\xbf" + lines(OFFER, CLAIM),
    "byte order mark alone on line 1": b"\xef\xbb\xbf\n" + lines(OFFER),
    "crlf": lines(OFFER, CLAIM).replace(b"\n", b"\r\n") + b"\r\n",
    "blank lines": b"\n  \n" + lines(OFFER) + b"\n\t\r\n\n" + lines(CLAIM) + b"\n \n",
    "bad lines": lines(OFFER) + b'\n{"key": \n42\n"text"\n[1]\n{"a": 1, "a": 2}\n{"n": NaN}\n' + lines(LAST),
    "bad first line": b"not json at all\n" + lines(OFFER),
    "numbers": b'{"a": 1.50, "b": 1e3, "c": -0, "d": 7}\n',
    "array": ("[\n" + ",\n".join(json.dumps(item) for item in (OFFER, CLAIM, LAST)) + "\n]\n").encode(),
    "array with byte order mark, pretty": b"\xef\xbb\xbf" + json.dumps([OFFER, CLAIM], indent=2).encode(),
    "array cut short": b'[{"a": 1},\n{"b": ',
    "array of non-objects": b'[1, "two", null]',
    "pretty-printed objects": "\n".join(json.dumps(item, indent=2) for item in (OFFER, CLAIM, LAST)).encode(),
    "pretty-printed, one broken": b'{\n  "a": 1\n}\n{\n  "b": 2\n  "c": 3\n}\n{\n  "d": 4\n}\n',
    "pretty-printed, crlf and not utf-8": b'{\r\n  "a": "\xff"\r\n}\r\n{\r\n  "b": 2\r\n}\r\n',
    "empty": b"",
    "blank only": b"\n \r\n\t\n",
}


def shown(numbered: object) -> list[tuple[int, object]]:
    """Values compared by what they hold: a refusal by its rule and message."""
    assert isinstance(numbered, list)
    return [
        (number, (value.rule, value.message) if isinstance(value, RuleViolation) else repr(value))
        for number, value in numbered
    ]


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 65_536])
@pytest.mark.parametrize("data", INPUTS.values(), ids=INPUTS.keys())
def test_the_stream_reads_as_read_events_does(data: bytes, chunk_size: int) -> None:
    expected = shown(read_events(decode_input(data)))
    assert shown(list(stream_events(io.BytesIO(data), chunk_size=chunk_size))) == expected


def test_json_lines_by_hand_with_every_quirk() -> None:
    """Worked out by hand, so that the stream cannot merely agree with a wrong `read_events`."""
    data = b'\xef\xbb\xbf{"k": "\xc3\xa9"}\r\n\r\n{"k": "\xff"}\n{"k": \n  \n{"k": 1.10}'
    numbered = list(stream_events(io.BytesIO(data), chunk_size=1))
    assert [number for number, _ in numbered] == [1, 3, 4, 6]
    assert numbered[0][1] == {"k": "é"}
    assert numbered[1][1] == {"k": "\udcff"}  # kept for the door to refuse, with its event
    refusal = numbered[2][1]
    assert isinstance(refusal, RuleViolation) and refusal.rule == "R-30"
    assert "not a JSON object" in refusal.message
    assert numbered[3][1] == {"k": Decimal("1.10")}


def test_an_array_by_hand() -> None:
    data = b'[\n  {"k": 1},\n  2,\n\n  {"k": 3}\n]\n'
    numbered = list(stream_events(io.BytesIO(data), chunk_size=4))
    assert [number for number, _ in numbered] == [2, 3, 5]
    assert numbered[0][1] == {"k": Decimal(1)} and numbered[1][1] == Decimal(2)


class CountingReader(io.BytesIO):
    """A stream that counts the bytes asked of it, and may fail once it has given `fail_after`."""

    def __init__(self, data: bytes, fail_after: int | None = None) -> None:
        super().__init__(data)
        self.given = 0
        self.fail_after = fail_after

    def read(self, size: int | None = -1, /) -> bytes:
        if self.fail_after is not None and self.given >= self.fail_after:
            raise OSError(5, "Input/output error")
        chunk = super().read(size)
        self.given += len(chunk)
        return chunk


def test_json_lines_are_read_as_they_are_asked_for_not_whole() -> None:
    data = b"".join(json.dumps({"key": f"k{number}"}).encode() + b"\n" for number in range(1_000))
    source = CountingReader(data)
    events = iter(EventSource(source, chunk_size=64))
    assert source.given <= 64  # the head: the first line only
    assert next(events) == (1, {"key": "k0"})
    assert next(events) == (2, {"key": "k1"})
    assert source.given <= 128
    assert len(list(events)) == 998 and source.given == len(data)


@pytest.mark.parametrize(
    "data",
    [
        b"type,project,date,amount\nSpendClaimed,KTP-1,2025-01-02,10.00\n",
        b"\n\r\n\xef\xbb\xbfdate;category;amount\n2025-01-02;consumables;10,00\n",
        b"PK\x03\x04\x14\x00\x06\x00\x08\x00" + b"\x00" * 40,
        lines(OFFER, CLAIM),
        b'[{"a": 1}]',
        b'"a,b"\n',
        b"",
    ],
    ids=[
        "csv",
        "blank lines, semicolons",
        "xlsx",
        "json lines",
        "array",
        "a json string with a comma",
        "empty",
    ],
)
def test_the_export_check_on_the_head_agrees_with_the_whole(data: bytes) -> None:
    whole = looks_like_export(data, decode_input(data))
    assert EventSource(io.BytesIO(data), chunk_size=3).looks_like_export() is whole
    assert whole is (data[:3] in (b"typ", b"\n\r\n", b"PK\x03"))


def test_the_export_check_reads_only_the_head() -> None:
    data = b"date,amount\n" + b"2025-01-02,10.00\n" * 10_000
    source = CountingReader(data)
    assert EventSource(source, chunk_size=16).looks_like_export()
    assert source.given <= 16


def test_a_stream_that_fails_half_way_is_unreadable_input() -> None:
    data = b"".join(json.dumps({"key": f"k{number}"}).encode() + b"\n" for number in range(100))
    events = iter(EventSource(CountingReader(data, fail_after=100), chunk_size=50))
    assert next(events) == (1, {"key": "k0"})
    with pytest.raises(UnreadableInput, match="Input/output error"):
        list(events)
