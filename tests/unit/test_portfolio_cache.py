"""The portfolio's row cache: the same facts on the same day give the row judged before; it holds
at most its size, the least recently used out first."""

from __future__ import annotations

from datetime import date
from typing import Any

from ktpledger.service.portfolio import RowCache


def test_the_cache_is_bounded_and_keyed_by_facts_and_day() -> None:
    cache = RowCache(size=2)
    rows: list[Any] = [object(), object(), object()]
    monday, tuesday = date(2025, 4, 21), date(2025, 4, 22)
    cache.put("a", monday, rows[0])
    cache.put("b", monday, rows[1])
    assert cache.get("a", monday) is rows[0]  # "a" is now the most recently used
    assert cache.get("a", tuesday) is None  # another day is judged again
    cache.put("c", monday, rows[2])  # "b" goes, the least recently used
    assert cache.get("b", monday) is None
    assert (cache.get("a", monday), cache.get("c", monday)) == (rows[0], rows[2])
