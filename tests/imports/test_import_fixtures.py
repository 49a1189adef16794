"""`ktpledger import` of the three finance-system fixtures (tests/imports/fixtures), on SQLite and
PostgreSQL: every row's fate, the totals (worked by hand below), idempotency, identical rows,
credits, dry run == real run, --skip-rejected, the errors file's round trip, and the allowances.

The project is the factory's KTP-0042: fec, 2024-10-01 for 24 months (to 2026-09-30)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

# The SAP fixture's texts hold en dashes (Windows-1252 0x96), written \u2013 here.
from tests.imports.helpers import fates, fixture, import_json, keys, prepared, run, spent

AGRESSO_JAN = [
    (4, "INV-1001", "SpendClaimed"),
    (5, "INV-1002", "SpendClaimed"),
    (6, "INV-1003", "SpendClaimed"),
    (7, "INV-1004", "SpendClaimed"),
]
PAPER = "agresso:5010:#"  # the two identical "Printer paper" rows: no reference, so a content hash


@pytest.fixture
def url(database_url: str, tmp_path: Path) -> str:
    return prepared(database_url, tmp_path)


def test_agresso_dry_run_every_row_and_the_totals(url: str) -> None:
    code, plan, _ = import_json(url, fixture("agresso_2025_01.csv"), fixture("agresso.toml"), "--dry-run")
    assert code == 0
    assert plan["dry_run"] is True and plan["recorded_anything"] is False
    rows = fates(plan)
    assert rows[:4] == [
        (
            row,
            "would record",
            f"agresso:{'5010' if ref in ('INV-1001', 'INV-1004') else '6020' if ref == 'INV-1002' else '6030'}:{ref}:1",
            kind,
        )
        for row, ref, kind in AGRESSO_JAN
    ]
    # Lines 8 and 9 are the same purchase twice: both kept, as occurrences 1 and 2 of one basis.
    (r8, s8, k8, t8), (r9, s9, k9, t9) = rows[4], rows[5]
    assert (r8, s8, t8, r9, s9, t9) == (8, "would record", "SpendClaimed", 9, "would record", "SpendClaimed")
    assert k8 is not None and k9 is not None
    assert k8.startswith(PAPER) and k8.endswith(":1") and k9 == k8[:-1] + "2"
    assert rows[6:] == [
        (10, "would record", "agresso:5010:CN-2001:1", "ClaimReversed"),
        (11, "would record", "agresso:6020:CN-2002:1", "ClaimReversed"),
        (12, "skipped", None, None),
        (13, "skipped", None, None),
    ]
    by_row = {row["row"]: row for row in plan["rows"]}
    # CN-2001 names INV-1001 in Orig Ref: a partial reversal of 200.00 of its 1,200.00.
    assert by_row[10]["event"]["data"] == {
        "claim": "agresso:5010:INV-1001:1",
        "amount": "200.00",
        "reason": "Credit note - pipettes returned",
    }
    # CN-2002 names nothing: the one claim of cost code 6020 with 84.50 outstanding is INV-1002.
    assert by_row[11]["event"]["data"]["claim"] == "agresso:6020:INV-1002:1"
    assert by_row[12]["reason"] == "blank row"
    assert by_row[13]["reason"] == "skip[1]: the export's totals row"
    assert by_row[4]["source"]["Amount"] == "1,200.00"
    assert by_row[7]["event"]["data"]["tags"] == ["computer"]
    assert by_row[6]["event"]["data"]["tags"] == ["conference"]
    assert plan["counts"] == {"would record": 8, "skipped": 2}
    # consumables: 1,200.00 + 1,399.99 + 12.00 + 12.00 = 2,623.99 claimed, 200.00 reversed, 2,423.99 net
    # travel: 84.50 (train) + 1,050.00 (conference) = 1,134.50 claimed, 84.50 reversed, 1,050.00 net
    assert plan["categories"] == [
        {"category": "travel_subsistence", "claimed": "1134.50", "reversed": "84.50", "net": "1050.00"},
        {"category": "consumables", "claimed": "2623.99", "reversed": "200.00", "net": "2423.99"},
    ]
    assert plan["parental_leave"] == "0.00" and plan["grant_payments"] == "0.00"
    assert keys(url) == ["offer"]  # a dry run records nothing


def test_a_real_run_records_exactly_what_the_dry_run_showed(url: str) -> None:
    export, profile = fixture("agresso_2025_01.csv"), fixture("agresso.toml")
    _, preview, _ = import_json(url, export, profile, "--dry-run")
    code, done, _ = import_json(url, export, profile)
    assert code == 0 and done["dry_run"] is False and done["recorded_anything"] is True
    expected = [
        (row, "recorded" if status == "would record" else status, key, kind)
        for row, status, key, kind in fates(preview)
    ]
    assert fates(done) == expected
    assert [row["event"] for row in done["rows"]] == [row["event"] for row in preview["rows"]]
    assert done["categories"] == preview["categories"]
    assert keys(url) == ["offer"] + [key for _, status, key, _ in fates(preview) if status == "would record"]
    # allowances show exactly the imported claims less the reversals
    lines = spent(url)
    assert lines["consumables"] == "2423.99"
    assert lines["travel_subsistence"] == "1050.00"
    assert lines["associate_employment"] == "0.00"


def test_the_same_file_twice_is_all_duplicate_and_an_overlapping_one_records_only_the_new(url: str) -> None:
    profile = fixture("agresso.toml")
    assert import_json(url, fixture("agresso_2025_01.csv"), profile)[0] == 0
    before = keys(url)
    code, again, _ = import_json(url, fixture("agresso_2025_01.csv"), profile)
    assert code == 0 and again["recorded_anything"] is False
    assert again["counts"] == {"duplicate": 8, "skipped": 2}
    assert again["categories"] == []
    assert keys(url) == before
    # January again plus February: January's 8 are duplicates, February's 2 are new.
    code, both, _ = import_json(url, fixture("agresso_2025_01_02.csv"), profile)
    assert code == 0
    assert both["counts"] == {"recorded": 2, "duplicate": 8, "skipped": 2}
    new = [(row, key) for row, status, key, _ in fates(both) if status == "recorded"]
    assert new == [(12, "agresso:5010:INV-1005:1"), (13, "agresso:5010:CN-2003:1")]
    # February adds 450.00 of reagents less a 50.00 credit on them: consumables 2,423.99 + 400.00
    assert both["categories"] == [
        {"category": "consumables", "claimed": "450.00", "reversed": "50.00", "net": "400.00"}
    ]
    assert keys(url) == [*before, "agresso:5010:INV-1005:1", "agresso:5010:CN-2003:1"]
    assert spent(url)["consumables"] == "2823.99"


def test_sap_semicolons_windows_1252_decimal_commas_and_trailing_minus(url: str) -> None:
    code, plan, _ = import_json(url, fixture("sap_fbl3n_2025_02.csv"), fixture("sap.toml"), "--dry-run")
    assert code == 1  # row 7's cost code is not mapped
    assert fates(plan) == [
        (2, "would record", "sap:400100:5100000123:1", "SpendClaimed"),
        (3, "would record", "sap:416000:5100000124:1", "SpendClaimed"),
        (4, "would record", "sap:476000:5100000125:1", "SpendClaimed"),
        (5, "would record", "sap:416000:5100000126:1", "ClaimReversed"),
        (6, "would record", "sap:400100:5100000127:1", "ParentalLeaveCost"),
        (7, "rejected", None, None),
        (8, "skipped", None, None),
    ]
    by_row = {row["row"]: row for row in plan["rows"]}
    assert by_row[2]["event"]["data"]["amount"] == "3750.00"  # 3.750,00
    assert by_row[3]["event"]["data"]["description"] == "Café meeting with supervisor \u2013 subsistence"
    assert by_row[4]["event"]["data"]["tags"] == ["higher_degree_fee"]
    # 15,00- is a credit; the one claim of 416000 with 15.00 outstanding is the café's 23.40
    assert by_row[5]["event"]["data"] == {
        "claim": "sap:416000:5100000124:1",
        "amount": "15.00",
        "reason": "Hotel Manchester \u2013 refund £15",
    }
    assert by_row[7]["error"]["rule"] == "R-33"
    assert '"999999"' in by_row[7]["error"]["message"] and "[cost_codes]" in by_row[7]["error"]["message"]
    assert by_row[8]["reason"] == "zero amount: nothing to record"
    assert plan["counts"] == {"would record": 5, "rejected": 1, "skipped": 1}
    # associate_employment 3,750.00; associate_development 650.00; travel 23.40 - 15.00 = 8.40
    assert plan["categories"] == [
        {"category": "associate_employment", "claimed": "3750.00", "reversed": "0.00", "net": "3750.00"},
        {"category": "associate_development", "claimed": "650.00", "reversed": "0.00", "net": "650.00"},
        {"category": "travel_subsistence", "claimed": "23.40", "reversed": "15.00", "net": "8.40"},
    ]
    assert plan["parental_leave"] == "1200.00"


def test_a_rejected_row_stops_the_real_run_unless_skip_rejected_and_the_errors_file_round_trips(
    url: str, tmp_path: Path
) -> None:
    export = tmp_path / "sap_fbl3n_2025_02.csv"
    shutil.copy(fixture("sap_fbl3n_2025_02.csv"), export)
    profile = fixture("sap.toml")
    code, plan, err = import_json(url, export, profile)
    assert code == 1 and plan["recorded_anything"] is False
    assert "nothing was recorded" in err
    assert keys(url) == ["offer"]
    errors = tmp_path / "sap_fbl3n_2025_02.errors.csv"
    assert f"written to {errors}" in err
    errors.unlink()

    code, plan, err = import_json(url, export, profile, "--skip-rejected")
    assert code == 1 and plan["recorded_anything"] is True
    assert plan["counts"] == {"recorded": 5, "rejected": 1, "skipped": 1}
    assert keys(url)[1:] == [key for _, status, key, _ in fates(plan) if status == "recorded"]
    data = errors.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with a byte order mark, for Excel
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0] == (
        "Posting Date;Document Number;G/L Account;Text;Amount in LC;Currency;"
        "ktpledger_row;ktpledger_rule;ktpledger_message"
    )
    assert lines[1].startswith("26.02.2025;5100000128;999999;Sundry \u2013 uncoded;10,00;GBP;7;R-33;")
    assert len(lines) == 2

    # Fixed (the code mapped by hand to a known one) and imported again with the same profile.
    errors.write_bytes(data.replace(b";999999;", b";416000;"))
    code, fixed, _ = import_json(url, errors, profile)
    assert code == 0
    assert fates(fixed) == [(2, "recorded", "sap:416000:5100000128:1", "SpendClaimed")]
    assert fixed["rows"][0]["source"]["ktpledger_rule"] == "R-33"  # carried, and ignored
    # travel: 23.40 - 15.00 + 10.00 = 18.40; employment 3,750.00; development 650.00
    lines_now = spent(url)
    assert lines_now["travel_subsistence"] == "18.40"
    assert lines_now["associate_employment"] == "3750.00"
    assert lines_now["associate_development"] == "650.00"
    # the whole file again: every row now a duplicate but the one still rejected
    code, again, _ = import_json(
        url, export, profile, "--skip-rejected", "--errors", str(tmp_path / "e2.csv")
    )
    assert again["counts"] == {"duplicate": 5, "rejected": 1, "skipped": 1}


def test_oracle_workbook_title_rows_debit_credit_grant_and_parental_leave(url: str) -> None:
    export, profile = fixture("oracle_gl_2025_03.xlsx"), fixture("oracle.toml")
    code, preview, _ = import_json(url, export, profile, "--dry-run")
    assert code == 0
    assert fates(preview) == [
        (5, "would record", "oracle:7100:JL-3001:1", "SpendClaimed"),
        (6, "would record", "oracle:7200:JL-3002:1", "SpendClaimed"),
        (7, "would record", "oracle:9000:JL-3003:1", "GrantPayment"),
        (8, "would record", "oracle:7300:JL-3004:1", "ParentalLeaveCost"),
        (9, "would record", "oracle:7200:JL-3005:1", "ClaimReversed"),
        (10, "skipped", None, None),
        (11, "skipped", None, None),
    ]
    by_row = {row["row"]: row for row in preview["rows"]}
    assert by_row[5]["event"]["date"] == "2025-03-03"  # an Excel date cell
    assert by_row[5]["event"]["data"]["amount"] == "1333.33"
    assert by_row[7]["event"]["data"] == {"amount": "12000.00"}  # a credit row: the absolute amount
    assert by_row[9]["event"]["data"]["claim"] == "oracle:7200:JL-3002:1"
    # supervisor 1,333.33; development 300.00 - 100.00 refunded = 200.00; grant 12,000; leave 900
    assert preview["categories"] == [
        {"category": "associate_development", "claimed": "300.00", "reversed": "100.00", "net": "200.00"},
        {"category": "knowledge_base_supervisor", "claimed": "1333.33", "reversed": "0.00", "net": "1333.33"},
    ]
    assert preview["grant_payments"] == "12000.00" and preview["parental_leave"] == "900.00"
    code, done, _ = import_json(url, export, profile)
    assert code == 0 and done["counts"] == {"recorded": 5, "skipped": 2}
    lines = spent(url)
    assert lines["associate_development"] == "200.00"
    assert lines["knowledge_base_supervisor"] == "1333.33"
    code, out, _ = run(url, "reconcile", "KTP-0042", "--format", "json")
    statement = json.loads(out)
    assert statement["grant_paid"] == "12000.00"
    assert statement["parental_leave"]["incurred"] == "900.00"


def test_a_table_for_people(url: str) -> None:
    code, out, _ = run(
        url,
        "import",
        str(fixture("agresso_2025_01.csv")),
        "--project",
        "KTP-0042",
        "--profile",
        str(fixture("agresso.toml")),
        "--dry-run",
    )
    assert code == 0
    assert "KTP-0042: dry run: nothing recorded of agresso_2025_01.csv with profile agresso" in out
    assert "reverses agresso:5010:INV-1001:1" in out
    assert "rows: 8 would record, 2 skipped" in out
    assert "consumables         2,623.99    200.00  2,423.99" in out
