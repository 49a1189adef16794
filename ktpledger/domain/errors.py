"""The one error the rule core raises: a rule was broken, and which."""

from __future__ import annotations


class RuleViolation(ValueError):
    """Input breaks rule `rule` (an R-nn id of RULES.md); `message` says what to fix."""

    def __init__(self, rule: str, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.message = message
        self.field = field

    def as_dict(self) -> dict[str, str]:
        """The JSON shape of CONTRACT.md: `{"rule": ..., "message": ...}`."""
        return {"rule": self.rule, "message": self.message}
