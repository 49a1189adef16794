"""The portfolio's row cache: the same project at the same version on the same day gives the row
judged before; it holds at most its size, the least recently used out first."""

from __future__ import annotations

from datetime import date
from typing import Any

from ktpledger.service.portfolio import RowCache


def test_the_cache_is_bounded_and_keyed_by_project_version_and_day() -> None:
    cache = RowCache(size=2)
    rows: list[Any] = [object(), object(), object()]
    monday, tuesday = date(2025, 4, 21), date(2025, 4, 22)
    cache.put(("A", 3, monday), rows[0])
    cache.put(("B", 3, monday), rows[1])
    assert cache.get(("A", 3, monday)) is rows[0]  # "A" is now the most recently used
    assert cache.get(("A", 3, tuesday)) is None  # another day is judged again
    assert cache.get(("A", 4, monday)) is None  # so is another version
    cache.put(("C", 1, monday), rows[2])  # "B" goes, the least recently used
    assert cache.get(("B", 3, monday)) is None
    assert (cache.get(("A", 3, monday)), cache.get(("C", 1, monday))) == (rows[0], rows[2])
    cache.clear()
    assert cache.get(("A", 3, monday)) is None
