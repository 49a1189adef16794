"""The default payment term of a business invoice, apart from the events that use it, so the
command line can show it as an option's default without loading them."""

from __future__ import annotations

INVOICE_PAYMENT_DAYS = 30  # the default payment term: an invoice is due 30 days after its date
