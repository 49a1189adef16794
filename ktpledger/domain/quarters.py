"""Calendar quarters, written `2025Q2`: the quarters a spend profile plans (R-43) and a claim pack
claims (`claim-pack --quarter`), so that a profile's quarter and a claim's quarter are the same.

A project that starts part-way through a quarter has a short first quarter (and often a short
last one): a quarter's plan covers the project's months inside it only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

QUARTER_PATTERN = re.compile(r"([0-9]{4})Q([1-4])")


@dataclass(frozen=True, order=True)
class Quarter:
    """A calendar quarter: `number` 1 (January to March) .. 4 (October to December)."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter | None:
        """`2025Q2` as a Quarter; None when `text` is not of that form."""
        found = QUARTER_PATTERN.fullmatch(text)
        if found is None:
            return None
        return cls(int(found.group(1)), int(found.group(2)))

    @classmethod
    def of(cls, day: date) -> Quarter:
        """The quarter `day` falls in."""
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def first_day(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def last_day(self) -> date:
        if self.number == 4:
            return date(self.year, 12, 31)
        return date(self.year, 3 * self.number + 1, 1) - timedelta(days=1)

    def __str__(self) -> str:
        return f"{self.year}Q{self.number}"
