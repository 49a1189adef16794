"""The `ktpledger` command line (docs/cli.md): parse, call the library, print.

Exit status: 0 done; 1 some input was rejected (the message names the rule); 2 usage error.

One module per job, each adding its commands to the root command (`cli/root.py`) with the same
`opened`: the ledger's own commands, imports of finance-system exports, the reports, the offer letters, the projections' workers, the notifications,
the database and checkpoints, the HTTP API's `serve` and `token`, and the demo. The command line
imports neither `ktpledger.api` nor `workers` (pyproject.toml, [tool.importlinter]).
"""

from __future__ import annotations

from ktpledger.cli import (
    acknowledgements,
    admin,
    claims,
    demo,
    digest,
    imports,
    invoices,
    ledger,
    notifications,
    offers,
    portfolio,
    profile,
    reports,
    serve,
    transactions,
    workers,
)
from ktpledger.cli.root import app, opened

ledger.register(app, opened)
imports.register(app, opened)
reports.register(app, opened)
acknowledgements.register(app, opened)
invoices.register(app, opened)
claims.register(app, opened)  # grant claims
transactions.register(app, opened)
offers.register(app, opened)
workers.register(app, opened)
admin.register(app, opened)
demo.register(app, opened)
serve.register(app, opened)
notifications.register(app, opened)
digest.register(app, opened)  # digest notifications (issue 16)
profile.register(app, opened)  # spend profiles
portfolio.register(app, opened)  # the KTP office's portfolio

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    app()
