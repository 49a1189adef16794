"""The app's own OpenAPI document, made without a database: of the App object only its settings
are read (for the request limits) until a request comes."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from ktpledger.api.app import create_app
from ktpledger.bootstrap import App
from ktpledger.settings import Settings


def openapi_document() -> dict[str, Any]:
    return create_app(cast(App, SimpleNamespace(settings=Settings()))).openapi()
