"""The HTTP API and the LMC dashboard (docs/http-api.md): a FastAPI app over the same
library the command line uses. `create_app(application)` builds it; `ktpledger serve` runs it.

Nothing is imported eagerly here: importing a module of the package (the `http` server entry
point, `ktpledger.api.app:serve`) pulls in only what that module needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI


def create_app(*args: Any, **kwargs: Any) -> FastAPI:
    """See `ktpledger.api.app.create_app`."""
    from ktpledger.api.app import create_app as build

    return build(*args, **kwargs)
