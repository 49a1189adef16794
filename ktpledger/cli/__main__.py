"""`python -m ktpledger.cli`: the command line, as the `ktpledger` script runs it."""

from ktpledger.cli import main

main()
