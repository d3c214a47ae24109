"""Entries the ERP rejects for one reason now, on hand-built logs: a burst of one non-retryable error code is counted
in consultants against the code's own normal rate; retryable failures, re-deliveries and older rejections are not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from metrics.evaluate import Evaluator
from metrics.query import Db
from metrics.slo import load_slos
from metrics.windows import Window
from tests.conftest import ThreadedCollector, Tokens
from tests.integration.metrics.test_hand_built_logs import ce, overall, send

pytestmark = pytest.mark.integration

AS_OF = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
WINDOW = Window(AS_OF - timedelta(days=30), AS_OF)
M = timedelta(minutes=1)


def rejected(entry: str, consultant: str, code: str, when: datetime, *, retryable: bool = False,
             project: str = "P-1", id: str | None = None) -> dict[str, Any]:  # fmt: skip
    data = {"entry_id": entry, "consultant_id": consultant, "project_code": project, "work_date": "2026-11-09",
            "hours": 8.0, "amount": 800.0, "currency": "USD", "attempt": 1, "idempotency_key": f"ik-{entry}",
            "error_code": code, "error_category": "c", "retryable": retryable}  # fmt: skip
    return ce("time_entry.post_failed", when, data, id=id)


def test_a_burst_of_one_code_counts_consultants_once(
    collector: ThreadedCollector, tokens: Tokens, warehouse: Client
) -> None:
    twice = rejected("E9", "C4", "RATE_CARD_MISSING_OR_EXPIRED", AS_OF - 2 * M, id="same-delivery")
    events = [
        *(
            rejected(f"E{n}", "C1", "RATE_CARD_MISSING_OR_EXPIRED", AS_OF - M, project="P-A") for n in range(3)
        ),  # one timesheet
        rejected("E3", "C2", "RATE_CARD_MISSING_OR_EXPIRED", AS_OF - 3 * M, project="P-B"),
        rejected("E4", "C3", "RATE_CARD_MISSING_OR_EXPIRED", AS_OF - 4 * M, project="P-B"),
        twice,
        twice,  # re-delivered: counts once
        rejected("E5", "C5", "RATE_CARD_MISSING_OR_EXPIRED", AS_OF - 2 * M, retryable=True),  # a retry will do
        rejected("E6", "C6", "RATE_CARD_MISSING_OR_EXPIRED", AS_OF - 6 * M),  # before the 5 minutes
        rejected("E7", "C7", "RATE_CARD_MISSING_OR_EXPIRED", AS_OF + M),  # after as_of
        rejected("E8", "C8", "INVALID_KEY_OR_REF", AS_OF - M),
        # The close calendar's code: late time for the closing month fails with it every month start.
        *(rejected(f"E1{n}", f"C1{n}", "PERIOD_CLOSED", AS_OF - M) for n in range(6)),
    ]
    send(collector, tokens, events)

    r = overall(warehouse, "time_posting_rejections", WINDOW)
    codes = r.details["codes"]
    assert (
        codes["RATE_CARD_MISSING_OR_EXPIRED"]["consultants"] == 4
        and codes["RATE_CARD_MISSING_OR_EXPIRED"]["entries"] == 6
    )
    # E6, six minutes ago, is the code's whole normal period: 1 consultant in 3 days of 5-minute intervals.
    assert codes["RATE_CARD_MISSING_OR_EXPIRED"]["normal_consultants"] == pytest.approx(1 / 864, abs=1e-3)
    assert codes["INVALID_KEY_OR_REF"]["consultants"] == 1
    assert "PERIOD_CLOSED" not in codes
    assert r.details["top_code"] == "RATE_CARD_MISSING_OR_EXPIRED"
    assert r.value == pytest.approx(4 - 5 / 864)
    assert r.details["top_text"].startswith("RATE_CARD_MISSING_OR_EXPIRED: 6 entries of 4 consultants in 5 min")
    assert r.status == "breach"

    records = Evaluator(load_slos()).registry["time_posting_rejections"].records(Db(warehouse), WINDOW, 20)
    assert {x["key"] for x in records} == {"E0", "E1", "E2", "E3", "E4", "E9", "E8"}


def test_a_code_at_its_normal_rate_is_no_burst(collector: ThreadedCollector, tokens: Tokens, warehouse: Client) -> None:
    # Every 5-minute interval of the 3 days before held two consultants with MISSING_DEPARTMENT: normal 2, so
    # 5 now is within 5x normal.
    start = AS_OF - timedelta(days=3) - 5 * M
    events = [rejected(f"N{n}-{k}", f"C{k}", "MISSING_DEPARTMENT", start + (5 * n + 1) * M)
              for n in range(864) for k in range(2)]  # fmt: skip
    events += [rejected(f"X{k}", f"D{k}", "MISSING_DEPARTMENT", AS_OF - M) for k in range(5)]
    send(collector, tokens, events)
    r = overall(warehouse, "time_posting_rejections", WINDOW)
    c = r.details["codes"]["MISSING_DEPARTMENT"]
    assert c["consultants"] == 5 and c["normal_consultants"] == pytest.approx(2.0, abs=0.01)
    assert r.value == 0.0 and r.status == "ok"


def test_nothing_rejected_is_zero(collector: ThreadedCollector, tokens: Tokens, warehouse: Client) -> None:
    r = overall(warehouse, "time_posting_rejections", WINDOW)
    assert r.value == 0.0 and r.status == "ok" and r.details["codes"] == {}
