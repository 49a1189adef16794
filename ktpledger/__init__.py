"""ktpledger: an append-only budget ledger for UK Knowledge Transfer Partnerships."""

__version__ = "0.1.0"
