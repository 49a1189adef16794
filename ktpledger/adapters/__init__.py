"""Adapters: SQLAlchemy tables, the ledger store, notifiers."""
