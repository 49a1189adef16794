"""Parsing a command line without pydantic (issue 18, "a fast CLI").

typer (from 0.2x) coerces every parameter's value through a pydantic TypeAdapter, built when the
parameter is first processed: the root's `--db`, `--as` and `--help` on every command line, `--help` of
a command too. Importing pydantic and building the adapters was ~60 ms of every command.

`plain_first` (installed by cli/root.py) has typer coerce each parameter with `PlainCoercion`, which
takes, without pydantic, the values whose result is certain: none given; a flag's True or False; a
string for a `str`; digits within the bounds for an `int`, a decimal within them for a `float`; one of
the choices, as typed, for an enum; and lists of these. Every other value goes to typer's own
coercion, built then, which words the error: what a command accepts and how it refuses it are
typer's, only the common path is cheaper (tests/test_cli_coercion.py holds the two to the same
results). With a typer that does not coerce this way (no `typer.core.build_runtime_param`), nothing
is changed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from enum import Enum
from typing import Any, Final, get_args, get_origin

import typer.core

# What the plain path gives back when it cannot be sure: the value goes to typer's coercion.
UNSURE: Final = object()
INTEGER = re.compile(r"-?[0-9]+")
DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def plain_first() -> None:
    """Have typer coerce parameters with `PlainCoercion` (once a process; no-op with a typer that
    has no `typer.core.build_runtime_param`)."""
    build = getattr(typer.core, "build_runtime_param", None)
    if build is None or isinstance(build, PlainFirst):
        return
    typer.core.build_runtime_param = PlainFirst(build)  # type: ignore[attr-defined,assignment]


class PlainFirst:
    """typer's `build_runtime_param`, giving a `PlainCoercion` that builds typer's own when needed."""

    def __init__(self, build: Callable[[Any], Any]) -> None:
        self.build = build

    def __call__(self, descriptor: Any) -> PlainCoercion:
        return PlainCoercion(descriptor, self.build)


class PlainCoercion:
    """A parameter's coercion, as typer's `RuntimeParam.coerce`: the plain path (`plain`), else
    typer's own (`build(descriptor)`, built the first time it is needed)."""

    def __init__(self, descriptor: Any, build: Callable[[Any], Any]) -> None:
        self.descriptor = descriptor
        self.build = build
        self.own: Any = None
        info = descriptor.parameter_info
        plain = descriptor.file_annotation is None and info.parser is None and not info.clamp
        self.annotation = descriptor.annotation if plain else None
        self.low = info.min
        self.high = info.max
        self.case_sensitive = info.case_sensitive

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        many = param.multiple or param.nargs == -1
        if value is None:  # as typer's RuntimeParam.coerce
            return () if many else None
        found = UNSURE
        if many:
            if isinstance(value, list | tuple) and get_origin(self.annotation) is list:
                [item_type] = get_args(self.annotation)
                items = [self.plain(item, item_type, ctx) for item in value]
                found = UNSURE if any(item is UNSURE for item in items) else items
        else:
            found = self.plain(value, self.annotation, ctx)
        if found is not UNSURE:
            return found
        if self.own is None:
            self.own = self.build(self.descriptor)
        return self.own.coerce(value, param=param, ctx=ctx)

    def plain(self, value: Any, annotation: Any, ctx: Any) -> Any:
        """`value` coerced to `annotation` as typer would, or UNSURE."""
        if annotation is str:
            return value if isinstance(value, str) else UNSURE
        if annotation is bool:
            return value if isinstance(value, bool) else UNSURE
        if annotation is int or annotation is float:
            given = (int,) if annotation is int else (int, float)
            written = INTEGER if annotation is int else DECIMAL
            if type(value) not in given and not (isinstance(value, str) and written.fullmatch(value)):
                return UNSURE
            number = annotation(value)
            too_low = self.low is not None and number < self.low
            too_high = self.high is not None and number > self.high
            return UNSURE if too_low or too_high or not math.isfinite(number) else number
        if isinstance(annotation, type) and issubclass(annotation, Enum):
            if isinstance(value, annotation):
                return value
            if not isinstance(value, str) or not self.case_sensitive:
                return UNSURE
            if ctx is not None and getattr(ctx, "token_normalize_func", None) is not None:
                return UNSURE
            return next((choice for choice in annotation if str(choice.value) == value), UNSURE)
        return UNSURE
