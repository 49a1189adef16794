"""The event types (docs/events.md) as frozen dataclasses, and their parsing.

Parsing checks each event on its own (shape, money, names, dates); whether it may be appended to
a project's stream is `ktpledger.domain.project`'s question. Every refusal is a `RuleViolation`
naming the rule and the field to fix. `to_data()` is the canonical form that is stored and hashed:
money always as a string with two decimals, categories and tags by name, keys in a fixed order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any, ClassVar

from ktpledger.domain.chain import canonical_json
from ktpledger.domain.errors import RuleViolation, shown
from ktpledger.domain.input_rules import (
    EARLIEST_DATE,
    LATEST_DATE,
    WrittenNumber,
    check_date_range,
    check_keys_once,
    check_storable,
)
from ktpledger.domain.money import format_money, parse_money
from ktpledger.domain.payment_terms import INVOICE_PAYMENT_DAYS as INVOICE_PAYMENT_DAYS  # re-exported
from ktpledger.domain.quarters import Quarter
from ktpledger.domain.rules import (
    RULE_SETS,
    BusinessType,
    Category,
    Methodology,
    Tag,
    lines_text,
    near_name,
    offer_lines,
    parse_choice,
    rule_set_for,
)

# Validating patterns are used with `fullmatch` only: `match` with `$` would take "KTP-1\n".
PROJECT_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,63}")
MAX_KEY_LENGTH = 200
MAX_TEXT_LENGTH = 2000
ENVELOPE_FIELDS = frozenset({"type", "project", "key", "date", "data"})
DATE_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # ASCII digits: `\d` takes any script's
RATE_PATTERN = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_CATEGORIES: Mapping[str, Category] = {category.value: category for category in Category}


# --- field readers: each names the rule and the field it refuses ---------------------------------


def _fields(data: Mapping[str, Any], allowed: set[str] | frozenset[str], *, event_type: str) -> None:
    if allowed.issuperset(data):
        return
    unknown = sorted(set(data) - allowed, key=str)  # str: a Python caller's key may be no text
    if unknown:
        raise RuleViolation(
            "R-30",
            f"{event_type} has no field {shown(unknown[0])}; its fields are {', '.join(sorted(allowed))}",
            field=str(unknown[0]),
        )


def _text(data: Mapping[str, Any], name: str, *, rule: str, required: bool = True) -> str:
    value = data.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise RuleViolation(rule, f"{name} must be a non-empty text, got {shown(value)}", field=name)
    if len(value) > MAX_TEXT_LENGTH:
        raise RuleViolation(rule, f"{name} must be at most {MAX_TEXT_LENGTH} characters", field=name)
    if "\x00" in value:
        raise RuleViolation(rule, f"{name} must not contain a NUL character", field=name)
    return value.strip()


def _bool(data: Mapping[str, Any], name: str, *, rule: str, default: bool = False) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise RuleViolation(rule, f"{name} must be true or false, got {shown(value)}", field=name)
    return value


def _whole_number(data: Mapping[str, Any], name: str, *, rule: str) -> int:
    """A whole JSON number written in plain digits: `24`, or `24.0` (JSON's own data model, and so
    JSON Schema's `integer`, makes no difference between the two, and a spreadsheet may write the
    second); not `24.5`, `2.4e1` or `-0` (kept as written, `WrittenNumber`), nor a string."""
    value = data.get(name)
    if type(value) is int:
        return value
    if type(value) is Decimal and value.is_finite() and value == value.to_integral_value():
        return int(value)
    raise RuleViolation(rule, f"{name} must be a whole number, got {shown(value)}", field=name)


def parse_date(value: object, *, name: str = "date", rule: str = "R-30") -> date:
    """An ISO `YYYY-MM-DD` date in ASCII digits (any calendar date: the door bounds its range,
    `input_rules.check_date_range`, so that a recorded event is always read back)."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not DATE_PATTERN.fullmatch(value):
        raise RuleViolation(rule, f"{name} must be a date as YYYY-MM-DD, got {shown(value)}", field=name)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise RuleViolation(rule, f"{name} is not a calendar date: {shown(value)}", field=name) from None


def parse_day(text: str | None, *, field: str) -> date | None:
    """A reader's optional day (`--as-of`, `--today`, `?today=`): None, or a date as YYYY-MM-DD
    within the ledger's dates (`input_rules.DATE_RANGE`); anything else is refused naming the
    field (R-40)."""
    if text is None:
        return None
    return check_date_range(parse_date(text, name=field, rule="R-40"), field=field, rule="R-40")


def _money(data: Mapping[str, Any], name: str, *, positive: bool = True, whole: bool = False) -> Decimal:
    if name not in data:
        raise RuleViolation("R-22", f'{name} is required: an amount in pounds such as "184.20"', field=name)
    return parse_money(data[name], field=name, positive=positive, whole_pounds=whole)


class UnknownCategory(RuleViolation):
    """A name that is no cost category at all (R-01), refused while parsing, before the project's
    methodology is known: the message offers each methodology's lines until `for_lines` rewords it
    for the lines of one project (`ProjectState.category_refusal`) or of one grant offer. `value` is
    the name as it was given; `lines` the lines the message offers (None: every methodology's)."""

    def __init__(
        self, value: object, *, field: str, lines: Sequence[Category] | None = None, whose: str = ""
    ) -> None:
        self.value = value
        self.lines = None if lines is None else tuple(lines)
        opening = (
            f"unknown category {shown(value)}"
            if field == "category"
            else f"{field} names an unknown category {shown(value)}"
        )
        if self.lines is not None:
            message = offer_lines(opening, self.lines, whose, typed=value)
        else:
            rules = RULE_SETS[-1]
            fec, non_fec = rules.claimable(Methodology.FEC), rules.claimable(Methodology.NON_FEC)
            near = near_name(value, [line.value for line in (*fec, *non_fec)])
            message = (
                f"{opening}; "
                + (f"did you mean {near}? The" if near else "the")
                + f" lines of a fec project are {lines_text(fec)}; of a non_fec project, {lines_text(non_fec)}"
            )
        super().__init__("R-01", message, field=field)

    def for_lines(self, lines: Sequence[Category], whose: str) -> UnknownCategory:
        """The same refusal offering only `lines`, named as `whose` ("the lines of X are")."""
        return UnknownCategory(self.value, field=self.field or "category", lines=lines, whose=whose)


def _category(value: object, *, name: str = "category") -> Category:
    category = _CATEGORIES.get(value) if isinstance(value, str) else None  # the usual case, at once
    if category is None:
        raise UnknownCategory(value, field=name)
    return category


def _budget(value: object, *, name: str = "budget") -> dict[Category, Decimal]:
    if not isinstance(value, Mapping):
        raise RuleViolation("R-31", f"{name} must be an object of category: amount", field=name)
    check_keys_once(value, where=name)
    budget: dict[Category, Decimal] = {}
    for raw_category, raw_amount in value.items():
        category = _category(raw_category, name=name)
        budget[category] = parse_money(raw_amount, field=f"{name}.{category.value}", whole_pounds=True)
    return budget


def _decimal_rate(value: object, *, name: str, rule: str) -> Decimal:
    """A rate above 0 and at most 1: a string of ASCII digits with at most one "." (a JSON number
    is judged as it was written), or an int or Decimal from a Python caller."""
    if isinstance(value, (bool, float)):
        raise RuleViolation(rule, f'{name} must be a decimal string such as "0.67"', field=name)
    if isinstance(value, (str, WrittenNumber)):
        text = str(value).strip(" \t")
        if RATE_PATTERN.fullmatch(text) is None:
            raise RuleViolation(
                rule, f'{name} must be a decimal such as "0.67", got {shown(value)}', field=name
            )
        rate = Decimal(text)
    elif isinstance(value, (int, Decimal)):
        rate = Decimal(value)
    else:
        raise RuleViolation(rule, f'{name} must be a decimal such as "0.67", got {shown(value)}', field=name)
    if not rate.is_finite() or not Decimal(0) < rate <= Decimal(1):
        raise RuleViolation(rule, f"{name} must be above 0 and at most 1, got {shown(value)}", field=name)
    return rate


def _money_map(mapping: Mapping[Category, Decimal]) -> dict[str, str]:
    return {category.value: format_money(amount) for category, amount in sorted(mapping.items())}


# --- the events ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GrantOffered:
    """The approved budget: the first event of a project, once (R-31)."""

    TYPE: ClassVar[str] = "GrantOffered"
    SCHEMA_VERSION: ClassVar[int] = 1

    title: str
    knowledge_base: str
    business: str
    methodology: Methodology
    business_type: BusinessType
    virtual: bool
    london: bool
    start: date
    months: int
    budget: Mapping[Category, Decimal]
    grant_rate: Decimal | None = None
    justifications: Mapping[Category, str] = field(default_factory=dict)
    supervisor_cost: Decimal | None = None

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> GrantOffered:
        _fields(
            data,
            {
                "title",
                "knowledge_base",
                "business",
                "methodology",
                "business_type",
                "virtual",
                "london",
                "start",
                "months",
                "budget",
                "grant_rate",
                "justifications",
                "supervisor_cost",
            },
            event_type=cls.TYPE,
        )
        justifications_raw = data.get("justifications", {}) or {}
        if not isinstance(justifications_raw, Mapping):
            raise RuleViolation(
                "R-31", "justifications must be an object of category: text", field="justifications"
            )
        check_keys_once(justifications_raw, where="justifications")
        justifications = {
            _category(category, name="justifications"): _text(justifications_raw, category, rule="R-31")
            for category in justifications_raw
        }
        if "budget" not in data:
            raise RuleViolation("R-31", "budget is required: an object of category: amount", field="budget")
        return cls(
            title=_text(data, "title", rule="R-31"),
            knowledge_base=_text(data, "knowledge_base", rule="R-01"),
            business=_text(data, "business", rule="R-01"),
            methodology=parse_choice(Methodology, data.get("methodology"), field="methodology"),
            business_type=parse_choice(
                BusinessType, data.get("business_type"), field="business_type", rule="R-03"
            ),
            virtual=_bool(data, "virtual", rule="R-01"),
            london=_bool(data, "london", rule="R-01"),
            start=parse_date(data.get("start"), name="start", rule="R-01"),
            months=_whole_number(data, "months", rule="R-02"),
            budget=_budget(data["budget"]),
            grant_rate=None
            if data.get("grant_rate") is None
            else _decimal_rate(data["grant_rate"], name="grant_rate", rule="R-03"),
            justifications=justifications,
            supervisor_cost=None
            if data.get("supervisor_cost") is None
            else parse_money(data["supervisor_cost"], field="supervisor_cost"),
        )

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "title": self.title,
            "knowledge_base": self.knowledge_base,
            "business": self.business,
            "methodology": self.methodology.value,
            "business_type": self.business_type.value,
            "virtual": self.virtual,
            "london": self.london,
            "start": self.start.isoformat(),
            "months": self.months,
            "budget": _money_map(self.budget),
        }
        if self.grant_rate is not None:
            data["grant_rate"] = f"{self.grant_rate:f}"  # plain digits, as the door takes them
        if self.justifications:
            data["justifications"] = {c.value: text for c, text in sorted(self.justifications.items())}
        if self.supervisor_cost is not None:
            data["supervisor_cost"] = format_money(self.supervisor_cost)
        return data


@dataclass(frozen=True)
class Virement:
    """Move budget from one category to another (R-32)."""

    KIND: ClassVar[str] = "virement"
    from_category: Category
    to_category: Category
    amount: Decimal
    minute: str

    def to_data(self) -> dict[str, Any]:
        return {
            "kind": self.KIND,
            "from": self.from_category.value,
            "to": self.to_category.value,
            "amount": format_money(self.amount),
            "minute": self.minute,
        }


@dataclass(frozen=True)
class ApproveExceedance:
    """Raise a standard line's limit above its standard amount (R-32, R-40)."""

    KIND: ClassVar[str] = "approve_exceedance"
    category: Category
    limit: Decimal
    justification: str
    approved_by: str

    def to_data(self) -> dict[str, Any]:
        return {
            "kind": self.KIND,
            "category": self.category.value,
            "limit": format_money(self.limit),
            "justification": self.justification,
            "approved_by": self.approved_by,
        }


@dataclass(frozen=True)
class Extension:
    """Add whole months; a no-cost extension leaves the budget and maxima as they are (R-32)."""

    KIND: ClassVar[str] = "extension"
    months: int
    costed: bool

    def to_data(self) -> dict[str, Any]:
        return {"kind": self.KIND, "months": self.months, "costed": self.costed}


@dataclass(frozen=True)
class BudgetRevision:
    """Set several lines at once; lines not named keep their value (R-32)."""

    KIND: ClassVar[str] = "budget_revision"
    budget: Mapping[Category, Decimal]
    minute: str

    def to_data(self) -> dict[str, Any]:
        return {"kind": self.KIND, "budget": _money_map(self.budget), "minute": self.minute}


Decision = Virement | ApproveExceedance | Extension | BudgetRevision


@dataclass(frozen=True)
class LMCDecision:
    """A decision of the local management committee (R-32)."""

    TYPE: ClassVar[str] = "LMCDecision"
    SCHEMA_VERSION: ClassVar[int] = 1
    decision: Decision

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> LMCDecision:
        kind = data.get("kind")
        if kind == Virement.KIND:
            _fields(data, {"kind", "from", "to", "amount", "minute"}, event_type="virement")
            virement = Virement(
                from_category=_category(data.get("from"), name="from"),
                to_category=_category(data.get("to"), name="to"),
                amount=_money(data, "amount", whole=True),
                minute=_text(data, "minute", rule="R-32"),
            )
            if virement.from_category is virement.to_category:
                raise RuleViolation("R-32", "a virement needs two different categories", field="to")
            return cls(virement)
        if kind == ApproveExceedance.KIND:
            _fields(
                data,
                {"kind", "category", "limit", "justification", "approved_by"},
                event_type="approve_exceedance",
            )
            return cls(
                ApproveExceedance(
                    category=_category(data.get("category")),
                    limit=_money(data, "limit", whole=True),
                    justification=_text(data, "justification", rule="R-32"),
                    approved_by=_text(data, "approved_by", rule="R-32"),
                )
            )
        if kind == Extension.KIND:
            _fields(data, {"kind", "months", "costed"}, event_type="extension")
            months = _whole_number(data, "months", rule="R-32")
            if months < 1:
                raise RuleViolation(
                    "R-32", f"an extension adds 1 or more whole months, got {months}", field="months"
                )
            return cls(Extension(months=months, costed=_bool(data, "costed", rule="R-32")))
        if kind == BudgetRevision.KIND:
            _fields(data, {"kind", "budget", "minute"}, event_type="budget_revision")
            budget = _budget(data.get("budget"))
            if not budget:
                raise RuleViolation("R-32", "a budget revision names at least one line", field="budget")
            return cls(BudgetRevision(budget=budget, minute=_text(data, "minute", rule="R-32")))
        kinds = ", ".join(k.KIND for k in (Virement, ApproveExceedance, Extension, BudgetRevision))
        raise RuleViolation(
            "R-32", f"unknown LMC decision kind {shown(kind)}; use one of {kinds}", field="kind"
        )

    def to_data(self) -> dict[str, Any]:
        return self.decision.to_data()


_CLAIM_FIELDS = frozenset({"category", "amount", "description", "tags"})


_CATEGORIES = {category.value: category for category in Category}  # `Category(value)`, read per claim


@dataclass(frozen=True)
class SpendClaimed:
    """Spend against one category (R-33); recorded even over budget, where the excess is ineligible."""

    TYPE: ClassVar[str] = "SpendClaimed"
    SCHEMA_VERSION: ClassVar[int] = 1
    category: Category
    amount: Decimal
    description: str
    tags: tuple[Tag, ...] = ()

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> SpendClaimed:
        _fields(data, _CLAIM_FIELDS, event_type=cls.TYPE)
        raw_tags = data.get("tags", []) or []
        if not isinstance(raw_tags, list):
            raise RuleViolation("R-33", "tags must be a list of tag names", field="tags")
        tags = (
            tuple(sorted({parse_choice(Tag, tag, field="tag", rule="R-33") for tag in raw_tags}))
            if raw_tags
            else ()
        )
        return cls._made(
            _category(data.get("category")),
            _money(data, "amount"),
            _text(data, "description", rule="R-33"),
            tags,
        )

    @classmethod
    def restore(cls, data: Mapping[str, Any]) -> SpendClaimed:
        """Rebuild from stored canonical data, which was validated when it was recorded (anything
        else raises, and `payload_from_data` parses it instead)."""
        amount = Decimal(data["amount"])
        if not amount.is_finite():
            raise ValueError("amount is not a number")
        category = _CATEGORIES.get(data["category"]) or Category(data["category"])
        description = data["description"]
        tags = tuple(map(Tag, data["tags"])) if data["tags"] else ()
        return cls._made(category, amount, description, tags)

    @classmethod
    def _made(
        cls, category: Category, amount: Decimal, description: str, tags: tuple[Tag, ...]
    ) -> SpendClaimed:
        """`cls(category=..., amount=..., description=..., tags=...)` without the frozen
        dataclass's `__init__` (an `object.__setattr__` a field), every field set as it sets
        them: a claim is most of any ledger, and every one submitted (`parse`) or folded from it
        (`restore`) is made here: 0.65 us an untagged claim restored against 1.25 (issue 18)."""
        claim: SpendClaimed = object.__new__(cls)
        claim.__dict__.update(category=category, amount=amount, description=description, tags=tags)
        return claim

    def to_data(self) -> dict[str, Any]:
        return {
            "category": self.category.value,
            "amount": format_money(self.amount),
            "description": self.description,
            "tags": [tag.value for tag in self.tags],
        }

    def canonical_data(self) -> str:
        """`canonical_json(self.to_data())`, written out directly: its keys in sorted order, each
        text as the encoder writes it (`encode_basestring`, non-ASCII as itself). A claim is most
        of any ledger, and the encoder's own setup cost more than the writing (issue 18)."""
        tags = ",".join([encode_basestring(tag.value) for tag in self.tags]) if self.tags else ""
        return (
            f'{{"amount":{encode_basestring(format_money(self.amount))}'
            f',"category":{encode_basestring(self.category.value)}'
            f',"description":{encode_basestring(self.description)},"tags":[{tags}]}}'
        )


@dataclass(frozen=True)
class ClaimReversed:
    """Reverse all or part of an earlier claim (R-34); `amount` None means all that is left."""

    TYPE: ClassVar[str] = "ClaimReversed"
    SCHEMA_VERSION: ClassVar[int] = 1
    claim: str
    amount: Decimal | None
    reason: str

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> ClaimReversed:
        _fields(data, {"claim", "amount", "reason"}, event_type=cls.TYPE)
        return cls(
            claim=_text(data, "claim", rule="R-34"),
            amount=None if data.get("amount") is None else _money(data, "amount"),
            reason=_text(data, "reason", rule="R-34"),
        )

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"claim": self.claim, "reason": self.reason}
        if self.amount is not None:
            data["amount"] = format_money(self.amount)
        return data


@dataclass(frozen=True)
class ParentalLeaveCost:
    """Additional parental-leave costs, reimbursed at the end at the grant rate (R-35)."""

    TYPE: ClassVar[str] = "ParentalLeaveCost"
    SCHEMA_VERSION: ClassVar[int] = 1
    amount: Decimal
    description: str

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> ParentalLeaveCost:
        _fields(data, {"amount", "description"}, event_type=cls.TYPE)
        return cls(amount=_money(data, "amount"), description=_text(data, "description", rule="R-35"))

    def to_data(self) -> dict[str, Any]:
        return {"amount": format_money(self.amount), "description": self.description}


@dataclass(frozen=True)
class GrantPayment:
    """Grant received by the knowledge base (R-42); schema version 2 (R-45) may name the grant
    claim it pays (`claim`, its number). A payment naming no claim is stored as version 1, exactly
    as before; readers take both (`schema_version_of`)."""

    TYPE: ClassVar[str] = "GrantPayment"
    SCHEMA_VERSION: ClassVar[int] = 1
    amount: Decimal
    claim: int | None = None  # grant claims: the number of the claim it pays (version 2)

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> GrantPayment:
        _fields(data, {"amount", "claim"}, event_type=cls.TYPE)
        claim = None
        if "claim" in data:
            claim = _whole_number(data, "claim", rule="R-45")
            if claim < 1:
                raise RuleViolation(
                    "R-45", f"claim must be a claim's number, 1 or more, got {claim}", field="claim"
                )
        return cls(amount=_money(data, "amount"), claim=claim)

    def to_data(self) -> dict[str, Any]:
        if self.claim is None:
            return {"amount": format_money(self.amount)}
        return {"amount": format_money(self.amount), "claim": self.claim}


@dataclass(frozen=True)
class ProjectClosed:
    """The end of the grant (R-36)."""

    TYPE: ClassVar[str] = "ProjectClosed"
    SCHEMA_VERSION: ClassVar[int] = 1

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> ProjectClosed:
        _fields(data, set(), event_type=cls.TYPE)
        return cls()

    def to_data(self) -> dict[str, Any]:
        return {}


# The fields of a grant offer that an amendment may correct. Not `methodology`: every line,
# claim and decision of the project is one of its methodology's, so a different methodology is a
# different grant (close this one, offer another), not a correction.
AMENDABLE_FIELDS = (
    "title",
    "knowledge_base",
    "business",
    "business_type",
    "virtual",
    "london",
    "start",
    "months",
    "budget",
    "justifications",
    "supervisor_cost",
    "grant_rate",
)


@dataclass(frozen=True)
class OfferAmended:
    """A correction of the grant offer (R-37): the fields given replace the offer's; budget lines
    and justifications named replace those lines only. None: the offer's value stands."""

    TYPE: ClassVar[str] = "OfferAmended"
    SCHEMA_VERSION: ClassVar[int] = 1
    reason: str
    title: str | None = None
    knowledge_base: str | None = None
    business: str | None = None
    business_type: BusinessType | None = None
    virtual: bool | None = None
    london: bool | None = None
    start: date | None = None
    months: int | None = None
    budget: Mapping[Category, Decimal] | None = None
    justifications: Mapping[Category, str] | None = None
    supervisor_cost: Decimal | None = None
    grant_rate: Decimal | None = None

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> OfferAmended:
        _fields(data, {"reason", *AMENDABLE_FIELDS}, event_type=cls.TYPE)
        try:
            return cls._read(data)
        except UnknownCategory:
            raise
        except RuleViolation as error:
            # One rule for every refusal of an amendment's form, whatever reader spoke; the message
            # keeps the reader's words (and its rule, so the offer's own rule can be looked up).
            if error.rule in ("R-30", "R-37"):
                raise
            raise RuleViolation("R-37", f"{error.message} ({error.rule})", field=error.field) from None

    @classmethod
    def _read(cls, data: Mapping[str, Any]) -> OfferAmended:
        reason = _text(data, "reason", rule="R-37")
        given = [name for name in AMENDABLE_FIELDS if name in data]
        if not given:
            raise RuleViolation(
                "R-37",
                "an amendment corrects at least one field of the offer besides its reason: "
                + ", ".join(AMENDABLE_FIELDS),
                field="data",
            )
        for name in given:
            if data[name] is None:
                raise RuleViolation(
                    "R-37", f"{name} is null: leave it out to keep the offer's value", field=name
                )
        budget = None if "budget" not in data else _budget(data["budget"])
        justifications = None
        if "justifications" in data:
            raw = data["justifications"]
            if not isinstance(raw, Mapping):
                raise RuleViolation(
                    "R-37", "justifications must be an object of category: text", field="justifications"
                )
            check_keys_once(raw, where="justifications")
            justifications = {
                _category(category, name="justifications"): _text(raw, category, rule="R-37")
                for category in raw
            }
        for name, value in (("budget", budget), ("justifications", justifications)):
            if value is not None and not value:
                raise RuleViolation("R-37", f"{name} names at least one line when given", field=name)
        return cls(
            reason=reason,
            title=_text(data, "title", rule="R-37") if "title" in data else None,
            knowledge_base=_text(data, "knowledge_base", rule="R-37") if "knowledge_base" in data else None,
            business=_text(data, "business", rule="R-37") if "business" in data else None,
            business_type=parse_choice(
                BusinessType, data["business_type"], field="business_type", rule="R-37"
            )
            if "business_type" in data
            else None,
            virtual=_bool(data, "virtual", rule="R-37") if "virtual" in data else None,
            london=_bool(data, "london", rule="R-37") if "london" in data else None,
            start=parse_date(data["start"], name="start", rule="R-37") if "start" in data else None,
            months=_whole_number(data, "months", rule="R-37") if "months" in data else None,
            budget=budget,
            justifications=justifications,
            supervisor_cost=parse_money(data["supervisor_cost"], field="supervisor_cost")
            if "supervisor_cost" in data
            else None,
            grant_rate=_decimal_rate(data["grant_rate"], name="grant_rate", rule="R-37")
            if "grant_rate" in data
            else None,
        )

    def corrected(self) -> tuple[str, ...]:
        """The names of the offer's fields this amendment corrects, in `AMENDABLE_FIELDS` order."""
        return tuple(name for name in AMENDABLE_FIELDS if getattr(self, name) is not None)

    def amend(self, offer: GrantOffered) -> GrantOffered:
        """The offer as this amendment corrects it."""
        changes: dict[str, Any] = {
            name: getattr(self, name) for name in self.corrected() if name not in ("budget", "justifications")
        }
        if self.budget is not None:
            changes["budget"] = {**offer.budget, **self.budget}
        if self.justifications is not None:
            changes["justifications"] = {**offer.justifications, **self.justifications}
        return replace(offer, **changes)

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"reason": self.reason}
        for name in self.corrected():
            value = getattr(self, name)
            if name == "budget":
                data[name] = _money_map(value)
            elif name == "justifications":
                data[name] = {c.value: text for c, text in sorted(value.items())}
            elif name == "supervisor_cost":
                data[name] = format_money(value)
            elif name == "grant_rate":
                data[name] = f"{value:f}"
            elif isinstance(value, (BusinessType,)):
                data[name] = value.value
            elif isinstance(value, date):
                data[name] = value.isoformat()
            else:
                data[name] = value
        return data


@dataclass(frozen=True)
class ProjectReopened:
    """A closed project opened again for costs incurred in its period that arrived late (R-38)."""

    TYPE: ClassVar[str] = "ProjectReopened"
    SCHEMA_VERSION: ClassVar[int] = 1
    reason: str

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> ProjectReopened:
        _fields(data, {"reason"}, event_type=cls.TYPE)
        return cls(reason=_text(data, "reason", rule="R-38"))

    def to_data(self) -> dict[str, Any]:
        return {"reason": self.reason}


# --- spend profiles (R-43) -------------------------------------------------------------------------

PROFILE_RULES = ("even", "in_quarters", "amounts")


@dataclass(frozen=True)
class LineProfile:
    """How one line's budget is planned over the project's period (R-43): `even` by month;
    `in_quarters`, evenly between the named calendar quarters; `amounts`, the amount planned in each
    named quarter (the amounts sum to the line's budget when recorded)."""

    rule: str
    quarters: tuple[Quarter, ...] = ()  # in_quarters: the quarters, in order
    amounts: Mapping[Quarter, Decimal] = field(default_factory=dict)  # amounts: per quarter

    @classmethod
    def parse(cls, value: object, *, name: str) -> LineProfile:
        if not isinstance(value, Mapping):
            raise RuleViolation(
                "R-43", f'{name} must be an object such as {{"rule": "even"}}, got {shown(value)}', field=name
            )
        check_keys_once(value, where=name)
        _fields(value, {"rule", "quarters"}, event_type=f"{name} (a line's profile)")
        rule = value.get("rule")
        if rule not in PROFILE_RULES:
            raise RuleViolation(
                "R-43",
                f"{name}.rule must be one of {', '.join(PROFILE_RULES)}, got {shown(rule)}",
                field=f"{name}.rule",
            )
        raw = value.get("quarters")
        where = f"{name}.quarters"
        if rule == "even":
            if raw is not None:
                raise RuleViolation("R-43", f"{where}: an even profile names no quarters", field=where)
            return cls(rule="even")
        if rule == "in_quarters":
            if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
                raise RuleViolation(
                    "R-43",
                    f'{where} must be a list of quarters such as ["2025Q2"], got {shown(raw)}',
                    field=where,
                )
            quarters = [_quarter(item, name=where) for item in raw]
            if len(set(quarters)) != len(quarters):
                raise RuleViolation("R-43", f"{where} names a quarter twice", field=where)
            return cls(rule="in_quarters", quarters=tuple(sorted(quarters)))
        if not isinstance(raw, Mapping) or not raw:
            raise RuleViolation(
                "R-43",
                f'{where} must be an object of quarter: amount such as {{"2025Q2": "1500.00"}}, got {shown(raw)}',
                field=where,
            )
        check_keys_once(raw, where=where)
        amounts: dict[Quarter, Decimal] = {}
        for text, amount in raw.items():
            quarter = _quarter(text, name=where)
            amounts[quarter] = parse_money(amount, field=f"{where}.{quarter}", rule="R-43")
        return cls(rule="amounts", amounts=dict(sorted(amounts.items())))

    def named_quarters(self) -> tuple[Quarter, ...]:
        return self.quarters if self.rule == "in_quarters" else tuple(self.amounts)

    def to_data(self) -> dict[str, Any]:
        if self.rule == "in_quarters":
            return {"rule": self.rule, "quarters": [str(q) for q in self.quarters]}
        if self.rule == "amounts":
            return {"rule": self.rule, "quarters": {str(q): format_money(a) for q, a in self.amounts.items()}}
        return {"rule": self.rule}


def _quarter(value: object, *, name: str) -> Quarter:
    quarter = Quarter.parse(value) if isinstance(value, str) else None
    if quarter is None:
        raise RuleViolation(
            "R-43", f"{name}: a quarter is a calendar quarter such as 2025Q2, got {shown(value)}", field=name
        )
    return quarter


@dataclass(frozen=True)
class SpendProfileSet:
    """The planned spend of some lines over the period (R-43): set with the offer or by an LMC
    decision (its minute). The latest profile of a line replaces the one before; lines not named
    keep theirs (or the default, even by month)."""

    TYPE: ClassVar[str] = "SpendProfileSet"
    SCHEMA_VERSION: ClassVar[int] = 1
    lines: Mapping[Category, LineProfile]
    minute: str

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> SpendProfileSet:
        _fields(data, {"lines", "minute"}, event_type=cls.TYPE)
        raw = data.get("lines")
        if not isinstance(raw, Mapping) or not raw:
            raise RuleViolation(
                "R-43",
                'lines must be an object of category: profile, such as {"consumables": {"rule": "even"}}',
                field="lines",
            )
        check_keys_once(raw, where="lines")
        lines: dict[Category, LineProfile] = {}
        for name, value in raw.items():
            try:
                category = _category(name, name="lines")
            except UnknownCategory as error:  # the profile's own rule, naming the field
                raise RuleViolation("R-43", error.message, field=f"lines.{name}") from None
            lines[category] = LineProfile.parse(value, name=f"lines.{category.value}")
        return cls(lines=dict(sorted(lines.items())), minute=_text(data, "minute", rule="R-43"))

    def to_data(self) -> dict[str, Any]:
        return {
            "lines": {category.value: line.to_data() for category, line in self.lines.items()},
            "minute": self.minute,
        }


# The kinds of alert the projection stores (`alerts.AlertKind` but the clock's `ended_not_closed`,
# which is judged by readers on a day and never stored, so never acknowledged): named here, since
# `alerts` imports this module.
STORED_ALERT_KINDS = (
    "threshold",
    "over_budget",
    "over_cap",
    "sub_limit",
    "ineligible_claim",
    "forecast_overspend",
    "forecast_underspend",  # issue 15
    "behind_profile",
    "ahead_of_profile",
)


@dataclass(frozen=True)
class AlertAcknowledged:
    """Someone has seen an alert and says what is being done about it (R-39). The alert is named by
    what identifies it under replay (its crossing: category, kind, subject and the version that
    raised it), never by the projection's id, which a rebuild may renumber."""

    TYPE: ClassVar[str] = "AlertAcknowledged"
    SCHEMA_VERSION: ClassVar[int] = 1
    category: str
    kind: str
    subject: str
    raised_at_version: int
    note: str

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> AlertAcknowledged:
        _fields(data, {"category", "kind", "subject", "raised_at_version", "note"}, event_type=cls.TYPE)
        category = data.get("category")
        if not isinstance(category, str) or category not in _CATEGORIES:
            raise RuleViolation(
                "R-39", f"category must be the alert's cost category, got {shown(category)}", field="category"
            )
        kind = data.get("kind")
        if kind not in STORED_ALERT_KINDS:
            raise RuleViolation(
                "R-39",
                f"kind must be one of {', '.join(STORED_ALERT_KINDS)}, got {shown(kind)}",
                field="kind",
            )
        subject = data.get("subject", "")
        if subject is None:
            subject = ""
        if not isinstance(subject, str) or len(subject) > 200:
            raise RuleViolation(
                "R-39",
                f"subject must be the alert's subject (a text, may be empty), got {shown(subject)}",
                field="subject",
            )
        version = _whole_number(data, "raised_at_version", rule="R-39")
        if version < 1:
            raise RuleViolation(
                "R-39", f"raised_at_version must be 1 or more, got {version}", field="raised_at_version"
            )
        return cls(
            category=category,
            kind=str(kind),
            subject=subject,
            raised_at_version=version,
            note=_text(data, "note", rule="R-39"),
        )

    @property
    def crossing(self) -> tuple[str, str, str, int]:
        """The alert it names: (category, kind, subject, raised_at_version)."""
        return (self.category, self.kind, self.subject, self.raised_at_version)

    def to_data(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "kind": self.kind,
            "subject": self.subject,
            "raised_at_version": self.raised_at_version,
            "note": self.note,
        }


# --- the business's invoices (R-44) ------------------------------------------------------------
# Kept in a block of their own: the knowledge base invoices the business partner quarterly in
# arrears for its contribution, and records what the business pays against each invoice.

QUARTER_TEXT = re.compile(r"[0-9]{4}Q[1-4]")
MAX_INVOICE_NUMBER = 64


def quarter_span(text: object, *, rule: str, field: str = "quarter") -> tuple[str, date, date]:
    """`2025Q2` -> ("2025Q2", 2025-04-01, 2025-06-30): ASCII digits, a year within the ledger's
    dates, refused under `rule` naming `field` otherwise (the claim pack's quarter uses R-42, an
    invoice's R-44)."""
    cleaned = text.strip().upper() if isinstance(text, str) else ""
    if QUARTER_TEXT.fullmatch(cleaned) is None:
        raise RuleViolation(rule, f"{field} must look like 2025Q2, got {shown(text)}", field=field)
    year, number = int(cleaned[:4]), int(cleaned[5])
    first, last = EARLIEST_DATE.year, LATEST_DATE.year
    if not first <= year <= last:
        raise RuleViolation(
            rule,
            f"{field} {cleaned} is outside the years the ledger accepts, {first} to {last}: check the year",
            field=field,
        )
    start = date(year, 3 * number - 2, 1)
    after = date(year + 1, 1, 1) if number == 4 else date(year, 3 * number + 1, 1)
    return cleaned, start, after - timedelta(days=1)


def quarter_of(on: date) -> str:
    """The calendar quarter holding `on`: 2025-05-14 -> "2025Q2"."""
    return f"{on.year}Q{(on.month - 1) // 3 + 1}"


def next_quarter(label: str) -> str:
    """ "2025Q4" -> "2026Q1"."""
    year, number = int(label[:4]), int(label[5])
    return f"{year + 1}Q1" if number == 4 else f"{year}Q{number + 1}"


@dataclass(frozen=True)
class BusinessInvoiced:
    """The knowledge base's invoice to the business partner for its contribution for a quarter,
    in arrears (R-44): the amount due and what it is made of, as `ktpledger invoice` works it out
    (`domain/invoices.py`): the business's share of the eligible costs dated in the quarter, the
    prior-period adjustment (costs of quarters already invoiced that arrived since, or a credit
    for those reversed), and on the final quarter's invoice the top-up to the offer's business
    total (R-32). `amount` = quarter_costs + prior_period - prior_period_credit + offer_top_up."""

    TYPE: ClassVar[str] = "BusinessInvoiced"
    SCHEMA_VERSION: ClassVar[int] = 1
    FIELDS: ClassVar[frozenset[str]] = frozenset(
        {
            "number",
            "quarter",
            "amount",
            "quarter_costs",
            "prior_period",
            "prior_period_credit",
            "offer_top_up",
            "due",
        }
    )
    number: str
    quarter: str
    amount: Decimal
    quarter_costs: Decimal
    prior_period: Decimal = Decimal("0.00")
    prior_period_credit: Decimal = Decimal("0.00")
    offer_top_up: Decimal = Decimal("0.00")
    due: date | None = None  # when payment is due; None: INVOICE_PAYMENT_DAYS after the invoice's date

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> BusinessInvoiced:
        _fields(data, cls.FIELDS, event_type=cls.TYPE)
        number = _text(data, "number", rule="R-44")
        if len(number) > MAX_INVOICE_NUMBER:
            raise RuleViolation(
                "R-44",
                f"number must be an invoice number of at most {MAX_INVOICE_NUMBER} characters",
                field="number",
            )
        quarter, _, _ = quarter_span(data.get("quarter"), rule="R-44")

        def amount(name: str, required: bool = False) -> Decimal:
            if name not in data:
                if required:
                    raise RuleViolation(
                        "R-44", f'{name} is required: an amount in pounds such as "184.20"', field=name
                    )
                return Decimal("0.00")
            return parse_money(data[name], field=name, rule="R-44")

        due_text = data.get("due")
        due = None
        if due_text is not None:
            due = check_date_range(parse_date(due_text, name="due", rule="R-44"), field="due", rule="R-44")
        return cls(
            number=number,
            quarter=quarter,
            amount=amount("amount", True),
            quarter_costs=amount("quarter_costs", True),
            prior_period=amount("prior_period"),
            prior_period_credit=amount("prior_period_credit"),
            offer_top_up=amount("offer_top_up"),
            due=due,
        )

    @property
    def made_of(self) -> Decimal:
        """What the parts add up to: `amount` must be this (checked with the project's state, so
        that the API's schema, which cannot add, is as strict as the door)."""
        return self.quarter_costs + self.prior_period - self.prior_period_credit + self.offer_top_up

    def due_on(self, invoiced_on: date) -> date:
        """The day payment is due: `due`, else `INVOICE_PAYMENT_DAYS` after the invoice's date."""
        return self.due if self.due is not None else invoiced_on + timedelta(days=INVOICE_PAYMENT_DAYS)

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "number": self.number,
            "quarter": self.quarter,
            "amount": format_money(self.amount),
            "quarter_costs": format_money(self.quarter_costs),
            "prior_period": format_money(self.prior_period),
            "prior_period_credit": format_money(self.prior_period_credit),
            "offer_top_up": format_money(self.offer_top_up),
        }
        if self.due is not None:
            data["due"] = self.due.isoformat()
        return data


@dataclass(frozen=True)
class BusinessPaymentReceived:
    """A payment from the business partner against one of its invoices, by number (R-44)."""

    TYPE: ClassVar[str] = "BusinessPaymentReceived"
    SCHEMA_VERSION: ClassVar[int] = 1
    invoice: str
    amount: Decimal

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> BusinessPaymentReceived:
        _fields(data, {"invoice", "amount"}, event_type=cls.TYPE)
        invoice = _text(data, "invoice", rule="R-44")
        if "amount" not in data:
            raise RuleViolation(
                "R-44", 'amount is required: an amount in pounds such as "184.20"', field="amount"
            )
        return cls(
            invoice=invoice, amount=parse_money(data["amount"], field="amount", positive=True, rule="R-44")
        )

    def to_data(self) -> dict[str, Any]:
        return {"invoice": self.invoice, "amount": format_money(self.amount)}


# --- end of the business's invoices ------------------------------------------------------------


# --- grant claims (R-45) -------------------------------------------------------------------------
# Kept in a block of their own: a quarter's grant claim, frozen as submitted (`domain/claims.py`
# works it out; `ktpledger claim submit` records it).

CLAIM_LINE_FIGURES = ("actual", "forecast", "variance", "eligible", "grant", "prior_period")
HASH_PATTERN = re.compile(r"[0-9a-f]{1,128}")
CLAIM_VARIANCE_TOLERANCE = Decimal("0.10")  # a variance over 10% of the forecast needs a narrative


def claim_needs_narrative(actual: Decimal, forecast: Decimal) -> bool:
    """R-45: whether a claim line needs a narrative: |actual - forecast| more than 10% of the
    forecast. Decision: against a forecast of 0 any spend (or credit) needs one (it is infinitely
    far from the plan), and none is needed when both are 0."""
    return abs(actual - forecast) > CLAIM_VARIANCE_TOLERANCE * abs(forecast)


def _signed_money(value: object, *, field: str) -> Decimal:
    """Pounds that may be negative ("-12.50"): a variance, a quarter's reversal, a credit."""
    if isinstance(value, str) and value.startswith("-"):
        return -parse_money(value[1:], field=field, rule="R-45")
    return parse_money(value, field=field, rule="R-45")


@dataclass(frozen=True)
class ClaimLine:
    """One category of a submitted claim: the quarter's spend (`actual`) against the profile's
    plan for the quarter (`forecast`, R-43), `variance` = actual - forecast, the narrative a
    variance over 10% of the forecast needs, the eligible spend and the grant the quarter adds,
    and the prior-period adjustment (grant of costs dated in quarters already claimed)."""

    actual: Decimal
    forecast: Decimal
    variance: Decimal
    eligible: Decimal
    grant: Decimal
    prior_period: Decimal = Decimal("0.00")
    narrative: str = ""

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {name: format_money(getattr(self, name)) for name in CLAIM_LINE_FIGURES}
        if self.narrative:
            data["narrative"] = self.narrative
        return data


@dataclass(frozen=True)
class ClaimSubmitted:
    """A quarter's grant claim as submitted (R-45), frozen: per category its figures
    (`ClaimLine`), the grant claimed in all (the quarter's grant and the prior-period
    adjustment), and the ledger it was made from: the ledger-wide `position`, the project's
    `version` and its `head_hash`."""

    TYPE: ClassVar[str] = "ClaimSubmitted"
    SCHEMA_VERSION: ClassVar[int] = 1
    FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"number", "quarter", "lines", "grant", "position", "version", "head_hash"}
    )
    number: int
    quarter: str
    lines: Mapping[Category, ClaimLine]
    grant: Decimal
    position: int
    version: int
    head_hash: str

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> ClaimSubmitted:
        _fields(data, cls.FIELDS, event_type=cls.TYPE)
        number = _whole_number(data, "number", rule="R-45")
        if number < 1:
            raise RuleViolation("R-45", f"number must be 1 or more, got {number}", field="number")
        quarter, _, _ = quarter_span(data.get("quarter"), rule="R-45")
        raw_lines = data.get("lines")
        if type(raw_lines) is not dict and not isinstance(raw_lines, Mapping):
            raise RuleViolation("R-45", "lines must be an object of categories", field="lines")
        lines: dict[Category, ClaimLine] = {}
        for name, raw in raw_lines.items():
            category = _category(name, name=f"lines.{name}")
            where = f"lines.{category.value}"
            if type(raw) is not dict and not isinstance(raw, Mapping):
                raise RuleViolation("R-45", f"{where} must be an object of figures", field=where)
            _fields(raw, {*CLAIM_LINE_FIGURES, "narrative"}, event_type=f"{cls.TYPE} {where}")
            figures: dict[str, Decimal] = {}
            for figure in CLAIM_LINE_FIGURES:
                if figure not in raw:
                    if figure == "prior_period":
                        figures[figure] = Decimal("0.00")
                        continue
                    raise RuleViolation(
                        "R-45",
                        f'{where}.{figure} is required: pounds such as "184.20"',
                        field=f"{where}.{figure}",
                    )
                figures[figure] = _signed_money(raw[figure], field=f"{where}.{figure}")
            check_storable(raw.get("narrative"), field=f"{where}.narrative")
            narrative = _text(raw, "narrative", rule="R-45", required=False)
            lines[category] = ClaimLine(narrative=narrative, **figures)
        if "grant" not in data:
            raise RuleViolation("R-45", 'grant is required: pounds such as "184.20"', field="grant")
        head_hash = data.get("head_hash")
        if not isinstance(head_hash, str) or HASH_PATTERN.fullmatch(head_hash) is None:
            raise RuleViolation(
                "R-45",
                f"head_hash must be the hex hash of the project's head, got {shown(head_hash)}",
                field="head_hash",
            )
        position = _whole_number(data, "position", rule="R-45")
        version = _whole_number(data, "version", rule="R-45")
        if position < 1 or version < 1:
            raise RuleViolation(
                "R-45",
                "position and version must be 1 or more",
                field="position" if position < 1 else "version",
            )
        return cls(
            number=number,
            quarter=quarter,
            lines=dict(sorted(lines.items(), key=lambda item: item[0].value)),
            grant=_signed_money(data["grant"], field="grant"),
            position=position,
            version=version,
            head_hash=head_hash,
        )

    @property
    def quarter_grant(self) -> Decimal:
        return sum((line.grant for line in self.lines.values()), Decimal("0.00"))

    @property
    def prior_period(self) -> Decimal:
        return sum((line.prior_period for line in self.lines.values()), Decimal("0.00"))

    def to_data(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "quarter": self.quarter,
            "lines": {category.value: line.to_data() for category, line in self.lines.items()},
            "grant": format_money(self.grant),
            "position": self.position,
            "version": self.version,
            "head_hash": self.head_hash,
        }


@dataclass(frozen=True)
class ClaimApproved:
    """The monitoring officer's approval of a submitted grant claim (R-46): the grant approved on
    it (`amount`, at most the grant claimed), why less was approved (`note`, required then, checked
    with the project's state) and who approved it (`approved_by`)."""

    TYPE: ClassVar[str] = "ClaimApproved"
    SCHEMA_VERSION: ClassVar[int] = 1
    FIELDS: ClassVar[frozenset[str]] = frozenset({"claim", "amount", "note", "approved_by"})
    claim: int
    amount: Decimal
    note: str = ""
    approved_by: str = ""

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> ClaimApproved:
        _fields(data, cls.FIELDS, event_type=cls.TYPE)
        claim = _whole_number(data, "claim", rule="R-46")
        if claim < 1:
            raise RuleViolation(
                "R-46", f"claim must be a claim's number, 1 or more, got {claim}", field="claim"
            )
        if "amount" not in data:
            raise RuleViolation(
                "R-46", 'amount is required: the grant approved in pounds, such as "184.20"', field="amount"
            )
        return cls(
            claim=claim,
            amount=parse_money(data["amount"], field="amount", rule="R-46"),
            note=_text(data, "note", rule="R-46", required=False),
            approved_by=_text(data, "approved_by", rule="R-46", required=False),
        )

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"claim": self.claim, "amount": format_money(self.amount)}
        if self.note:
            data["note"] = self.note
        if self.approved_by:
            data["approved_by"] = self.approved_by
        return data


# --- end of grant claims ---------------------------------------------------------------------------


def canonical_data(payload: Any) -> str:
    """The canonical JSON text of a payload's data (`to_data()`): what is stored and hashed."""
    if type(payload) is SpendClaimed:
        return payload.canonical_data()
    return canonical_json(payload.to_data())


def schema_version_of(payload: Any) -> int:
    """The schema version an event is stored with: its type's, except a `GrantPayment` naming the
    claim it pays, version 2 (R-45)."""
    if isinstance(payload, GrantPayment) and payload.claim is not None:
        return 2
    version: int = payload.SCHEMA_VERSION
    return version


Payload = (
    GrantOffered
    | LMCDecision
    | SpendClaimed
    | ClaimReversed
    | ParentalLeaveCost
    | GrantPayment
    | ProjectClosed
    | OfferAmended
    | ProjectReopened
    | AlertAcknowledged
    | BusinessInvoiced
    | BusinessPaymentReceived
    | SpendProfileSet
    | ClaimSubmitted  # grant claims
    | ClaimApproved  # claim approvals
)

EVENT_TYPES: Mapping[str, Any] = {
    cls.TYPE: cls
    for cls in (
        GrantOffered,
        LMCDecision,
        SpendClaimed,
        ClaimReversed,
        ParentalLeaveCost,
        GrantPayment,
        ProjectClosed,
        OfferAmended,
        ProjectReopened,
        AlertAcknowledged,
        BusinessInvoiced,
        BusinessPaymentReceived,
        SpendProfileSet,
        ClaimSubmitted,  # grant claims
        ClaimApproved,  # claim approvals
    )
}


@dataclass(frozen=True)
class Event:
    """An event as submitted: which project, the submitter's idempotency key, when, and what."""

    project: str
    key: str
    date: date
    payload: Payload

    @property
    def type(self) -> str:
        return self.payload.TYPE

    def content(self) -> dict[str, Any]:
        """What idempotency compares: the same key with other content is a conflict."""
        return {"type": self.type, "date": self.date.isoformat(), "data": self.payload.to_data()}


def parse_event(raw: object) -> Event:
    """Parse one submitted event (a JSON object, docs/events.md), or raise `RuleViolation`."""
    if type(raw) is not dict and not isinstance(raw, Mapping):  # a dict, as parsed JSON is, at once
        raise RuleViolation("R-30", f"an event must be a JSON object, got {shown(raw)}")
    if not ENVELOPE_FIELDS.issuperset(raw):
        unknown = sorted(set(raw) - ENVELOPE_FIELDS, key=str)
        raise RuleViolation(
            "R-30",
            f"an event has no field {shown(unknown[0])}; its fields are {', '.join(sorted(ENVELOPE_FIELDS))}",
            field=str(unknown[0]),
        )
    event_type = raw.get("type")
    cls = EVENT_TYPES.get(event_type) if isinstance(event_type, str) else None
    if cls is None:
        raise RuleViolation(
            "R-30",
            f"unknown event type {shown(event_type)}; use one of {', '.join(EVENT_TYPES)}",
            field="type",
        )
    project = raw.get("project")
    if not isinstance(project, str) or not PROJECT_PATTERN.fullmatch(project):
        raise RuleViolation(
            "R-30",
            f"project must be a reference of 1-64 letters, digits and . _ / - (a letter or digit first), got {shown(project)}",
            field="project",
        )
    key = raw.get("key")
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise RuleViolation(
            "R-30",
            f"key must be a non-empty idempotency key of at most {MAX_KEY_LENGTH} printable characters, got {shown(key)}",
            field="key",
        )
    when = check_date_range(parse_date(raw.get("date")), field="date", rule="R-30")
    data = raw.get("data", {})
    if data is None:
        data = {}
    if type(data) is not dict and not isinstance(data, Mapping):
        raise RuleViolation("R-30", "data must be a JSON object", field="data")
    try:
        payload: Payload = cls.parse(data)
    except UnknownCategory as error:
        if cls is not GrantOffered or error.lines is not None:
            raise
        raise _offer_category(error, data, when) from None
    _check_as_sent(raw, data, payload)
    return made_event(project, key, when, payload)


def made_event(project: str, key: str, when: date, payload: Payload) -> Event:
    """`Event(project=..., key=..., date=..., payload=...)` without the frozen dataclass's
    `__init__` (an `object.__setattr__` a field), every field set as it sets them: every event
    submitted (`parse_event`) or read back from the ledger (`RecordedEvent.event`) is made here,
    0.5 us against 0.9 (issue 18)."""
    event: Event = _new(Event)
    event.__dict__.update(project=project, key=key, date=when, payload=payload)
    return event


_new = object.__new__


# The free text of each payload, by its field: what `_text` reads, and the one text of an event no
# reader matches against a list or a pattern.
_FREE_TEXT: Mapping[type, tuple[str, ...]] = {
    GrantOffered: ("title", "knowledge_base", "business"),
    Virement: ("minute",),
    ApproveExceedance: ("justification", "approved_by"),
    BudgetRevision: ("minute",),
    SpendClaimed: ("description",),
    ClaimReversed: ("claim", "reason"),
    ParentalLeaveCost: ("description",),
    OfferAmended: ("reason", "title", "knowledge_base", "business"),
    ProjectReopened: ("reason",),
    AlertAcknowledged: ("note", "subject"),
    BusinessInvoiced: ("number",),
    BusinessPaymentReceived: ("invoice",),
    SpendProfileSet: ("minute",),
    ClaimSubmitted: (),  # grant claims: narratives are checked as they are read
    ClaimApproved: ("note", "approved_by"),  # claim approvals
}


def _check_as_sent(raw: Mapping[str, Any], data: Mapping[str, Any], payload: Payload) -> None:
    """What the door asks of an event once its fields have been read (so a field's own rule
    speaks first: a NUL in a description is R-33): free text that can be stored as sent (checked
    before `_text` strips it, so a control character is never dropped silently), and the event
    and its data each naming a key once (budgets and justifications are checked as they are read)."""
    check_keys_once(raw)
    check_keys_once(data)
    fields = _FREE_TEXT.get(type(payload.decision if isinstance(payload, LMCDecision) else payload), ())
    for name in fields:
        check_storable(data.get(name), field=name)
    if isinstance(payload, (GrantOffered, OfferAmended)) and payload.justifications:
        for category, text in data["justifications"].items():
            check_storable(text, field=f"justifications.{category}")


def _offer_category(error: UnknownCategory, data: Mapping[str, Any], when: date) -> UnknownCategory:
    """An unknown category in a grant offer, reworded to offer the lines of the offer's own
    methodology (as-is when the methodology or the date is itself wrong: that is refused next)."""
    methodology = data.get("methodology")
    if methodology not in set(Methodology):
        return error
    try:
        rules = rule_set_for(when)
    except RuleViolation:
        return error
    chosen = Methodology(methodology)
    return error.for_lines(rules.claimable(chosen), f"the lines of a {chosen.value} project are")


def payload_from_data(event_type: str, data: Mapping[str, Any]) -> Payload:
    """Rebuild a stored event's payload from its canonical data (claims, the bulk of any ledger,
    skip re-validation; every other type is parsed again). A claim that does not restore is parsed
    too, so what is wrong with it is said as a refusal naming the field."""
    if event_type == SpendClaimed.TYPE:
        try:
            return SpendClaimed.restore(data)
        except Exception:  # noqa: BLE001 - not as this version stores claims: parse it, and say what is wrong
            return SpendClaimed.parse(data)
    cls = EVENT_TYPES.get(event_type)
    if cls is None:
        raise RuleViolation(
            "R-30", f"unknown event type {shown(event_type)}; the types are {', '.join(EVENT_TYPES)}"
        )
    parsed: Payload = cls.parse(data)
    return parsed
