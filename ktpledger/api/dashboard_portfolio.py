"""The KTP office's portfolio page (`GET /dashboard/portfolio`, issue 16 item 2): every project the
signed-in token may read, one row each, as `GET /portfolio` gives them (`service/portfolio.py`,
R-47), with the same filters as a plain GET form, sortable by column, with its totals, the CSV and
XLSX of the rows shown, and two charts (`api/portfolio_charts.py`).

The page formats; it never works a figure out: the rows, their totals, the sort and the
budget and spend by quarter are the service's.

The export links point at `GET /portfolio?format=csv|xlsx` with the page's filters: that route
reads the dashboard's cookie as every GET of the API does (`security.request_token`), so the file
is the API's own, the same rows in the service's order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from ktpledger.api import portfolio_charts
from ktpledger.api.dashboard import prefix, reading_day, render, to_login, viewer
from ktpledger.api.formatting import percent
from ktpledger.api.security import application
from ktpledger.bootstrap import App
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.health import Health, HealthReason
from ktpledger.domain.rules import BusinessType, Methodology
from ktpledger.service.access import Principal
from ktpledger.service.portfolio import (
    Portfolio,
    PortfolioRow,
    parse_filter,
    portfolio,
    portfolio_quarters,
    sort_rows,
)

router = APIRouter(include_in_schema=False)

# The table's sortable columns: (the `sort` value, the heading, a number column).
COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("project", "Project", False),
    ("status", "Status", False),
    ("budget", "Budget", True),
    ("spent", "Spent", True),
    ("spent_share", "% spent", True),
    ("elapsed", "% elapsed", True),
    ("forecast", "Forecast at end", True),
    ("grant_claimed", "Grant claimed", True),
    ("grant_paid", "Grant paid", True),
    ("next_deadline", "Next deadline", False),
)
FILTER_FIELDS = ("knowledge_base", "business_type", "methodology", "ending_within")
# Reasons about money already spent link to the transactions behind the line; the others (forecasts,
# pace) to the line's row on the project page.
SPEND_KINDS = frozenset(
    {"over_budget", "over_cap", "sub_limit", "ineligible_claim", "ahead_of_profile", "behind_profile"}
)


@dataclass(frozen=True)
class Chosen:
    """The page's query as given: the filters, the sort and the day (texts, checked later)."""

    statuses: tuple[str, ...]
    filters: dict[str, str]
    sort: str
    direction: str
    today: str
    page: str = ""

    @classmethod
    def of(cls, request: Request) -> Chosen:
        query = request.query_params
        return cls(
            statuses=tuple(query.getlist("status")),
            filters={name: query.get(name, "").strip() for name in FILTER_FIELDS},
            sort=query.get("sort", "").strip(),
            direction=query.get("dir", "").strip().lower(),
            today=query.get("today", "").strip(),
            page=query.get("page", "").strip(),
        )

    def page_number(self, pages: int) -> int:
        """The page asked for (1 when none), refused (R-47, `page`) unless a whole number from 1
        to `pages`."""
        if not self.page:
            return 1
        if not self.page.isdigit() or not 1 <= int(self.page) <= max(1, pages):
            raise RuleViolation(
                "R-47",
                f"page must be a whole number from 1 to {max(1, pages)}, got {self.page!r}",
                field="page",
            )
        return int(self.page)

    def status_chosen(self, status: str) -> bool:
        return any(status in given.lower().split(",") for given in self.statuses)

    def pairs(self, *, sort: bool = True) -> list[tuple[str, str]]:
        """The query to keep in links: the filters given, the day, and (with `sort`) the sort."""
        found = [("status", given) for given in self.statuses if given]
        found += [(name, value) for name, value in self.filters.items() if value]
        if self.today:
            found.append(("today", self.today))
        if sort and self.sort:
            found += [("sort", self.sort), ("dir", self.direction or "asc")]
        return found


# Rows of the table per page: a thousand projects' reasons make a page of megabytes. The totals, the
# charts and the downloads are of every row the filters keep, whatever the page.
PAGE_ROWS = 100


def query(pairs: list[tuple[str, str]]) -> str:
    return urlencode(pairs, quote_via=quote)


def sort_link(base: str, chosen: Chosen, column: str) -> str:
    """The header's link: sorted by `column` ascending, or descending when it is already sorted
    ascending by it; the filters kept."""
    direction = "desc" if chosen.sort == column and chosen.direction in ("", "asc") else "asc"
    pairs = [*chosen.pairs(sort=False), ("sort", column), ("dir", direction)]
    return f"{base}/dashboard/portfolio?{query(pairs)}"


def page_link(base: str, chosen: Chosen, page: int) -> str:
    """Another page of the table, the filters and the sort kept."""
    return f"{base}/dashboard/portfolio?{query([*chosen.pairs(), ('page', str(page))])}"


def reason_link(base: str, row: PortfolioRow, reason: HealthReason, day: str) -> str:
    """The figure behind a reason: the transactions of its line for spend already made, its line on
    the project page for the rest, the project page for a reason about the whole project."""
    project = f"{base}/dashboard/projects/{quote(row.project, safe='/')}"
    if reason.category and reason.kind in SPEND_KINDS:
        return f"{project}/transactions?category={quote(reason.category, safe='')}"
    anchor = f"#line-{reason.category}" if reason.category else ""
    return f"{project}{day}{anchor}"


def chosen_values(chosen: Chosen) -> dict[str, Any]:
    return {
        "statuses": [(status.value, chosen.status_chosen(status.value)) for status in Health],
        "business_types": [kind.value for kind in BusinessType],
        "methodologies": [kind.value for kind in Methodology],
        **chosen.filters,
    }


@router.get("/dashboard/portfolio")
def portfolio_page(
    request: Request, who: Principal | None = Depends(viewer), app: App = Depends(application)
) -> Response:
    if who is None:
        return to_login(request)
    chosen = Chosen.of(request)
    base = prefix(request)
    context: dict[str, Any] = {
        "who": who,
        "nav": "portfolio",
        "chosen": chosen_values(chosen),
        "columns": COLUMNS,
        "sorted_by": chosen.sort,
        "sorted_dir": "descending" if chosen.direction == "desc" else "ascending",
        "clear": f"{base}/dashboard/portfolio"
        + (f"?{query([('today', chosen.today)])}" if chosen.today else ""),
        "today": chosen.today,
        "percent": percent,
    }
    knowledge_bases: list[str] = []  # the readable projects', for the select (the error page's too)
    try:
        today = reading_day(request, app)
        everything = portfolio(app, who, today=today)
        knowledge_bases = sorted({row.knowledge_base for row in everything.projects if row.knowledge_base})
        only = parse_filter(
            list(chosen.statuses),
            chosen.filters["knowledge_base"] or None,
            chosen.filters["business_type"] or None,
            chosen.filters["methodology"] or None,
            chosen.filters["ending_within"] or None,
        )
        rows = tuple(row for row in everything.projects if only.admits(row, today))
        shown = Portfolio(as_of=today, projects=sort_rows(rows, chosen.sort, chosen.direction or "asc"))
        pages = -(-len(shown.projects) // PAGE_ROWS)
        page = chosen.page_number(pages)
    except RuleViolation as error:
        context.update(
            error={"field": error.field or "", "message": f"{error.rule}: {error.message}"},
            knowledge_bases=knowledge_bases,
            portfolio=None,
        )
        return render(request, "portfolio.html", context, status_code=422)
    day = f"?today={quote(chosen.today, safe='')}" if chosen.today else ""
    quarters = portfolio_quarters(shown)
    first = (page - 1) * PAGE_ROWS
    page_rows = shown.projects[first : first + PAGE_ROWS]
    context.update(
        error=None,
        portfolio=shown,
        page_rows=page_rows,
        paging={
            "page": page,
            "pages": pages,
            "first": first + 1,
            "last": first + len(page_rows),
            "previous": page_link(base, chosen, page - 1) if page > 1 else None,
            "next": page_link(base, chosen, page + 1) if page < pages else None,
        },
        totals=shown.totals(),
        knowledge_bases=knowledge_bases,
        sort_links={column: sort_link(base, chosen, column) for column, _, _ in COLUMNS},
        links={
            row.project: [reason_link(base, row, reason, day) for reason in row.health.reasons]
            for row in page_rows
        },
        day_query=day,
        export_csv=f"{base}/portfolio?{query([*chosen.pairs(sort=False), ('format', 'csv')])}",
        export_xlsx=f"{base}/portfolio?{query([*chosen.pairs(sort=False), ('format', 'xlsx')])}",
        quarters=quarters,
        quarters_chart=portfolio_charts.quarters_chart(quarters)
        + portfolio_charts.quarters_chart(quarters, narrow=True),
        scatter=portfolio_charts.pace_scatter(shown.projects)
        + portfolio_charts.pace_scatter(shown.projects, narrow=True),
    )
    return render(request, "portfolio.html", context)
