"""The one error the rule core raises: a rule was broken, and which; and how a refusal quotes input."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from json import dumps

SHOWN_LENGTH = 80  # characters of a refused value quoted back; the rest is cut
SHOWN_ITEMS = 8  # items of a list or object quoted back


class RuleViolation(ValueError):
    """Input breaks rule `rule` (an R-nn id of RULES.md); `message` says what to fix."""

    def __init__(self, rule: str, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.message = message
        self.field = field

    def as_dict(self) -> dict[str, str]:
        """The JSON shape of CONTRACT.md: `{"rule": ..., "message": ...}`."""
        return {"rule": self.rule, "message": self.message}


def shown(value: object) -> str:
    """A value of the user's input quoted back as they would have written it in JSON: 1.5, "abc",
    true, null, ["a", 2]; never Python's spelling (`Decimal('1.5')`, `'abc'`, `True`, `None`).
    A long value is cut to `SHOWN_LENGTH` characters."""
    text = _as_json(value)
    return text if len(text) <= SHOWN_LENGTH else text[: SHOWN_LENGTH - 3] + "..."


def _as_json(value: object, depth: int = 0) -> str:
    if value is None or isinstance(value, (bool, float)):
        return dumps(value)
    if isinstance(value, (int, Decimal)):
        return str(value)  # a Decimal as it was typed: 1.5, 1E+2, NaN
    if isinstance(value, str):
        return dumps(value[: SHOWN_LENGTH + 1], ensure_ascii=False)
    if isinstance(value, date):
        return dumps(value.isoformat())
    if isinstance(value, (Mapping, list, tuple)):
        # Only as much as can be shown, and never deep: a refused input may be large or nested.
        if depth >= 3:
            return "..."
        items = list(value.items())[:SHOWN_ITEMS] if isinstance(value, Mapping) else list(value)[:SHOWN_ITEMS]
        more = len(value) > SHOWN_ITEMS
        if isinstance(value, Mapping):
            parts = [f"{_as_json(str(k), depth + 1)}: {_as_json(v, depth + 1)}" for k, v in items]
            return "{" + ", ".join(parts + ["..."] * more) + "}"
        parts = [_as_json(item, depth + 1) for item in items]
        return "[" + ", ".join(parts + ["..."] * more) + "]"
    return dumps(str(value)[: SHOWN_LENGTH + 1], ensure_ascii=False)
