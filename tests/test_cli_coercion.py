"""The command line's plain coercion (ktpledger/cli/coercion.py) gives what typer's own gives: the
same value for every value it takes, and typer's own error for every other (it hands those on)."""

from __future__ import annotations

from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.main
from typer.testing import CliRunner

from ktpledger.cli import app
from ktpledger.cli.coercion import PlainCoercion, PlainFirst

_coercion = pytest.importorskip("typer._coercion", reason="a typer that coerces without pydantic")


class Shade(StrEnum):
    RED = "red"
    AMBER = "amber"


class Number(Enum):
    ONE = 1
    TWO = 2


probe = typer.Typer()


@probe.command()
def every_kind(
    text: str = typer.Option("x", "--text"),
    maybe: str | None = typer.Option(None, "--maybe"),
    count: int = typer.Option(100, "--count", min=1, max=10_000),
    anything: int | None = typer.Option(None, "--anything"),
    rate: float = typer.Option(0.5, "--rate", min=0.001),
    shade: Shade = typer.Option(Shade.RED, "--shade"),
    loose: Shade | None = typer.Option(None, "--loose", case_sensitive=False),
    number: Number | None = typer.Option(None, "--number"),
    flag: bool = typer.Option(False, "--flag"),
    names: list[str] = typer.Option([], "--name"),
    counts: list[int] = typer.Option([], "--counts"),
    shades: list[Shade] = typer.Option([], "--shades"),
    where: Path | None = typer.Option(None, "--where"),
) -> None:
    """Every kind of parameter the command line has."""


VALUES: dict[str, list[Any]] = {
    "text": ["abc", "", "  x ", "é", None],
    "maybe": ["abc", None],
    "count": [
        "5",
        "1",
        "10000",
        "0",
        "10001",
        "x",
        "5.0",
        " 5",
        "+5",
        "-3",
        "007",
        "1_000",
        "٣",
        5,
        5.0,
        True,
        "",
    ],
    "anything": ["-3", "0", "99999999999999999999", "1e3", None],
    "rate": ["1.5", "0", "0.001", "0.0001", "1e3", "inf", "nan", "2", ".5", "5.", "-1", 120, 1.5, "1" * 400],
    "shade": ["red", "amber", "RED", "green", "", Shade.AMBER, "Shade.RED"],
    "loose": ["red", "RED", "Amber"],
    "number": ["1", "2", "3", "ONE", Number.TWO],
    "flag": [True, False, None, "true"],
    "names": [(), ("a", "b"), ["x"], ("a", 1)],
    "counts": [(), ("1", "2"), ("1", "x"), ("0",)],
    "shades": [(), ("red",), ("red", "amber"), ("purple",)],
    "where": ["x", None],
}
CASES = [(name, value) for name, values in VALUES.items() for value in values]


def outcome(coercion: Any, value: Any, param: Any, ctx: Any) -> tuple[Any, ...]:
    try:
        found = coercion.coerce(value, param=param, ctx=ctx)
    except typer.BadParameter as error:
        return ("refused", error.format_message())
    return ("gave", found, type(found))


@pytest.mark.parametrize(("name", "value"), CASES, ids=[f"{name}={value!r}" for name, value in CASES])
def test_plain_coercion_gives_what_typer_gives(name: str, value: Any) -> None:
    command = typer.main.get_command(probe)
    ctx = command.make_context("every-kind", [])
    [param] = [param for param in command.params if param.name == name]
    own = _coercion.build_runtime_param(param.type_descriptor)
    plain = PlainCoercion(param.type_descriptor, _coercion.build_runtime_param)
    assert outcome(plain, value, param, ctx) == outcome(own, value, param, ctx)


# Values the plain path takes itself, typer's own (pydantic) never built: what command lines give.
TAKEN = [
    ("text", "abc"),
    ("maybe", None),
    ("count", "5"),
    ("count", 100),
    ("anything", "-3"),
    ("rate", "1.5"),
    ("rate", 0.5),
    ("shade", "amber"),
    ("shade", Shade.RED),
    ("number", Number.TWO),
    ("flag", False),
    ("flag", None),
    ("names", ("a", "b")),
    ("counts", ("1", "2")),
    ("shades", ("red",)),
    ("shades", ()),
    ("where", None),
]


@pytest.mark.parametrize(("name", "value"), TAKEN, ids=[f"{name}={value!r}" for name, value in TAKEN])
def test_plain_coercion_takes_the_common_values_itself(name: str, value: Any) -> None:
    command = typer.main.get_command(probe)
    ctx = command.make_context("every-kind", [])
    [param] = [param for param in command.params if param.name == name]
    plain = PlainCoercion(param.type_descriptor, _coercion.build_runtime_param)
    plain.coerce(value, param=param, ctx=ctx)
    assert plain.own is None


def test_the_command_line_coerces_plainly_first() -> None:
    import typer.core

    assert isinstance(typer.core.build_runtime_param, PlainFirst)  # type: ignore[attr-defined]


def test_a_refused_value_is_worded_by_typer() -> None:
    result = CliRunner().invoke(app, ["digest", "list", "--limit", "x"])
    assert result.exit_code == 2
    assert "Invalid value for '--limit': Input should be a valid integer" in result.output
