"""A project's health (`domain/health.py` judges it): the levels alone, so the command line can
offer them as choices without loading the judgement."""

from __future__ import annotations

from enum import StrEnum


class Health(StrEnum):
    RED = "red"
    AMBER = "amber"
    GREEN = "green"
