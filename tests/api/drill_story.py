"""A small project for the drill-down tests, worked by hand (tests/api/test_transactions.py).

KTP-DRILL: a fec project with a virtual business; travel and subsistence offered at 2,500.00.
Travel claims, in the order recorded (a claim is judged on the claims recorded before it):

    conf-1  2025-01-10    500.00  conference        eligible 500.00
    conf-2  2025-02-10    600.00  conference        eligible 600.00
    conf-3  2025-03-10    700.00  conference        ineligible: third conference (R-13) 700.00
    assoc   2025-03-20    300.00  associate_travel  ineligible: associate travel of a virtual
                                                    business (R-14) 300.00
    rail    2025-04-05  1,300.00                    eligible: counted 1,100 + 1,300 = 2,400 <= 2,500
    hotel   2025-04-20    400.00, 150.00 reversed on 2025-05-02 (hotel-refund): 250.00 left,
                                                    counted 2,400 + 250 = 2,650: partly eligible,
                                                    eligible 100.00, over budget (R-40) 150.00

Travel: spent 3,800.00 - 150.00 = 3,650.00; eligible 2,500.00 (the budget); ineligible 1,150.00 =
700.00 (R-13) + 300.00 (R-14) + 150.00 (R-40); remaining 2,500.00 - 3,650.00 = -1,150.00.
Consumables: offered 4,000.00, 500.00 vired out to additional associate support on 2025-03-01 ("LMC 2,
item 3"): budget 3,500.00; one claim, kit, 1,200.00, eligible; remaining 2,300.00.
The hotel's description starts with "=": the CSV must guard it against formula injection.
"""

from __future__ import annotations

from typing import Any

from tests.ledger.factory import claim, decision, offer, reversal

PROJECT = "KTP-DRILL"
TRAVEL = "travel_subsistence"


def events() -> list[dict[str, Any]]:
    return [
        offer(PROJECT, virtual=True),
        claim("conf-1", "500.00", category=TRAVEL, date="2025-01-10", project=PROJECT, tags=["conference"]),
        claim("conf-2", "600.00", category=TRAVEL, date="2025-02-10", project=PROJECT, tags=["conference"]),
        decision(
            "lmc-virement",
            "2025-03-01",
            project=PROJECT,
            kind="virement",
            **{
                "from": "consumables",
                "to": "additional_associate_support",
                "amount": "500",
                "minute": "LMC 2, item 3",
            },
        ),
        claim("conf-3", "700.00", category=TRAVEL, date="2025-03-10", project=PROJECT, tags=["conference"]),
        claim(
            "assoc", "300.00", category=TRAVEL, date="2025-03-20", project=PROJECT, tags=["associate_travel"]
        ),
        claim("rail", "1300.00", category=TRAVEL, date="2025-04-05", project=PROJECT),
        claim(
            "hotel",
            "400.00",
            category=TRAVEL,
            date="2025-04-20",
            project=PROJECT,
            description='=HYPERLINK("http://x") hotel',
        ),
        reversal("hotel-refund", "hotel", "150.00", date="2025-05-02", project=PROJECT),
        claim("kit", "1200.00", category="consumables", date="2025-02-01", project=PROJECT),
    ]
