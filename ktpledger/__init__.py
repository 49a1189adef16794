"""ktpledger: an append-only budget ledger for UK Knowledge Transfer Partnerships."""


def __getattr__(name: str) -> str:
    # The version lives in pyproject.toml only; the installed distribution's metadata has it, read
    # on demand so that importing ktpledger reads no metadata.
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import version

    return version("ktpledger")
