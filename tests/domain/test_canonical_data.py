"""A claim's canonical data, written out directly (`SpendClaimed.canonical_data`), is the JSON
encoder's text of its `to_data()` byte for byte: what is stored and hashed does not change."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from ktpledger.domain.chain import canonical_json
from ktpledger.domain.events import SpendClaimed, canonical_data, parse_event
from ktpledger.domain.rules import Category, Tag

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999999.99"), places=2)


@given(
    category=st.sampled_from(list(Category)),
    amount=amounts | st.decimals(min_value=0, max_value=10**9, allow_nan=False, allow_infinity=False),
    description=st.text(),  # any code point, surrogates, controls, quotes and backslashes included
    tags=st.lists(st.sampled_from(list(Tag)), unique=True).map(lambda tags: tuple(sorted(tags))),
)
def test_a_claims_canonical_data_is_the_encoders_text(
    category: Category, amount: Decimal, description: str, tags: tuple[Tag, ...]
) -> None:
    payload = SpendClaimed(category=category, amount=amount, description=description, tags=tags)
    assert canonical_data(payload) == canonical_json(payload.to_data())


def test_every_other_payload_is_written_by_the_encoder() -> None:
    leave = parse_event(
        {
            "type": "ParentalLeaveCost",
            "project": "KTP-1",
            "key": "p",
            "date": "2025-01-01",
            "data": {"amount": "10.00", "description": "caf\u00e9"},
        }
    )
    assert canonical_data(leave.payload) == canonical_json(leave.payload.to_data())
