"""Alert sentences write their dates for people ("31 March 2026", issue 17); the figures keep ISO."""

from __future__ import annotations

from datetime import date

from ktpledger.domain.alert_views import message


def test_every_date_in_an_alert_sentence_is_long() -> None:
    assert "was due on 30 April 2025, 1 days before 1 May 2025" in message(
        "claim_overdue", "", {"quarter": "2025Q1", "due": "2025-04-30", "days": 1, "as_of": "2025-05-01"}
    )
    assert "is due on 2 August 2025" in message(
        "invoice_due", "", {"invoice": "INV-2", "due": "2025-08-02", "amount": "1.00", "paid": "0.00"}
    )
    assert "ended on 30 September 2026, 3 days before 3 October 2026" in message(
        "ended_not_closed", "", {"end": "2026-09-30", "days_since_end": 3, "as_of": date(2026, 10, 3)}
    )
    forecast = {"as_of": "2025-10-15", "month": 13, "months": 24, "holds": False}
    assert "as of 15 October 2025 (month 13 of 24)" in message("forecast_overspend", "consumables", forecast)
    assert "(31 December 2024)" in message("behind_profile", "consumables", {"quarter_end": "2024-12-31"})


def test_a_date_that_is_not_one_is_written_as_it_is() -> None:
    assert "is due on soon" in message("invoice_due", "", {"due": "soon"})
    assert "is due on ?" in message("invoice_due", "", {})
