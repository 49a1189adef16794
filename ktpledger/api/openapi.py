"""The OpenAPI schema as strict as the server: every input the server refuses for its form, the
schema refuses too, so a client generated from it (or schemathesis) sends nothing that is refused
for its shape.

What the schema says, and the server checks:
- project references: 1-64 of letters, digits and `._/-`, a letter or digit first, the whole text;
- days: `YYYY-MM-DD`, a calendar date from 1990-01-01 to 2099-12-31; quarters: `2025Q2`;
- money: a string of ASCII digits with at most one `.` and two decimals, no sign, no exponent, below
  1,000,000,000 (`MONEY`; `POSITIVE_MONEY` above 0; `WHOLE_POUNDS` for budgets); fractions (rates,
  FTE) from 0 to 1;
- texts: 1-2000 characters, not only white space, no control character but tab, LF and CR (and
  no lone surrogate, which no pattern can name: the server alone refuses it); idempotency keys:
  1-200 printable ASCII characters, no space at either end (the server accepts any printable
  character; the schema documents the portable subset);
- events: one schema per `type` (`oneOf`, each with its own `data`: required fields, enums for
  categories, tags, methodology, business type and the kinds of LMC decision, no other field).
  A grant offer's lines are those of its methodology, it is dated on or after the first rule set's
  day (2023-01-26), virtual and London weighting do not go together, and a virement moves between
  two different lines.

What no schema can say, because it depends on the ledger's state or on arithmetic over several
fields, the server alone refuses (a 404, or a 422 naming the rule): an unknown project, a second
grant offer, a line the project's methodology lacks, a budget over a maximum or a standard without
a justification, a date outside the project's period, a key recorded with other content, a closed
project, an amendment the amended offer or the recorded claims refuse (R-37), a reopening of an
open project (R-38); for `/costing`, a virtual business with London weighting and the fec-only parameters on a
non-fec costing (query parameters cannot depend on each other in OpenAPI).
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from ktpledger.domain.alerts import AlertKind
from ktpledger.domain.events import MAX_KEY_LENGTH, MAX_TEXT_LENGTH, STORED_ALERT_KINDS
from ktpledger.domain.input_rules import CONTROL_CHARACTERS
from ktpledger.domain.rules import RULE_SETS, BusinessType, Category, Methodology, Tag

FIRST_DAY, LAST_DAY = "1990-01-01", "2099-12-31"
YEAR = "(199[0-9]|20[0-9]{2})"
MONTH_DAY = "(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"

PROJECT_REF: dict[str, Any] = {
    "type": "string",
    "pattern": "^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$",
    "minLength": 1,
    "maxLength": 64,
    "description": "a project reference: 1-64 letters, digits and . _ / -, a letter or digit first",
    "example": "KTP-0042",
}
DAY: dict[str, Any] = {
    "type": "string",
    "format": "date",
    "pattern": f"^{YEAR}-{MONTH_DAY}$",
    "description": f"a date, YYYY-MM-DD, from {FIRST_DAY} to {LAST_DAY}",
    "example": "2025-03-14",
}
QUARTER: dict[str, Any] = {
    "type": "string",
    "pattern": f"^{YEAR}Q[1-4]$",
    "description": "a calendar quarter, e.g. 2025Q2",
    "example": "2025Q2",
}
MONEY: dict[str, Any] = {
    "type": "string",
    "pattern": r"^[0-9]{1,9}(\.[0-9]{1,2})?$",
    "description": "pounds: ASCII digits, at most one '.' and two decimals, no sign",
    "example": "184.20",
}
POSITIVE_MONEY: dict[str, Any] = {
    **MONEY,
    "pattern": r"^([1-9][0-9]{0,8}(\.[0-9]{1,2})?|0\.(0[1-9]|[1-9][0-9]?))$",
    "description": "pounds above 0: ASCII digits, at most one '.' and two decimals",
}
WHOLE_POUNDS: dict[str, Any] = {
    **MONEY,
    "pattern": r"^[0-9]{1,9}(\.0{1,2})?$",
    "description": "whole pounds: ASCII digits (R-20)",
    "example": "3500",
}
POSITIVE_WHOLE_POUNDS: dict[str, Any] = {
    **WHOLE_POUNDS,
    "pattern": r"^[1-9][0-9]{0,8}(\.0{1,2})?$",
    "description": "whole pounds above 0: ASCII digits (R-20)",
}
FRACTION: dict[str, Any] = {
    "type": "string",
    "pattern": r"^(0(\.[0-9]{1,6})?|1(\.0{1,6})?)$",
    "description": "a decimal from 0 to 1, e.g. 0.1",
    "example": "0.1",
}
RATE: dict[str, Any] = {
    "type": "string",
    "pattern": r"^(0\.[0-9]{0,5}[1-9]|1(\.0{1,6})?)$",
    "description": 'a rate above 0 and at most 1, e.g. "0.67"',
    "example": "0.67",
}
# No control character but tab, line feed and carriage return (the server's own range,
# input_rules.CONTROL_CHARACTERS), and at least one character that is not white space. A lone
# surrogate, which the server refuses too, cannot be named in a pattern: schema validators work on
# Unicode scalar values, which exclude them.
TEXT: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_TEXT_LENGTH,
    "pattern": f"^[^{CONTROL_CHARACTERS}]*[^\\s{CONTROL_CHARACTERS}][^{CONTROL_CHARACTERS}]*$",
}
KEY: dict[str, Any] = {
    "type": "string",
    "pattern": rf"^[!-~]([ -~]{{0,{MAX_KEY_LENGTH - 2}}}[!-~])?$",
    "description": f"the submitter's idempotency key, unique within the project: 1-{MAX_KEY_LENGTH} "
    "printable characters",
    "example": "claim-2025-03-acme-17",
}
MONTHS: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": RULE_SETS[-1].max_months}

LINES = [category.value for category in Category if category is not Category.KNOWLEDGE_BASE_OVERHEADS]
TAGS = [tag.value for tag in Tag]


def _enum(values: list[str]) -> dict[str, Any]:
    return {"type": "string", "enum": values}


def _object(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties, "additionalProperties": False}


def _lines_map(lines: list[str], value: dict[str, Any], *, at_least: int = 0) -> dict[str, Any]:
    """An object of some of `lines`, each mapped to `value`."""
    return {
        "type": "object",
        "properties": dict.fromkeys(lines, value),
        "additionalProperties": False,
        "minProperties": at_least,
    }


def _offer_lines(methodology: Methodology) -> list[str]:
    return [category.value for category in RULE_SETS[-1].claimable(methodology)]


def _grant_offered(methodology: Methodology) -> dict[str, Any]:
    lines = _offer_lines(methodology)
    properties: dict[str, Any] = {
        "title": TEXT,
        "knowledge_base": TEXT,
        "business": TEXT,
        "methodology": {"const": methodology.value},
        "business_type": _enum([kind.value for kind in BusinessType]),
        "virtual": {"type": "boolean"},
        "london": {"type": "boolean"},
        "start": DAY,
        "months": MONTHS,
        "budget": _lines_map(lines, WHOLE_POUNDS),
        "grant_rate": RATE,
        "justifications": _lines_map(lines, TEXT),
    }
    if methodology is Methodology.FEC:
        properties["supervisor_cost"] = MONEY
    data = _object(
        ["title", "knowledge_base", "business", "methodology", "business_type", "start", "months", "budget"],
        properties,
    )
    # A virtual business cannot claim London weighting.
    data["not"] = {
        "required": ["virtual", "london"],
        "properties": {"virtual": {"const": True}, "london": {"const": True}},
    }
    return data


def _virement() -> dict[str, Any]:
    base = _object(
        ["kind", "from", "to", "amount", "minute"],
        {
            "kind": {"const": "virement"},
            "from": _enum(LINES),
            "to": _enum(LINES),
            "amount": POSITIVE_WHOLE_POUNDS,
            "minute": TEXT,
        },
    )
    # From one line to another: for each `from`, `to` is any other line.
    base["oneOf"] = [
        {"properties": {"from": {"const": line}, "to": _enum([other for other in LINES if other != line])}}
        for line in LINES
    ]
    return base


DECISIONS: list[dict[str, Any]] = [
    _virement(),
    _object(
        ["kind", "category", "limit", "justification", "approved_by"],
        {
            "kind": {"const": "approve_exceedance"},
            "category": _enum(LINES),
            "limit": POSITIVE_WHOLE_POUNDS,
            "justification": TEXT,
            "approved_by": TEXT,
        },
    ),
    _object(
        ["kind", "months"],
        {
            "kind": {"const": "extension"},
            "months": {"type": "integer", "minimum": 1},
            "costed": {"type": "boolean"},
        },
    ),
    _object(
        ["kind", "budget", "minute"],
        {
            "kind": {"const": "budget_revision"},
            "budget": _lines_map(LINES, WHOLE_POUNDS, at_least=1),
            "minute": TEXT,
        },
    ),
]


def _offer_amended() -> dict[str, Any]:
    """A correction of the offer (R-37): a reason and at least one of the offer's fields but its
    methodology; the lines are any methodology's (the server names those the project lacks)."""
    data = _object(
        ["reason"],
        {
            "reason": TEXT,
            "title": TEXT,
            "knowledge_base": TEXT,
            "business": TEXT,
            "business_type": _enum([kind.value for kind in BusinessType]),
            "virtual": {"type": "boolean"},
            "london": {"type": "boolean"},
            "start": DAY,
            "months": MONTHS,
            "budget": _lines_map(LINES, WHOLE_POUNDS, at_least=1),
            "justifications": _lines_map(LINES, TEXT, at_least=1),
            "supervisor_cost": MONEY,
            "grant_rate": RATE,
        },
    )
    data["minProperties"] = 2
    data["not"] = {
        "required": ["virtual", "london"],
        "properties": {"virtual": {"const": True}, "london": {"const": True}},
    }
    return data


# The first rule set's day, on or after which a grant offer must be dated: 2023-01-26.
OFFER_DAY: dict[str, Any] = {
    **DAY,
    "pattern": rf"^(2023-(01-(2[6-9]|3[01])|(0[2-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]))"
    rf"|20(2[4-9]|[3-9][0-9])-{MONTH_DAY})$",
    "description": f"a date, YYYY-MM-DD, from {RULE_SETS[0].in_force_from.isoformat()} (the first rule "
    f"set in force) to {LAST_DAY}",
}

DATA: dict[str, list[dict[str, Any]]] = {
    "GrantOffered": [_grant_offered(methodology) for methodology in Methodology],
    "LMCDecision": DECISIONS,
    "SpendClaimed": [
        _object(
            ["category", "amount", "description"],
            {
                "category": _enum(LINES),
                "amount": POSITIVE_MONEY,
                "description": TEXT,
                "tags": {"type": "array", "items": _enum(TAGS), "maxItems": len(TAGS)},
            },
        )
    ],
    "ClaimReversed": [
        _object(["claim", "reason"], {"claim": TEXT, "amount": POSITIVE_MONEY, "reason": TEXT})
    ],
    "ParentalLeaveCost": [
        _object(["amount", "description"], {"amount": POSITIVE_MONEY, "description": TEXT})
    ],
    # schema version 2 may name the grant claim it pays
    "GrantPayment": [
        _object(["amount"], {"amount": POSITIVE_MONEY, "claim": {"type": "integer", "minimum": 1}})
    ],
    "ProjectClosed": [{"type": "object", "maxProperties": 0}],
    "OfferAmended": [_offer_amended()],
    "ProjectReopened": [_object(["reason"], {"reason": TEXT})],
    # the business's invoices and payments
    "BusinessInvoiced": [
        _object(
            ["number", "quarter", "amount", "quarter_costs"],
            {
                "number": {**TEXT, "maxLength": 64},
                "quarter": QUARTER,
                "amount": MONEY,
                "quarter_costs": MONEY,
                "prior_period": MONEY,
                "prior_period_credit": MONEY,
                "offer_top_up": MONEY,
                "due": DAY,
            },
        )
    ],
    "BusinessPaymentReceived": [_object(["invoice", "amount"], {"invoice": TEXT, "amount": POSITIVE_MONEY})],
    "AlertAcknowledged": [
        _object(
            ["category", "kind", "raised_at_version", "note"],
            {
                "category": _enum([category.value for category in Category]),
                "kind": _enum(list(STORED_ALERT_KINDS)),
                "subject": {"type": "string", "maxLength": 200, "pattern": f"^[^{CONTROL_CHARACTERS}]*$"},
                "raised_at_version": {"type": "integer", "minimum": 1},
                "note": TEXT,
            },
        )
    ],
}


# --- spend profiles: a line's plan, by rule ---------------------------------------------------
_LINE_PROFILE: dict[str, Any] = {
    "oneOf": [
        _object(["rule"], {"rule": {"const": "even"}}),
        _object(
            ["rule", "quarters"],
            {
                "rule": {"const": "in_quarters"},
                "quarters": {"type": "array", "items": QUARTER, "minItems": 1, "uniqueItems": True},
            },
        ),
        _object(
            ["rule", "quarters"],
            {
                "rule": {"const": "amounts"},
                "quarters": {
                    "type": "object",
                    "propertyNames": QUARTER,
                    "additionalProperties": MONEY,
                    "minProperties": 1,
                },
            },
        ),
    ]
}
DATA["SpendProfileSet"] = [
    _object(["lines", "minute"], {"lines": _lines_map(LINES, _LINE_PROFILE, at_least=1), "minute": TEXT})
]


# --- grant claims: a quarter's claim, frozen as submitted -----------------------------------
SIGNED_MONEY: dict[str, Any] = {
    **MONEY,
    "pattern": r"^-?[0-9]{1,9}(\.[0-9]{1,2})?$",
    "description": "pounds, may be negative: ASCII digits, at most one '.' and two decimals",
}
_CLAIM_LINE = _object(
    ["actual", "forecast", "variance", "eligible", "grant"],
    {
        "actual": SIGNED_MONEY,
        "forecast": SIGNED_MONEY,
        "variance": SIGNED_MONEY,
        "eligible": SIGNED_MONEY,
        "grant": SIGNED_MONEY,
        "prior_period": SIGNED_MONEY,
        "narrative": TEXT,
    },
)
DATA["ClaimSubmitted"] = [
    _object(
        ["number", "quarter", "lines", "grant", "position", "version", "head_hash"],
        {
            "number": {"type": "integer", "minimum": 1},
            "quarter": QUARTER,
            "lines": _lines_map([category.value for category in Category], _CLAIM_LINE),
            "grant": SIGNED_MONEY,
            "position": {"type": "integer", "minimum": 1},
            "version": {"type": "integer", "minimum": 1},
            "head_hash": {"type": "string", "pattern": "^[0-9a-f]{1,128}$"},
        },
    )
]
# --- claim approvals: the monitoring officer's approval of a submitted claim ------------------
DATA["ClaimApproved"] = [
    _object(
        ["claim", "amount"],
        {
            "claim": {"type": "integer", "minimum": 1},
            "amount": {**MONEY, "description": "the grant approved: at most the grant claimed (R-46)"},
            "note": TEXT,
            "approved_by": TEXT,
        },
    )
]


def event_schema(event_type: str) -> dict[str, Any]:
    """One event of `event_type`: the envelope and its `data`."""
    shapes = DATA[event_type]
    data = shapes[0] if len(shapes) == 1 else {"oneOf": shapes}
    required = ["type", "project", "key", "date"] + ([] if event_type == "ProjectClosed" else ["data"])
    return {
        "title": event_type,
        **_object(
            required,
            {
                "type": {"const": event_type},
                "project": PROJECT_REF,
                "key": KEY,
                "date": OFFER_DAY if event_type == "GrantOffered" else DAY,
                "data": data,
            },
        ),
    }


EVENT_SCHEMA: dict[str, Any] = {
    "description": 'One event (docs/events.md), by its `type`; money as a string such as "184.20".',
    "oneOf": [event_schema(event_type) for event_type in DATA],
}

# Query and path parameters by name, wherever they appear.
PARAMETERS: dict[str, dict[str, Any]] = {
    "project": PROJECT_REF,
    "today": DAY,
    "as_of": DAY,
    "quarter": QUARTER,
    "format": _enum(["json", "csv", "xlsx", "html", "pdf"]),
    "methodology": _enum([methodology.value for methodology in Methodology]),
    "business_type": _enum([kind.value for kind in BusinessType]),
    "months": {
        "type": "string",
        "pattern": f"^([1-9]|[1-5][0-9]|{RULE_SETS[-1].max_months})$",
        "description": f"whole months, 1..{RULE_SETS[-1].max_months} (R-02)",
        "example": "24",
    },
    "salary": MONEY,
    "supervisor_cost": MONEY,
    "support_costs": MONEY,
    "estates": MONEY,
    "supervisor_fte": {**FRACTION, "default": "0.1"},
    "support_rate": {**FRACTION, "default": "0.5"},
    "grant_rate": FRACTION,
}
REQUIRED = {("/projects/{project}/claim-pack", "quarter")}
# Parameters whose schema differs on one path: the drill-down is written as JSON or CSV only.
PATH_PARAMETERS: dict[tuple[str, str], dict[str, Any]] = {
    ("/projects/{project}/transactions", "format"): _enum(["json", "csv"]),
    ("/projects/{project}/transactions", "category"): _enum([category.value for category in Category]),
    ("/projects/{project}/transactions", "from"): DAY,
    ("/projects/{project}/transactions", "to"): DAY,
    # alerts across projects (issue 16): kinds repeatable
    ("/alerts", "kind"): {"type": "array", "items": _enum([kind.value for kind in AlertKind])},
    ("/alerts/groups", "kind"): {"type": "array", "items": _enum([kind.value for kind in AlertKind])},
    # the portfolio: JSON, CSV or XLSX; statuses repeatable
    ("/portfolio", "format"): _enum(["json", "csv", "xlsx"]),
    ("/portfolio", "status"): {"type": "array", "items": _enum(["red", "amber", "green"])},
    ("/portfolio", "ending_within"): {
        "type": "string",
        "pattern": "^[0-9]{1,3}$",
        "description": "whole months, 0..999",
        "example": "6",
    },
}


def strict(document: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's OpenAPI `document` with every parameter's schema as strict as the server, and the
    events' schema (`#/components/schemas/Event`, which `POST /events` refers to)."""
    document = deepcopy(document)
    document.setdefault("components", {}).setdefault("schemas", {})["Event"] = deepcopy(EVENT_SCHEMA)
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                name = parameter.get("name")
                chosen = PATH_PARAMETERS.get((path, name)) or PARAMETERS.get(name)
                if parameter.get("in") in ("path", "query") and chosen is not None:
                    description = parameter.get("description") or parameter["schema"].get("description")
                    parameter["schema"] = deepcopy(chosen)
                    if description:
                        parameter["description"] = description
                if (path, name) in REQUIRED:
                    parameter["required"] = True
    return document
