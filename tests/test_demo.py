"""`ktpledger demo`: the main job on the embedded default (issue 5)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ktpledger.cli import app as cli


def run_demo(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/ktpledger.db"
    result = CliRunner().invoke(cli, ["--db", url, "demo", "--reports", str(tmp_path / "reports")])
    assert result.exit_code == 0, result.output
    return result.stdout


# Hand-worked (67% grant, each line's grant half up to the penny, R-23):
# - claim 1, 2024Q2: salary 12,150.00 x 0.67 = 8,140.50, laptop 1,450.00 -> 971.50, supervisor
#   2,000.00 -> 1,340.00, rail 186.40 -> 124.888 -> 124.89: 10,576.89;
# - claim 5, 2025Q2: salary 12,400.00 -> 8,308.00, supervisor 1,340.00; the tablet (899.00, a second
#   device, R-15) and the third conference (585.00, R-13) are ineligible: 9,648.00;
# - the eight claims come to the reconciliation's grant, 93,982.58 (nothing is recorded after the
#   final claim but the closure and payments): before the claims the demo's balance was 7,626.58
#   on 88,500.00 paid, so grant + the paternity pay reimbursable (3,200.00 x 0.67 = 2,144.00) =
#   96,126.58. Each quarterly payment now pays its claim in full, so the balance due is the
#   paternity pay's 2,144.00, on no quarterly claim;
# - the business: its share of the eligible costs, 140,272.50 - 93,982.58 = 46,289.92, is short of
#   the offer's business total 53,625.00 by 7,335.08, the final invoice's top-up, so its
#   eight invoices come to 53,625.00.
BALANCE_DUE = "2,144.00"


def test_demo_records_a_project_life_and_writes_the_reports(tmp_path: Path) -> None:
    output = run_demo(tmp_path)
    for expected in (
        "== Grant offer",
        "alert raised",
        "alert resolved",
        "Over budget: Travel & subsistence",
        (
            "grant claim 1 for 2024Q2: 10,576.89 (10,576.89 for the quarter, 0.00 prior-period adjustment; "
            "3 variance narratives)"
        ),
        "grant claim 5 for 2025Q2: 9,648.00",
        "invoice KTP-DEMO-01-2026Q1 to the business for 2026Q1: ",
        "offer top-up 7,335.08",
        "the business paid invoice KTP-DEMO-01-2024Q2",
        "Reconciliation (final)",
        f"balance due {BALANCE_DUE}",
        "8 grant claims 93,982.58, paid against them 93,982.58; 8 invoices to the business 53,625.00, paid 53,625.00",
        "dashboard/login",
    ):
        assert expected in output, expected
    html = tmp_path / "reports" / "KTP-DEMO-01-reconciliation.html"
    pdf = tmp_path / "reports" / "KTP-DEMO-01-reconciliation.pdf"
    assert "KTP-DEMO-01" in html.read_text(encoding="utf-8")
    pypdf = pytest.importorskip("pypdf")
    text = "".join(page.extract_text() for page in pypdf.PdfReader(str(pdf)).pages)
    assert "KTP-DEMO-01" in text and BALANCE_DUE.replace(",", "") in text.replace(",", "")
    # A sample of each report in every format: the reconciliation and the last claimed quarter's pack.
    # And the non-fec project's (KTP-DEMO-02, recorded in the same ledger after them), in reports/non-fec.
    assert "== A non-fec project, KTP-DEMO-02" in output
    for stem in (
        "KTP-DEMO-01-reconciliation",
        "KTP-DEMO-01-2026Q1-claim-pack",
        "non-fec/KTP-DEMO-02-reconciliation",
        "non-fec/KTP-DEMO-02-2025Q1-claim-pack",
    ):
        for fmt in ("json", "csv", "xlsx", "html", "pdf"):
            assert (tmp_path / "reports" / f"{stem}.{fmt}").stat().st_size > 0, (stem, fmt)
    assert "Certification by the finance officer" in html.read_text(encoding="utf-8")


def test_running_the_demo_again_records_nothing_new(tmp_path: Path) -> None:
    run_demo(tmp_path)
    again = run_demo(tmp_path)
    assert " recorded" not in again.replace("records", "")
    assert "duplicate" in again and f"balance due {BALANCE_DUE}" in again
    # The claims and invoices are the ones recorded the first time, not worked out again.
    assert again.count("grant claim ") == 8 and "refused" not in again


def test_the_demos_figures_are_never_negative_and_its_alerts_do_not_flap(tmp_path: Path) -> None:
    import json

    output = run_demo(tmp_path)
    url = f"sqlite:///{tmp_path}/ktpledger.db"
    result = CliRunner().invoke(cli, ["--db", url, "reconcile", "KTP-DEMO-01", "--format", "json"])
    document = json.loads(result.stdout)
    assert all(not line["ineligible"].startswith("-") for line in document["lines"])
    assert not document["totals"]["ineligible"].startswith("-")
    # Each batch of events is one append: no alert is resolved and raised again inside one, and
    # the travel forecast is raised once in the whole story (hysteresis), not three times.
    for batch in output.split("\n== ")[1:]:
        resolved = [line for line in batch.splitlines() if "alert resolved" in line]
        raised = [line for line in batch.splitlines() if "alert raised" in line]
        for line in resolved:
            what = line.split(": ", 1)[1]  # "Forecast overspend, Travel & subsistence"
            kind, category = what.split(", ", 1)
            assert not [r for r in raised if f"{kind}: {category}" in r], batch
    assert output.count("alert raised    Forecast overspend: Travel & subsistence") == 1
    # After closure nothing that asks for no action stays open: only the reconciliation's findings.
    result = CliRunner().invoke(cli, ["--db", url, "alerts", "KTP-DEMO-01", "--format", "json"])
    assert {alert["kind"] for alert in json.loads(result.stdout)} == {"sub_limit"}


def test_a_ledger_an_older_demo_closed_is_said_not_raised(tmp_path: Path) -> None:
    """An older demo's ledger (its events without the claims and invoices, closed) cannot take the
    quarterly claims: each step is refused with its rule (R-36), the demo exits 0, and nothing
    already recorded is touched."""
    from ktpledger.bootstrap import bootstrap
    from ktpledger.demo_story import PROJECT, is_step, quarters
    from ktpledger.service.schema import upgrade
    from ktpledger.settings import Settings

    url = f"sqlite:///{tmp_path}/ktpledger.db"
    application = bootstrap(Settings(database_url=url))
    upgrade(application.database)
    older = [item for _, items in quarters() for item in items if not is_step(item)]
    for item in older:  # an older demo's grant payments named no claim
        if item["type"] == "GrantPayment":
            item["data"].pop("claim", None)
    application.ledger.append(older)
    before = [row.hash for row in application.ledger.stream(PROJECT)]
    application.close()
    out = run_demo(tmp_path)
    assert "refused claim 2024Q2: R-36: project KTP-DEMO-01 was closed on 2026-04-20" in out
    assert "refused invoice_payment 2024Q2: R-44: there is no invoice KTP-DEMO-01-2024Q2 to pay" in out
    again = bootstrap(Settings(database_url=url))
    assert [row.hash for row in again.ledger.stream(PROJECT)] == before
    again.close()
