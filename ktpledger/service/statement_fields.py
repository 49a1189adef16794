"""Reading a statement's JSON document back into its read model (`from_json`), field by field.

The document is parsed here, once; a value that is not what `to_json` writes is a ValueError that
names the field ("lines[2].claimed: 'x' is not a decimal number"). Money is read as `Decimal`
from its exact text, never through a float.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, TypeVar

E = TypeVar("E", bound=Enum)


def document_fields(document: object, kind: str, keys: Sequence[str]) -> Fields:
    """The top of a `kind` document, or a ValueError saying it is not one (what it lacks)."""
    if not isinstance(document, Mapping):
        raise ValueError(f"a {kind} document must be a JSON object, got {type(document).__name__}")
    missing = [key for key in keys if key not in document]
    if missing:
        raise ValueError(f"not a {kind} document: it has no {', '.join(missing)}")
    return Fields(document, "")


def decimal_of(raw: object, field: str) -> Decimal:
    """A figure as the documents write it: a decimal string ("1027.98", "-500.00", "0.67")."""
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise ValueError(f"{field}: expected a decimal string, got {raw!r}")
    try:
        value = Decimal(raw)
    except InvalidOperation as error:
        raise ValueError(f"{field}: {raw!r} is not a decimal number") from error
    if not value.is_finite():
        raise ValueError(f"{field}: {raw!r} is not a finite number")
    return value


class Fields:
    """One JSON object of a document and where it sits in it ("lines[2]"), for error messages."""

    def __init__(self, document: Mapping[str, Any], where: str) -> None:
        self.document = document
        self.where = where

    def path(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def raw(self, name: str) -> object:
        if name not in self.document:
            raise ValueError(f"{self.path(name)}: missing")
        return self.document[name]

    def amount(self, name: str) -> Decimal:
        return decimal_of(self.raw(name), self.path(name))

    def text(self, name: str) -> str:
        raw = self.raw(name)
        if not isinstance(raw, str):
            raise ValueError(f"{self.path(name)}: expected text, got {raw!r}")
        return raw

    def whole(self, name: str) -> int:
        raw = self.raw(name)
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ValueError(f"{self.path(name)}: expected a whole number, got {raw!r}")
        return raw

    def flag(self, name: str) -> bool:
        raw = self.raw(name)
        if not isinstance(raw, bool):
            raise ValueError(f"{self.path(name)}: expected true or false, got {raw!r}")
        return raw

    def day(self, name: str) -> date:
        found = self.maybe_day(name)
        if found is None:
            raise ValueError(f"{self.path(name)}: expected an ISO date, got None")
        return found

    def maybe_day(self, name: str) -> date | None:
        raw = self.raw(name)
        if raw is None:
            return None
        if not isinstance(raw, str):
            raise ValueError(f"{self.path(name)}: expected an ISO date, got {raw!r}")
        try:
            return date.fromisoformat(raw)
        except ValueError as error:
            raise ValueError(f"{self.path(name)}: {raw!r} is not an ISO date") from error

    def choice(self, name: str, kind: type[E]) -> E:
        return choice_of(self.raw(name), kind, self.path(name))

    def part(self, name: str) -> Fields:
        raw = self.raw(name)
        if not isinstance(raw, Mapping):
            raise ValueError(f"{self.path(name)}: expected a JSON object, got {raw!r}")
        return Fields(raw, self.path(name))

    def parts(self, name: str) -> list[Fields]:
        raw = self.raw(name)
        if not isinstance(raw, list):
            raise ValueError(f"{self.path(name)}: expected a list, got {raw!r}")
        where = self.path(name)
        found = []
        for index, item in enumerate(raw):
            if not isinstance(item, Mapping):
                raise ValueError(f"{where}[{index}]: expected a JSON object, got {item!r}")
            found.append(Fields(item, f"{where}[{index}]"))
        return found

    def amounts(self, name: str) -> dict[str, Decimal]:
        """An object of figures by name, in the document's order."""
        part = self.part(name)
        return {str(key): part.amount(str(key)) for key in part.document}


def choice_of(raw: object, kind: type[E], field: str) -> E:
    try:
        return kind(raw)
    except ValueError as error:
        known = ", ".join(str(member.value) for member in kind)
        raise ValueError(f"{field}: {raw!r} is not one of {known}") from error
