"""After a category the project cannot use, the refusal offers only the lines that project can
claim, and the nearest name (issue 10, C2). The expected texts are written out by hand from
docs/rules.md's table of cost categories: a fec project's seven lines, a non_fec project's five claimable
ones (its knowledge_base_overheads is derived, never claimed)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from ktpledger.api.app import create_app
from ktpledger.bootstrap import App
from ktpledger.service.access import create_token
from tests.ledger.factory import PROJECT, claim, decision, offer

NON_FEC = "KTP-0077"
FEC_LINES = (
    "associate_employment, associate_development, travel_subsistence, consumables, "
    "knowledge_base_supervisor, associate_estates, additional_associate_support"
)
NON_FEC_LINES = "associate_employment, academic_secretarial_support, associate_development, travel_subsistence, consumables"
OF_FEC_PROJECT = f"the lines of {PROJECT}, a fec project, are {FEC_LINES}"
OF_NON_FEC_PROJECT = f"the lines of {NON_FEC}, a non_fec project, are {NON_FEC_LINES}"


def sentence(text: str) -> str:
    """`text` as it goes after a question mark."""
    return text[:1].upper() + text[1:]


def non_fec_offer(**data: Any) -> dict[str, Any]:
    data.setdefault("budget", {"associate_employment": "50000", "academic_secretarial_support": "15000"})
    return offer(NON_FEC, methodology="non_fec", months=12, **data)


@pytest.fixture
def projects(app: App) -> App:
    results = app.ledger.append([offer(), non_fec_offer()])
    assert [result.status for result in results] == ["recorded", "recorded"]
    return app


def refusal(app: App, item: dict[str, Any]) -> tuple[str, str]:
    [result] = app.ledger.append([item])
    assert result.status == "rejected" and result.error is not None, result
    return result.error.rule, result.error.message


def test_a_misspelt_category_is_told_the_nearest_of_the_projects_own_lines(projects: App) -> None:
    assert refusal(projects, claim("c", category="travel_subsitence")) == (
        "R-01",
        f'unknown category "travel_subsitence"; did you mean travel_subsistence? {sentence(OF_FEC_PROJECT)}',
    )
    assert refusal(projects, claim("c", category="travel", project=NON_FEC)) == (
        "R-01",
        f'unknown category "travel"; did you mean travel_subsistence? {sentence(OF_NON_FEC_PROJECT)}',
    )


def test_a_name_near_no_line_is_offered_the_lines_alone(projects: App) -> None:
    assert refusal(projects, claim("c", category="telescopes")) == (
        "R-01",
        f'unknown category "telescopes"; {OF_FEC_PROJECT}',
    )
    # knowledge_base_supervisor is near, but a fec line: never offered to a non_fec project
    assert refusal(projects, claim("c", category="knowledg_base_supervisor", project=NON_FEC)) == (
        "R-01",
        f'unknown category "knowledg_base_supervisor"; {OF_NON_FEC_PROJECT}',
    )


def test_the_other_methodologys_line_is_refused_with_this_projects_lines(projects: App) -> None:
    assert refusal(projects, claim("c", category="academic_secretarial_support")) == (
        "R-33",
        'category "academic_secretarial_support" is a non_fec line and does not exist for a fec project; '
        + OF_FEC_PROJECT,
    )
    assert refusal(projects, claim("c", category="knowledge_base_supervisor", project=NON_FEC)) == (
        "R-33",
        'category "knowledge_base_supervisor" is a fec line and does not exist for a non_fec project; '
        + OF_NON_FEC_PROJECT,
    )


def test_the_derived_line_is_never_offered(projects: App) -> None:
    assert refusal(projects, claim("c", category="knowledge_base_overheads", project=NON_FEC)) == (
        "R-19",
        "knowledge_base_overheads is derived from other lines and cannot be claimed or vired; "
        + OF_NON_FEC_PROJECT,
    )
    virement = decision("v", project=NON_FEC, kind="virement", to="consumabls", amount="10", minute="LMC 3")
    virement["data"]["from"] = "travel_subsistence"
    assert refusal(projects, virement) == (
        "R-01",
        f'to names an unknown category "consumabls"; did you mean consumables? {sentence(OF_NON_FEC_PROJECT)}',
    )


def test_an_offer_is_offered_the_lines_of_its_own_methodology(app: App) -> None:
    item = non_fec_offer(budget={"associate_employment": "50000", "travel_subsistance": "500"})
    assert refusal(app, item) == (
        "R-01",
        (
            'budget names an unknown category "travel_subsistance"; did you mean travel_subsistence? '
            f"The lines of a non_fec project are {NON_FEC_LINES}"
        ),
    )
    item = offer(budget={"academic_secretarial_support": "15000"})
    assert refusal(app, item) == (
        "R-31",
        (
            'category "academic_secretarial_support" is a non_fec line and does not exist for a fec project; '
            f"the lines of a fec project are {FEC_LINES}"
        ),
    )


def test_an_offer_earlier_in_the_same_batch_counts(app: App) -> None:
    results = app.ledger.append([non_fec_offer(), claim("c", category="travle_subsistence", project=NON_FEC)])
    assert results[0].status == "recorded"
    assert results[1].error is not None
    assert results[1].error.message == (
        f'unknown category "travle_subsistence"; did you mean travel_subsistence? {sentence(OF_NON_FEC_PROJECT)}'
    )


def test_without_a_project_each_methodology_is_offered_its_own_lines(app: App) -> None:
    assert refusal(app, claim("c", category="consumable", project="KTP-NONE")) == (
        "R-01",
        (
            'unknown category "consumable"; did you mean consumables? The lines of a fec project are '
            f"{FEC_LINES}; of a non_fec project, {NON_FEC_LINES}"
        ),
    )


def test_the_http_api_gives_the_same_texts(projects: App) -> None:
    token = create_token(projects.database, "admin")
    with TestClient(create_app(projects), base_url="https://testserver") as client:
        response = client.post(
            "/events",
            json=claim("c", category="knowledge_base_overheads", project=NON_FEC),
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 422
    [result] = response.json()
    assert result["error"] == {
        "rule": "R-19",
        "message": "knowledge_base_overheads is derived from other lines and cannot be claimed or vired; "
        + OF_NON_FEC_PROJECT,
    }
