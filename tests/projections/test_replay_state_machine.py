"""A stateful property: however events arrive and wake-ups are lost, repeated or reordered, the
projections once caught up equal a fresh replay of the ledger (docs/cli.md `replay`, R-40, R-41).

The machine appends random valid events to a few projects (claims of every category with random
amounts and tags, partial and full reversals, virements and revisions that fit, approvals,
extensions, parental leave, payments, closures, offer amendments and reopenings, the business's
invoices and its payments, grant claims with their approvals (R-46) and payments). Each append goes
either through the app, whose
in-process wake-up catches the projection up at once, or through a second app on the same database
whose wake-up is lost (a crash after the commit), so the projection lags. Other steps redeliver
wake-ups any number of times in any order. The invariant compares every caught-up project with an
in-memory fold of its stream; teardown catches everything up and compares with `replay()`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from ktpledger.bootstrap import App, bootstrap
from ktpledger.domain.alerts import LINE_KINDS
from ktpledger.domain.allowances import allowances
from ktpledger.domain.claims import claim_worked
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.events import parse_event, quarter_span
from ktpledger.domain.live import LiveProject, appends
from ktpledger.domain.profile import period_quarters
from ktpledger.domain.project import ProjectState, add_months
from ktpledger.domain.rules import Category, LimitKind
from ktpledger.service.projections import allowance_json, comparable
from ktpledger.service.schema import upgrade
from ktpledger.settings import Settings

PROJECTS = ("KTP-A", "KTP-B", "KTP-C")
TAGS = {
    Category.ASSOCIATE_DEVELOPMENT: ["higher_degree_fee"],
    Category.TRAVEL_SUBSISTENCE: ["conference", "associate_travel", "academic_travel"],
    Category.CONSUMABLES: ["computer"],
}


OFFER = {
    "methodology": st.sampled_from(["fec", "non_fec"]),
    "business_type": st.sampled_from(["sme", "large", "not_for_profit", "public_sector"]),
    "where": st.sampled_from([(False, False), (True, False), (False, True)]),
    "months": st.integers(6, 36),
    "start_month": st.integers(0, 11),
    "crash": st.booleans(),
}


class LostWakeUp:
    """A wake-up that never arrives: the append commits, the projection is not told."""

    def projects_changed(self, projects: set[str]) -> None:
        pass


def pence(amount: int) -> str:
    return f"{Decimal(amount) / 100:.2f}"


def expected_alerts(project: str, stream: list[Any]) -> list[tuple[Any, ...]]:
    """The project's alerts as a replay derives them, in `comparable` form: append by append
    (events sharing `recorded_at`), with the figures now of the alerts left open."""
    live = LiveProject.new(project)
    rows: list[dict[str, Any]] = []
    open_rows: dict[Any, dict[str, Any]] = {}
    crossings: dict[tuple[str, str, str, int], dict[str, Any]] = {}
    for group in appends(stream):
        for step in live.apply_append(group):
            if not step.raised:
                row = open_rows.pop(step.key)
                row.update(
                    status="resolved",
                    resolved_at_version=step.version,
                    resolved_reason=step.reason,
                    resolved_on=str(step.on),
                )
                continue
            row = {
                "project": project,
                "category": step.key.category,
                "kind": step.key.kind,
                "detail": step.detail,
                "current": None,
                "status": "open",
                "raised_at_version": step.version,
                "resolved_at_version": None,
                "resolved_reason": None,
                "notified": not step.quiet,
                "raised_on": str(step.on),
                "resolved_on": None,
                "acknowledged": None,
            }
            rows.append(row)
            open_rows[step.key] = row
            crossings[(step.key.category, str(step.key.kind), step.key.subject, step.version)] = row
        for item in group:  # the first acknowledgement of an alert stands
            if item.type == "AlertAcknowledged":
                data = json.loads(item.data)
                named = (data["category"], data["kind"], data["subject"], data["raised_at_version"])
                if crossings[named]["acknowledged"] is None:
                    crossings[named]["acknowledged"] = {
                        "on": item.date.isoformat(),
                        "by": {"name": None, "role": None, "channel": None},
                        "note": data["note"],
                        "version": item.version,
                    }
    holding = live.conditions()
    for key, row in open_rows.items():
        if key.kind not in LINE_KINDS:  # the line kinds' figures now are read off the allowance line
            row["current"] = holding[key]
    return comparable(json.loads(json.dumps(rows)))


class ReplayMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.directory = tempfile.mkdtemp(prefix="ktp-replay-")
        config = Settings(database_url=f"sqlite:///{self.directory}/ledger.db")
        self.app: App = bootstrap(config)
        upgrade(self.app.database)
        self.crashing: App = bootstrap(config, wakeup=LostWakeUp())
        self.models: dict[str, ProjectState] = {}
        self.serial = 0

    # --- helpers ---------------------------------------------------------------------------------

    def key(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}-{self.serial}"

    def open_projects(self) -> list[str]:
        return sorted(p for p, state in self.models.items() if not state.closed)

    def append(self, raw: dict[str, Any], crash: bool) -> bool:
        """Append `raw` if the rules accept it (the model says so first); True when recorded."""
        model = self.models.setdefault(raw["project"], ProjectState(project=raw["project"]))
        try:
            event = parse_event(raw)
            model.check(event)
        except RuleViolation:
            if not model.exists:
                del self.models[event.project]
            return False
        target = self.crashing if crash else self.app
        [result] = target.ledger.append([raw])
        assert result.status == "recorded", result.to_json()
        assert result.version == model.version + 1
        model.apply(event, result.version)
        return True

    def draw_project(self, data: st.DataObject) -> str:
        return data.draw(st.sampled_from(self.open_projects()), label="project")

    def draw_day(self, data: st.DataObject, first: date, last: date) -> str:
        days = max(0, (last - first).days)
        return (first + timedelta(days=data.draw(st.integers(0, days), label="day"))).isoformat()

    def claimable(self, state: ProjectState) -> list[Category]:
        return [c for c in state.categories() if state.limit_kind(c) is not LimitKind.DERIVED]

    # --- rules -----------------------------------------------------------------------------------

    @initialize(data=st.data(), **OFFER)
    def first_offer(self, data: st.DataObject, **fields: Any) -> None:
        self.offer(data, **fields)

    @precondition(lambda self: len(self.models) < len(PROJECTS))
    @rule(data=st.data(), **OFFER)
    def another_offer(self, data: st.DataObject, **fields: Any) -> None:
        self.offer(data, **fields)

    def offer(
        self,
        data: st.DataObject,
        methodology: str,
        business_type: str,
        where: tuple[bool, bool],
        months: int,
        start_month: int,
        crash: bool,
    ) -> None:
        project = next(p for p in PROJECTS if p not in self.models)
        start = add_months(date(2024, 1, 1), start_month)

        def upto(annual: int) -> str:
            return str(data.draw(st.integers(0, annual * months // 12), label="budget"))

        budget = {
            "associate_employment": upto(50000),
            "associate_development": upto(1800),
            "travel_subsistence": upto(1200),
            "consumables": upto(1900),
        }
        if methodology == "fec":
            budget |= {
                "knowledge_base_supervisor": upto(9000),
                "associate_estates": str(data.draw(st.integers(0, 10000), label="estates")),
                "additional_associate_support": upto(20000),
            }
        else:
            budget["academic_secretarial_support"] = upto(15000)
        virtual, london = where
        raw = {
            "type": "GrantOffered",
            "project": project,
            "key": self.key("offer"),
            "date": (start - timedelta(days=20)).isoformat(),
            "data": {
                "title": "t",
                "knowledge_base": "kb",
                "business": "b",
                "methodology": methodology,
                "business_type": business_type,
                "virtual": virtual,
                "london": london,
                "start": start.isoformat(),
                "months": months,
                "budget": budget,
            },
        }
        assert self.append(raw, crash)

    @precondition(lambda self: self.open_projects())
    @rule(data=st.data(), crash=st.booleans(), count=st.integers(1, 4))
    def claims(self, data: st.DataObject, crash: bool, count: int) -> None:
        """A few claims on one project, of random categories, amounts, tags and dates."""
        project = self.draw_project(data)
        state = self.models[project]
        for _ in range(count):
            category = data.draw(st.sampled_from(self.claimable(state)), label="category")
            budget = state.budget.get(category, Decimal(0))
            top = max(5000, int(budget * 100))
            amount = data.draw(st.integers(1, top), label="pence")
            tags: list[str] = []
            if category in TAGS:
                tags = data.draw(st.lists(st.sampled_from(TAGS[category]), max_size=2, unique=True))
            raw = {
                "type": "SpendClaimed",
                "project": project,
                "key": self.key("claim"),
                "date": self.draw_day(data, state.start, state.end),
                "data": {
                    "category": category.value,
                    "amount": pence(amount),
                    "description": "d",
                    "tags": tags,
                },
            }
            assert self.append(raw, crash)

    @precondition(
        lambda self: any(
            c.outstanding > 0 for p in self.open_projects() for c in self.models[p].claims.values()
        )
    )
    @rule(data=st.data(), crash=st.booleans(), whole=st.booleans())
    def reverse(self, data: st.DataObject, crash: bool, whole: bool) -> None:
        candidates = [
            (p, c.key)
            for p in self.open_projects()
            for c in sorted(self.models[p].claims.values(), key=lambda c: c.version)
            if c.outstanding > 0
        ]
        project, key = data.draw(st.sampled_from(candidates), label="claim")
        claim = self.models[project].claims[key]
        body: dict[str, Any] = {"claim": key, "reason": "r"}
        if not whole:
            body["amount"] = pence(data.draw(st.integers(1, int(claim.outstanding * 100)), label="pence"))
        raw = {
            "type": "ClaimReversed",
            "project": project,
            "key": self.key("rev"),
            "date": self.draw_day(data, claim.date, claim.date + timedelta(days=40)),
            "data": body,
        }
        assert self.append(raw, crash)

    def decide(self, data: st.DataObject, project: str, body: dict[str, Any], crash: bool) -> bool:
        state = self.models[project]
        assert state.offer_date is not None
        raw = {
            "type": "LMCDecision",
            "project": project,
            "key": self.key("lmc"),
            "date": self.draw_day(data, state.offer_date, state.end + timedelta(days=30)),
            "data": body,
        }
        return self.append(raw, crash)

    @precondition(lambda self: self.open_projects())
    @rule(data=st.data(), crash=st.booleans())
    def virement(self, data: st.DataObject, crash: bool) -> None:
        project = self.draw_project(data)
        state = self.models[project]
        lines = self.claimable(state)
        giving = data.draw(st.sampled_from(lines), label="from")
        receiving = data.draw(st.sampled_from([c for c in lines if c is not giving]), label="to")
        room = int(state.budget[giving] - state.spent.get(giving, Decimal(0)))
        if room < 1:
            return
        amount = data.draw(st.integers(1, room), label="amount")
        body = {
            "kind": "virement",
            "from": giving.value,
            "to": receiving.value,
            "amount": str(amount),
            "minute": "m",
        }
        self.decide(data, project, body, crash)  # refused when it would break a maximum or a limit

    @precondition(lambda self: self.open_projects())
    @rule(data=st.data(), crash=st.booleans())
    def approve_and_revise(self, data: st.DataObject, crash: bool) -> None:
        project = self.draw_project(data)
        state = self.models[project]
        lines = self.claimable(state)
        standard = [c for c in lines if state.limit_kind(c) is LimitKind.STANDARD]
        if standard and data.draw(st.booleans(), label="approve first"):
            category = data.draw(st.sampled_from(standard), label="approve")
            limit = max(1, int(state.budget[category]) + data.draw(st.integers(0, 3000), label="raise"))
            body = {
                "kind": "approve_exceedance",
                "category": category.value,
                "limit": str(limit),
                "justification": "j",
                "approved_by": "pm",
            }
            self.decide(data, project, body, crash)
        named = data.draw(
            st.lists(st.sampled_from(lines), min_size=1, max_size=3, unique=True), label="lines"
        )
        revised = {
            c.value: str(int(state.budget[c]) + data.draw(st.integers(0, 3000), label="raise")) for c in named
        }
        self.decide(data, project, {"kind": "budget_revision", "budget": revised, "minute": "m"}, crash)

    @precondition(lambda self: self.open_projects())
    @rule(data=st.data(), crash=st.booleans(), months=st.integers(1, 6), costed=st.booleans())
    def extension(self, data: st.DataObject, crash: bool, months: int, costed: bool) -> None:
        project = self.draw_project(data)
        self.decide(data, project, {"kind": "extension", "months": months, "costed": costed}, crash)

    @precondition(lambda self: self.open_projects())
    @rule(data=st.data(), crash=st.booleans())
    def profile(self, data: st.DataObject, crash: bool) -> None:
        """A spend profile (R-43) of one or two lines: even, in named quarters, or amounts per
        quarter that sum to the line's budget (the last quarter named takes what is left)."""
        project = self.draw_project(data)
        state = self.models[project]
        quarters = period_quarters(state)
        lines = data.draw(
            st.lists(st.sampled_from(self.claimable(state)), min_size=1, max_size=2, unique=True),
            label="lines",
        )
        body: dict[str, Any] = {}
        for line in lines:
            rule = data.draw(st.sampled_from(["even", "in_quarters", "amounts"]), label="rule")
            named = data.draw(
                st.lists(st.sampled_from(quarters), min_size=1, max_size=4, unique=True), label="quarters"
            )
            if rule == "even":
                body[line.value] = {"rule": "even"}
            elif rule == "in_quarters":
                body[line.value] = {"rule": rule, "quarters": [str(q) for q in named]}
            else:
                left = int(state.budget[line] * 100)
                amounts = {}
                for quarter in named[:-1]:
                    amounts[str(quarter)] = pence(part := data.draw(st.integers(0, left), label="pence"))
                    left -= part
                amounts[str(named[-1])] = pence(left)
                body[line.value] = {"rule": rule, "quarters": amounts}
        raw = {
            "type": "SpendProfileSet",
            "project": project,
            "key": self.key("profile"),
            "date": self.draw_day(data, state.offer_date or state.start, state.end),
            "data": {"lines": body, "minute": "m"},
        }
        assert self.append(raw, crash)

    @precondition(lambda self: self.open_projects())
    @rule(data=st.data(), crash=st.booleans(), amount=st.integers(1, 500_000))
    def parental_leave(self, data: st.DataObject, crash: bool, amount: int) -> None:
        project = self.draw_project(data)
        state = self.models[project]
        raw = {
            "type": "ParentalLeaveCost",
            "project": project,
            "key": self.key("pl"),
            "date": self.draw_day(data, state.start, state.end),
            "data": {"amount": pence(amount), "description": "d"},
        }
        assert self.append(raw, crash)

    @precondition(lambda self: self.models)
    @rule(data=st.data(), crash=st.booleans(), amount=st.integers(1, 2_000_000))
    def payment(self, data: st.DataObject, crash: bool, amount: int) -> None:
        project = data.draw(st.sampled_from(sorted(self.models)), label="project")
        state = self.models[project]
        assert state.offer_date is not None
        raw = {
            "type": "GrantPayment",
            "project": project,
            "key": self.key("pay"),
            "date": self.draw_day(data, state.offer_date, state.end + timedelta(days=90)),
            "data": {"amount": pence(amount)},
        }
        assert self.append(raw, crash)

    # --- the business's invoices and payments (R-44) ---------------------------------------------

    @precondition(lambda self: self.open_projects())
    @rule(data=st.data(), crash=st.booleans(), costs=st.integers(0, 3_000_000), credit=st.integers(0, 10_000))
    def invoice(self, data: st.DataObject, crash: bool, costs: int, credit: int) -> None:
        """The next quarter's invoice, dated up to 60 days after the quarter's end (refused, as the
        model says, when that quarter is past the period)."""
        project = self.draw_project(data)
        state = self.models[project]
        quarter = state.next_invoice_quarter()
        _, _, end = quarter_span(quarter, rule="R-44")
        credit = min(credit, costs)
        raw = {
            "type": "BusinessInvoiced",
            "project": project,
            "key": self.key("invoice"),
            "date": self.draw_day(data, end + timedelta(days=1), end + timedelta(days=60)),
            "data": {
                "number": self.key("INV"),
                "quarter": quarter,
                "amount": pence(costs - credit),
                "quarter_costs": pence(costs),
                "prior_period_credit": pence(credit),
            },
        }
        self.append(raw, crash)

    @precondition(
        lambda self: any(i.outstanding > 0 for s in self.models.values() for i in s.invoices.values())
    )
    @rule(data=st.data(), crash=st.booleans(), share=st.integers(1, 100))
    def business_payment(self, data: st.DataObject, crash: bool, share: int) -> None:
        owed = sorted(
            (p, n) for p, s in self.models.items() for n, i in s.invoices.items() if i.outstanding > 0
        )
        project, number = data.draw(st.sampled_from(owed), label="invoice")
        invoice = self.models[project].invoices[number]
        amount = max(Decimal("0.01"), (invoice.outstanding * share / 100).quantize(Decimal("0.01")))
        raw = {
            "type": "BusinessPaymentReceived",
            "project": project,
            "key": self.key("bpay"),
            "date": self.draw_day(data, invoice.invoiced_on, invoice.invoiced_on + timedelta(days=90)),
            "data": {"invoice": number, "amount": f"{min(amount, invoice.outstanding):.2f}"},
        }
        assert self.append(raw, crash)

    # --- grant claims (R-45) ------------------------------------------------------------------------

    @precondition(lambda self: self.open_projects())
    @rule(data=st.data(), crash=st.booleans())
    def grant_claim(self, data: st.DataObject, crash: bool) -> None:
        """The next quarter's grant claim worked out from the ledger as it stands, every line
        narrated, dated up to 60 days after the quarter's end (refused, as the model says, when that
        quarter is past the period)."""
        project = self.draw_project(data)
        state = self.models[project]
        quarter = state.next_claim_quarter()
        _, _, end = quarter_span(quarter, rule="R-45")
        stream = self.app.ledger.stream(project)
        worked = claim_worked(project, ((item.event(), item.version, item.hash) for item in stream), quarter)
        worked = worked.with_narratives(dict.fromkeys(worked.lines, "as planned"))
        raw = {
            "type": "ClaimSubmitted",
            "project": project,
            "key": self.key("grant-claim"),
            "date": self.draw_day(data, end + timedelta(days=1), end + timedelta(days=60)),
            "data": worked.data(len(state.grant_claims) + 1, max(item.position for item in stream)),
        }
        # The model folds without hashes: it checks the claim against the ledger's head.
        state.head_hash = stream[-1].hash
        self.append(raw, crash)

    @precondition(
        lambda self: any(c.outstanding > 0 for s in self.models.values() for c in s.grant_claims.values())
    )
    @rule(data=st.data(), crash=st.booleans(), share=st.integers(1, 100))
    def claim_payment(self, data: st.DataObject, crash: bool, share: int) -> None:
        """A grant payment naming the claim it pays (GrantPayment schema version 2)."""
        owed = sorted(
            (p, n) for p, s in self.models.items() for n, c in s.grant_claims.items() if c.outstanding > 0
        )
        project, number = data.draw(st.sampled_from(owed), label="claim")
        paid = self.models[project].grant_claims[number]
        amount = max(Decimal("0.01"), (paid.outstanding * share / 100).quantize(Decimal("0.01")))
        raw = {
            "type": "GrantPayment",
            "project": project,
            "key": self.key("claim-pay"),
            "date": self.draw_day(data, paid.submitted_on, paid.submitted_on + timedelta(days=90)),
            "data": {"amount": f"{min(amount, paid.outstanding):.2f}", "claim": number},
        }
        assert self.append(raw, crash)

    # --- claim approvals (R-46) ---------------------------------------------------------------------

    @precondition(
        lambda self: any(
            c.approval is None and c.claim.grant >= c.paid
            for s in self.models.values()
            for c in s.grant_claims.values()
        )
    )
    @rule(data=st.data(), crash=st.booleans(), share=st.integers(0, 100))
    def claim_approval(self, data: st.DataObject, crash: bool, share: int) -> None:
        """The monitoring officer's approval of a claim not yet approved, from what is paid on it up
        to the grant it claimed (with a note when less), closed projects' too (R-36)."""
        open_claims = sorted(
            (p, n)
            for p, s in self.models.items()
            for n, c in s.grant_claims.items()
            if c.approval is None and c.claim.grant >= c.paid
        )
        project, number = data.draw(st.sampled_from(open_claims), label="claim")
        claimed = self.models[project].grant_claims[number]
        room = claimed.claim.grant - claimed.paid
        amount = claimed.paid + (room * share / 100).quantize(Decimal("0.01"))
        body: dict[str, Any] = {"claim": number, "amount": f"{min(amount, claimed.claim.grant):.2f}"}
        if amount < claimed.claim.grant:
            body["note"] = "evidence missing"
        raw = {
            "type": "ClaimApproved",
            "project": project,
            "key": self.key("claim-approval"),
            "date": self.draw_day(data, claimed.submitted_on, claimed.submitted_on + timedelta(days=60)),
            "data": body,
        }
        assert self.append(raw, crash)

    @precondition(lambda self: self.models)
    @rule(data=st.data(), crash=st.booleans())
    def acknowledge(self, data: st.DataObject, crash: bool) -> None:
        """Acknowledge an alert the project's projection shows (R-39), open or resolved, once."""
        project = data.draw(st.sampled_from(sorted(self.models)), label="project")
        self.app.projector.catch_up(project)  # the alert must be projected to be acknowledged
        alerts = [
            a for a in self.app.projector.alerts(project, include_resolved=True) if a["acknowledged"] is None
        ]
        if not alerts:
            return
        alert = data.draw(st.sampled_from(alerts), label="alert")
        state = self.models[project]
        assert state.offer_date is not None
        raw = {
            "type": "AlertAcknowledged",
            "project": project,
            "key": self.key("ack"),
            "date": self.draw_day(data, state.offer_date, state.end + timedelta(days=90)),
            "data": {
                "category": alert["category"],
                "kind": alert["kind"],
                "subject": alert["subject"],
                "raised_at_version": alert["raised_at_version"],
                "note": "seen",
            },
        }
        assert self.append(raw, crash)

    @precondition(lambda self: any(state.version >= 6 for state in self.models.values() if not state.closed))
    @rule(data=st.data(), crash=st.booleans())
    def close(self, data: st.DataObject, crash: bool) -> None:
        candidates = [p for p in self.open_projects() if self.models[p].version >= 6]
        project = data.draw(st.sampled_from(candidates), label="project")
        state = self.models[project]
        first = state.end - timedelta(days=30)
        if state.reopened_on is not None:  # a second closure is not dated before the reopening
            first = max(first, state.reopened_on)
        raw = {
            "type": "ProjectClosed",
            "project": project,
            "key": self.key("close"),
            "date": self.draw_day(data, first, max(first, state.end + timedelta(days=30))),
            "data": {},
        }
        assert self.append(raw, crash)

    @precondition(lambda self: any(state.closed for state in self.models.values()))
    @rule(data=st.data(), crash=st.booleans())
    def reopen(self, data: st.DataObject, crash: bool) -> None:
        candidates = sorted(p for p, state in self.models.items() if state.closed)
        project = data.draw(st.sampled_from(candidates), label="project")
        closed_on = self.models[project].closed_on
        assert closed_on is not None
        raw = {
            "type": "ProjectReopened",
            "project": project,
            "key": self.key("reopen"),
            "date": self.draw_day(data, closed_on, closed_on + timedelta(days=30)),
            "data": {"reason": "a late invoice"},
        }
        assert self.append(raw, crash)

    @precondition(lambda self: self.open_projects())
    @rule(data=st.data(), crash=st.booleans())
    def amend(self, data: st.DataObject, crash: bool) -> None:
        """A correction of the offer: its title, one line raised (justified when a standard), its
        start moved by up to 40 days, or its months; refused when it breaks R-37."""
        project = self.draw_project(data)
        state = self.models[project]
        assert state.offer is not None and state.offer_date is not None
        body: dict[str, Any] = {"reason": "r"}
        what = data.draw(st.sampled_from(["title", "line", "start", "months"]), label="amend")
        if what == "title":
            body["title"] = "corrected"
        elif what == "line":
            line = data.draw(st.sampled_from(self.claimable(state)), label="line")
            offered = int(state.original_budget.get(line, Decimal(0)))
            body["budget"] = {line.value: str(offered + data.draw(st.integers(0, 3000), label="raise"))}
            if state.limit_kind(line) is LimitKind.STANDARD:
                body["justifications"] = {line.value: "j"}
        elif what == "start":
            shift = data.draw(st.integers(-40, 40), label="shift")
            body["start"] = (state.start + timedelta(days=shift)).isoformat()
        else:
            body["months"] = state.offer.months + data.draw(st.integers(-2, 3), label="months")
        raw = {
            "type": "OfferAmended",
            "project": project,
            "key": self.key("amend"),
            "date": self.draw_day(data, state.offer_date, state.end + timedelta(days=30)),
            "data": body,
        }
        self.append(raw, crash)

    @precondition(lambda self: self.models)
    @rule(data=st.data())
    def redeliver(self, data: st.DataObject) -> None:
        """Wake-ups arrive again, in any order, any number of times (unknown projects too)."""
        names = data.draw(st.lists(st.sampled_from([*sorted(self.models), "KTP-NEVER"]), max_size=6))
        for name in names:
            self.app.projector.catch_up(name)

    # --- checks ----------------------------------------------------------------------------------

    def check_project(self, project: str) -> None:
        state = self.models[project]
        report = self.app.projector.allowances(project)
        assert report.version == state.version
        document = report.to_json()
        assert document["lines"] == [allowance_json(line) for line in allowances(state)]
        for found in document["lines"]:
            assert Decimal(found["eligible"]) + Decimal(found["ineligible"]) == Decimal(found["spent"])
        stream = self.app.ledger.stream(project)
        actual = comparable(self.app.projector.alerts(project, include_resolved=True))
        assert actual == expected_alerts(project, stream)

    @invariant()
    def caught_up_projects_match_a_fresh_fold(self) -> None:
        lagging = set(self.app.projector.lagging())
        for project in sorted(self.models):
            if project not in lagging:
                self.check_project(project)

    def teardown(self) -> None:
        try:
            if not self.models:
                return
            for project in sorted(self.models, reverse=True):
                self.app.projector.catch_up(project)
            assert self.app.projector.lagging() == []
            for project in sorted(self.models):
                self.check_project(project)
            incremental_lines = {p: self.app.projector.allowances(p).to_json() for p in self.models}
            incremental_alerts = comparable(self.app.projector.alerts(include_resolved=True))
            self.app.projector.replay()
            assert {p: self.app.projector.allowances(p).to_json() for p in self.models} == incremental_lines
            assert comparable(self.app.projector.alerts(include_resolved=True)) == incremental_alerts
            for report in incremental_lines.values():
                for found in report["lines"]:
                    assert Decimal(found["eligible"]) + Decimal(found["ineligible"]) == Decimal(
                        found["spent"]
                    )
        finally:
            self.app.close()
            self.crashing.close()
            shutil.rmtree(self.directory, ignore_errors=True)


ReplayMachine.TestCase.settings = settings(
    max_examples=15,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_replay_equals_the_incremental_projection = ReplayMachine.TestCase
