"""The vendored example is the contract's, byte for byte."""

from __future__ import annotations

import pytest

from tests.examples import LIFECYCLE, SHARED_LIFECYCLE


def test_the_vendored_example_matches_the_shared_one() -> None:
    if not SHARED_LIFECYCLE.exists():
        pytest.skip(f"no shared folder next to this clone ({SHARED_LIFECYCLE})")
    assert LIFECYCLE.read_bytes() == SHARED_LIFECYCLE.read_bytes()
