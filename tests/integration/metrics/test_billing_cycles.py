"""Invoice readiness counts from each entry's billing-cycle cut-off (docs/slis.md, **Billing cycles**), on a
hand-built log through the real ingest path: weekly and monthly projects lag from the end of the week or month the
entry was approved in, a daily project or one whose events give no cycle from the approval itself.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from metrics.windows import Window
from tests.conftest import ThreadedCollector, Tokens
from tests.integration.metrics.test_hand_built_logs import approved, ce, overall, posting, send

pytestmark = pytest.mark.integration

AS_OF = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # a Friday
WINDOW = Window(datetime(2026, 11, 1, tzinfo=UTC), AS_OF)


def _project(code: str, cycle: str | None) -> dict[str, Any]:
    data = {"project_code": code, "customer_id": f"CU-{code}", "status": "active", "billing_type": "time_and_materials",
            "currency": "USD", "crm_opportunity_id": f"OP-{code}"}  # fmt: skip
    if cycle is not None:
        data["billing_cycle"] = cycle
    return ce("project.created", datetime(2026, 10, 1, tzinfo=UTC), data)


def _entry(entry: str, project: str, approved_at: datetime, ready_at: datetime | None) -> list[dict[str, Any]]:
    events = [
        approved([entry], approved_at),
        posting("time_entry.post_requested", entry, approved_at + timedelta(minutes=2), 100.0, project=project),
        posting("time_entry.posted", entry, approved_at + timedelta(minutes=3), 100.0, project=project),
    ]
    if ready_at is not None:
        data = {"invoice_id": f"INV-{entry}", "project_code": project, "amount": 100.0, "currency": "USD",
                "entry_ids": [entry], "period": "2026-11"}  # fmt: skip
        events.append(ce("invoice.ready", ready_at, data))
    return events


def test_readiness_lags_from_the_cycle_cut_off(collector: ThreadedCollector, tokens: Tokens, warehouse: Client) -> None:
    wed, mon, tue = datetime(2026, 11, 4, 9, tzinfo=UTC), datetime(2026, 11, 2, 9, tzinfo=UTC), timedelta(days=1)
    events = [
        _project("P-WEEK", "weekly"),
        _project("P-MONTH", "monthly"),
        _project("P-DAY", "daily"),
        _project("P-NONE", None),
        # Approved Wednesday, on the invoice of Tuesday 18:00 after the week's end (Monday 00:00): 1.75 days.
        *_entry("W1", "P-WEEK", wed, datetime(2026, 11, 10, 18, tzinfo=UTC)),
        # Approved Monday, invoiced Wednesday, before the week ended: 0.
        *_entry("W2", "P-WEEK", mon, wed),
        # Approved in November, not ready, due at December's start: not late yet, 0.
        *_entry("M1", "P-MONTH", mon + tue, None),
        # Daily: from its approval on Monday 2 November 09:00 to now, Friday 20 November 09:00: 14 business days.
        *_entry("D1", "P-DAY", mon, None),
        # No cycle given: from its approval, Monday 16 November 09:00, to ready on Wednesday 09:00: 2 days.
        *_entry("N1", "P-NONE", datetime(2026, 11, 16, 9, tzinfo=UTC), datetime(2026, 11, 18, 9, tzinfo=UTC)),
    ]
    send(collector, tokens, events)
    r = overall(warehouse, "invoice_readiness_lag", WINDOW)
    assert r.total == 5
    assert r.good == 4  # D1 is late
    assert r.value == pytest.approx(14.0)  # p95 of [0, 0, 1.75, 2, 14]
    assert r.details["p50"] == pytest.approx(1.75)
