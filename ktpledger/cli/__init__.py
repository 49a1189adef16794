"""The `ktpledger` command line (docs/cli.md): parse, call the library, print.

Exit status: 0 done; 1 some input was rejected (the message names the rule); 2 usage error.

One module per job, each adding its commands to the root command (`cli/root.py`) with the same
`opened`: the ledger's own commands, imports of finance-system exports, the reports, the offer letters, the projections' workers, the notifications,
the database and checkpoints, the HTTP API's `serve` and `token`, and the demo. A module is
imported when one of its commands is run (`COMMAND_MODULES` in cli/root.py; `ktpledger --help` lists
them from `SUMMARIES` there, building none), and imports what its commands use when they run: the
command line starts fast. The command line imports neither `ktpledger.api` nor `workers` (pyproject.toml, [tool.importlinter]).
"""

from __future__ import annotations

from ktpledger.cli.root import app

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    app()
