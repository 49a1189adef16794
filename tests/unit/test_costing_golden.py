"""The guidance's worked examples of docs/rules.md as golden tests, through the library and the CLI."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from typer.testing import CliRunner

from ktpledger.cli import app
from ktpledger.domain.costing import Costing, CostingRequest, cost_project
from ktpledger.domain.rules import BusinessType, Category, Methodology

D = Decimal
ON = date(2024, 6, 1)
MONEY = re.compile(r"^-?\d+\.\d{2}$")
RULE_ID = re.compile(r"R-\d\d")

# docs/rules.md, "The guidance's worked examples": (eligible, grant, business) for SME and large.
FEC_TABLE: dict[str, dict[str, tuple[int, int, int]]] = {
    "sme": {
        "associate_employment": (45000, 30150, 14850),
        "associate_development": (2000, 1340, 660),
        "travel_subsistence": (1250, 838, 413),
        "consumables": (2000, 1340, 660),
        "knowledge_base_supervisor": (8000, 5360, 2640),
        "associate_estates": (0, 0, 0),
        "additional_associate_support": (18000, 12060, 5940),
        "total": (76250, 51088, 25163),
    },
    "large": {
        "associate_employment": (45000, 22500, 22500),
        "associate_development": (2000, 1000, 1000),
        "travel_subsistence": (1250, 625, 625),
        "consumables": (2000, 1000, 1000),
        "knowledge_base_supervisor": (8000, 4000, 4000),
        "associate_estates": (0, 0, 0),
        "additional_associate_support": (18000, 9000, 9000),
        "total": (38125 * 2, 38125, 38125),
    },
}
NON_FEC_TABLE: dict[str, dict[str, tuple[int, int, int]]] = {
    "sme": {
        "associate_employment": (45000, 27000, 18000),
        "academic_secretarial_support": (15000, 9000, 6000),
        "associate_development": (2000, 1200, 800),
        "travel_subsistence": (1250, 750, 500),
        "consumables": (2000, 1200, 800),
        "subtotal": (65250, 39150, 26100),
        "knowledge_base_overheads": (16560, 16560, 0),
        "total": (81810, 55710, 26100),
    },
    "large": {
        "associate_employment": (45000, 22500, 22500),
        "academic_secretarial_support": (15000, 7500, 7500),
        "associate_development": (2000, 1000, 1000),
        "travel_subsistence": (1250, 625, 625),
        "consumables": (2000, 1000, 1000),
        "subtotal": (65250, 32625, 32625),
        "knowledge_base_overheads": (13800, 13800, 0),
        "total": (79050, 46425, 32625),
    },
}
TABLES = {"fec": FEC_TABLE, "non_fec": NON_FEC_TABLE}
CASES = [(m, b) for m in ("fec", "non_fec") for b in ("sme", "large")]
RATES = {
    ("fec", "sme"): "0.67",
    ("fec", "large"): "0.50",
    ("non_fec", "sme"): "0.60",
    ("non_fec", "large"): "0.50",
}


def expected_lines(methodology: str, business_type: str) -> list[tuple[str, tuple[int, int, int]]]:
    """The table's cost lines in order (no subtotal, no total)."""
    return [
        (name, row)
        for name, row in TABLES[methodology][business_type].items()
        if name not in ("subtotal", "total")
    ]


def golden_request(methodology: str, business_type: str) -> CostingRequest:
    if methodology == "fec":
        return CostingRequest(
            Methodology.FEC,
            BusinessType(business_type),
            12,
            D(45000),
            supervisor_cost=D(80000),
            support_costs=D(36000),
        )
    return CostingRequest(Methodology.NON_FEC, BusinessType(business_type), 12, D(45000))


def golden_args(methodology: str, business_type: str) -> list[str]:
    args = [
        "--methodology",
        methodology,
        "--business-type",
        business_type,
        "--months",
        "12",
        "--salary",
        "45000",
    ]
    if methodology == "fec":
        args += ["--supervisor-cost", "80000", "--support-costs", "36000", "--support-rate", "0.5"]
    return args


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, ["costing", *args])


def costing_json(*args: str) -> dict[str, Any]:
    result = invoke(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert isinstance(document, dict)
    return document


def money(text: str) -> Decimal:
    assert isinstance(text, str), text
    assert MONEY.match(text), f"{text!r} is not money with exactly 2 decimals"
    return D(text)


def line_of(costing: Costing, category: str) -> Any:
    return next(line for line in costing.lines if line.category.value == category)


# --- through the library --------------------------------------------------------------------


@pytest.mark.parametrize(("methodology", "business_type"), CASES)
def test_golden_table_through_cost_project(methodology: str, business_type: str) -> None:
    costing = cost_project(golden_request(methodology, business_type), on=ON)
    expected = expected_lines(methodology, business_type)
    assert [line.category.value for line in costing.lines] == [name for name, _ in expected]
    for line, (name, (eligible, grant, business)) in zip(costing.lines, expected, strict=True):
        assert (line.eligible, line.grant, line.business) == (D(eligible), D(grant), D(business)), name
        assert line.cut == 0, name
    total = TABLES[methodology][business_type]["total"]
    assert (costing.eligible, costing.grant, costing.business) == tuple(D(v) for v in total)
    assert costing.grant_rate == D(RATES[(methodology, business_type)])


@pytest.mark.parametrize("business_type", ["sme", "large"])
def test_golden_non_fec_subtotal_through_cost_project(business_type: str) -> None:
    costing = cost_project(golden_request("non_fec", business_type), on=ON)
    before = [line for line in costing.lines if line.category is not Category.KNOWLEDGE_BASE_OVERHEADS]
    subtotal = (
        sum(line.eligible for line in before),
        sum(line.grant for line in before),
        sum(line.business for line in before),
    )
    assert subtotal == tuple(D(v) for v in NON_FEC_TABLE[business_type]["subtotal"])


def test_golden_table_totals_are_sums_of_its_lines() -> None:
    """A check of the transcription of docs/rules.md itself."""
    for methodology, business_type in CASES:
        lines = [row for _, row in expected_lines(methodology, business_type)]
        total = TABLES[methodology][business_type]["total"]
        assert tuple(sum(column) for column in zip(*lines, strict=True)) == total


# --- through the CLI ------------------------------------------------------------------------


@pytest.mark.parametrize(("methodology", "business_type"), CASES)
def test_golden_table_through_the_cli(methodology: str, business_type: str) -> None:
    document = costing_json(*golden_args(methodology, business_type))
    assert document["methodology"] == methodology
    assert document["business_type"] == business_type
    assert document["months"] == 12
    assert D(document["grant_rate"]) == D(RATES[(methodology, business_type)])
    expected = expected_lines(methodology, business_type)
    assert [line["category"] for line in document["lines"]] == [name for name, _ in expected]
    for line, (name, (eligible, grant, business)) in zip(document["lines"], expected, strict=True):
        got = (money(line["eligible"]), money(line["grant"]), money(line["business"]))
        assert got == (D(eligible), D(grant), D(business)), name
    total = TABLES[methodology][business_type]["total"]
    totals = document["totals"]
    assert (money(totals["eligible"]), money(totals["grant"]), money(totals["business"])) == tuple(
        D(v) for v in total
    )


@pytest.mark.parametrize(("methodology", "business_type"), CASES)
def test_cli_json_money_has_exactly_two_decimals(methodology: str, business_type: str) -> None:
    document = costing_json(*golden_args(methodology, business_type))
    for line in document["lines"]:
        for key in ("eligible", "grant", "business", "requested", "cut"):
            money(line[key])
        if line.get("limit") is not None:
            money(line["limit"])
    for key in ("eligible", "grant", "business"):
        money(document["totals"][key])
    assert cli_line(document, "travel_subsistence")["eligible"] == "1250.00"


@pytest.mark.parametrize(("methodology", "business_type"), CASES)
def test_cli_agrees_with_the_library(methodology: str, business_type: str) -> None:
    costing = cost_project(golden_request(methodology, business_type))
    document = costing_json(*golden_args(methodology, business_type))
    for line, shown in zip(costing.lines, document["lines"], strict=True):
        assert shown["category"] == line.category.value
        assert money(shown["eligible"]) == line.eligible
        assert money(shown["grant"]) == line.grant
        assert money(shown["business"]) == line.business


def test_cli_default_format_is_a_table_with_the_golden_figures() -> None:
    result = invoke(*golden_args("fec", "sme"))
    assert result.exit_code == 0, result.output
    assert "51,088" in result.stdout
    assert "25,163" in result.stdout
    assert "76,250" in result.stdout


# --- cuts at a maximum ----------------------------------------------------------------------


def cli_line(document: dict[str, Any], category: str) -> dict[str, Any]:
    return next(line for line in document["lines"] if line["category"] == category)


@pytest.mark.parametrize(
    ("london", "eligible", "cut"),
    [(False, 55000, 15000), (True, 58000, 12000)],
)
def test_salary_above_the_maximum_is_cut(london: bool, eligible: int, cut: int) -> None:
    request = CostingRequest(Methodology.FEC, BusinessType.SME, 12, D(70000), london=london)
    line = line_of(cost_project(request, on=ON), "associate_employment")
    assert line.requested == D(70000)
    assert line.eligible == D(eligible)
    assert line.cut == D(cut)
    assert line.limit == D(eligible)
    assert "R-10" in line.note

    args = ["--methodology", "fec", "--business-type", "sme", "--months", "12", "--salary", "70000"]
    document = costing_json(*args, *(["--london"] if london else []))
    shown = cli_line(document, "associate_employment")
    assert money(shown["requested"]) == D(70000)
    assert money(shown["eligible"]) == D(eligible)
    assert money(shown["cut"]) == D(cut)
    assert money(shown["limit"]) == D(eligible)
    assert money(shown["grant"]) == D(eligible) * D("0.67")
    assert "R-10" in shown["note"]


def test_salary_above_a_pro_rata_maximum_is_cut_to_the_rounded_down_maximum() -> None:
    document = costing_json(
        "--methodology", "non_fec", "--business-type", "large", "--months", "7", "--salary", "70000"
    )
    shown = cli_line(document, "associate_employment")
    assert money(shown["requested"]) == D(40833)  # 70,000 x 7 / 12 = 40,833.33
    assert money(shown["eligible"]) == D(32083)  # 55,000 x 7 / 12 = 32,083.33, down
    assert money(shown["cut"]) == D(8750)
    # overheads follow the cut line: 46% x (16,042 + 4,375) = 9,391.82
    assert money(cli_line(document, "associate_employment")["grant"]) == D(16042)
    assert money(cli_line(document, "academic_secretarial_support")["eligible"]) == D(8750)
    assert money(cli_line(document, "knowledge_base_overheads")["eligible"]) == D(9392)


def test_estates_above_the_maximum_is_cut() -> None:
    request = CostingRequest(Methodology.FEC, BusinessType.SME, 12, D(45000), estates=D(12000))
    line = line_of(cost_project(request, on=ON), "associate_estates")
    assert (line.requested, line.eligible, line.cut) == (D(12000), D(10000), D(2000))
    assert "R-17" in line.note

    args = ["--methodology", "fec", "--business-type", "sme", "--months", "12", "--salary", "45000"]
    document = costing_json(*args, "--estates", "12000")
    shown = cli_line(document, "associate_estates")
    assert money(shown["requested"]) == D(12000)
    assert money(shown["eligible"]) == D(10000)
    assert money(shown["cut"]) == D(2000)
    assert (money(shown["grant"]), money(shown["business"])) == (D(6700), D(3300))
    assert money(document["totals"]["eligible"]) == D(45000 + 2000 + 1250 + 2000 + 10000)


def test_line_within_its_maximum_is_not_cut() -> None:
    args = ["--methodology", "fec", "--business-type", "sme", "--months", "12", "--salary", "55000"]
    document = costing_json(*args, "--estates", "10000")
    for category in ("associate_employment", "associate_estates"):
        assert cli_line(document, category)["cut"] == "0.00"
        assert "note" not in cli_line(document, category)


def test_table_shows_the_cut() -> None:
    result = invoke("--methodology", "fec", "--business-type", "sme", "--months", "12", "--salary", "70000")
    assert result.exit_code == 0, result.output
    row = next(r for r in result.stdout.splitlines() if r.startswith("associate_employment"))
    assert "55,000" in row
    assert "cut 15,000" in row
    assert "R-10" in row


# --- refusals ------------------------------------------------------------------------------


BASE = ["--methodology", "fec", "--business-type", "sme", "--months", "12", "--salary", "45000"]


def with_option(option: str, value: str) -> list[str]:
    args = list(BASE)
    args[args.index(option) + 1] = value
    return args


@pytest.mark.parametrize("output", [[], ["--format", "json"], ["--format", "table"]])
def test_cli_virtual_and_london_exit_1_with_r11(output: list[str]) -> None:
    result = invoke(*BASE, "--virtual", "--london", *output)
    assert result.exit_code == 1
    assert "R-11" in result.output
    assert "R-11" in result.stderr


def test_cli_virtual_and_london_json_error_document() -> None:
    result = invoke(*BASE, "--virtual", "--london", "--format", "json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["error"]["rule"] == "R-11"
    assert document["error"]["message"]


def test_cli_virtual_alone_is_accepted() -> None:
    document = costing_json(*BASE, "--virtual")
    assert document["totals"]["eligible"] == "50250.00"


@pytest.mark.parametrize(
    ("option", "value", "rule"),
    [
        ("--methodology", "full", "R-01"),
        ("--methodology", "FEC", "R-01"),
        ("--business-type", "charity", "R-03"),
        ("--months", "0", "R-02"),
        ("--months", "61", "R-02"),
        ("--months", "x", "R-02"),
        ("--months", "1.5", "R-02"),
        ("--months", "-3", "R-02"),
        ("--salary", "-1", "R-22"),
        ("--salary", "abc", "R-22"),
        ("--salary", "1.234", "R-22"),
        ("--salary", "NaN", "R-22"),
        ("--salary", "", "R-22"),
    ],
)
@pytest.mark.parametrize("output", [[], ["--format", "json"]])
def test_cli_bad_input_exits_1_naming_a_rule(option: str, value: str, rule: str, output: list[str]) -> None:
    result = invoke(*with_option(option, value), *output)
    assert result.exit_code == 1, result.output
    assert RULE_ID.search(result.output)
    assert rule in result.output
    if output:
        assert json.loads(result.stdout)["error"]["rule"] == rule


def test_cli_unknown_names_list_the_accepted_ones() -> None:
    result = invoke(*with_option("--methodology", "full"))
    assert "fec" in result.output
    assert "non_fec" in result.output
    result = invoke(*with_option("--business-type", "charity"))
    for name in ("sme", "large", "not_for_profit", "public_sector"):
        assert name in result.output


@pytest.mark.parametrize(
    ("args", "rule"),
    [
        (["--estates", "-5"], "R-22"),
        (["--supervisor-cost", "abc"], "R-22"),
        (["--support-costs", "1.001"], "R-22"),
        (["--supervisor-fte", "2"], "R-16"),
        (["--support-rate", "x"], "R-01"),
        (["--grant-rate", "1.2"], "R-03"),
    ],
)
def test_cli_other_bad_amounts_exit_1_naming_a_rule(args: list[str], rule: str) -> None:
    result = invoke(*BASE, *args)
    assert result.exit_code == 1, result.output
    assert rule in result.output


@pytest.mark.parametrize(
    "args",
    [
        [*BASE, "--bogus"],
        [*BASE, "--format", "xml"],
        BASE[2:],  # --methodology missing
        [*BASE, "--london=yes"],
    ],
)
def test_cli_usage_errors_exit_2(args: list[str]) -> None:
    result = invoke(*args)
    assert result.exit_code == 2, result.output


def test_cli_non_fec_refuses_fec_only_options() -> None:
    result = invoke(*with_option("--methodology", "non_fec"), "--supervisor-cost", "80000")
    assert result.exit_code == 1
    assert "R-16" in result.output


# --- the table ------------------------------------------------------------------------------


def table_columns(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """The table's rows and the column spans read off the dashes under the header."""
    lines = text.splitlines()
    rule_index = next(i for i, line in enumerate(lines) if re.fullmatch(r"-+( +-+)*", line))
    spans = [(m.start(), m.end()) for m in re.finditer(r"-+", lines[rule_index])]
    return lines[rule_index - 1 :], spans


@pytest.mark.parametrize(("methodology", "business_type"), CASES)
def test_table_columns_are_aligned_with_thousands_separators(methodology: str, business_type: str) -> None:
    result = invoke(*golden_args(methodology, business_type), "--format", "table")
    assert result.exit_code == 0, result.output
    rows, spans = table_columns(result.stdout)
    header, body = rows[0], rows[2:]
    assert header.split()[0] == "line"
    assert "eligible" in header
    table = TABLES[methodology][business_type]
    assert len(body) == len(table)
    seen = {}
    for row in body:
        name = row[spans[0][0] : spans[0][1]].strip()
        cells = []
        for start, end in spans[1:4]:
            cell = row[start:end]
            # numbers are right-aligned: the cell ends with a digit at the column's right edge
            assert cell[-1:].isdigit(), (row, cell)
            assert re.fullmatch(r" *\d{1,3}(,\d{3})*", cell), (row, cell)
            cells.append(int(cell.strip().replace(",", "")))
        seen[name] = tuple(cells)
    assert seen == table
    # thousands separators, e.g. "51,088" for the fec SME grant total
    total_grant = f"{table['total'][1]:,}"
    assert total_grant in result.stdout


def test_table_fec_sme_shows_51088() -> None:
    result = invoke(*golden_args("fec", "sme"), "--format", "table")
    total = next(r for r in result.stdout.splitlines() if r.startswith("total"))
    assert total.split() == ["total", "76,250", "51,088", "25,163"]


@pytest.mark.parametrize("business_type", ["sme", "large"])
def test_table_non_fec_has_a_subtotal_row_before_overheads(business_type: str) -> None:
    result = invoke(*golden_args("non_fec", business_type))
    assert result.exit_code == 0, result.output
    names = [r.split()[0] for r in result.stdout.splitlines() if r and r[0].isalpha()]
    assert "subtotal" in names
    assert names.index("subtotal") == names.index("knowledge_base_overheads") - 1
    assert names.index("subtotal") == names.index("consumables") + 1
    subtotal = next(r for r in result.stdout.splitlines() if r.startswith("subtotal"))
    expected = NON_FEC_TABLE[business_type]["subtotal"]
    assert subtotal.split() == ["subtotal", *(f"{v:,}" for v in expected)]


def test_table_fec_has_no_subtotal_row() -> None:
    result = invoke(*golden_args("fec", "sme"))
    assert not any(r.startswith("subtotal") for r in result.stdout.splitlines())
