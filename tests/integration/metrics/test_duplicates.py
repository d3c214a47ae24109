"""Duplicate submissions on hand-built logs: the per-entry document summary kept at ingest (entry_documents) must
count an entry booked under two ERP documents as a duplicate whichever batch, order or delivery count the postings
came in, never count one document delivered several times, and judge each window by the postings inside it.
An existing warehouse gets the summary from its stored postings when the migration is applied."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from metrics.evaluate import Evaluator
from metrics.query import Db
from metrics.slo import load_slos
from metrics.windows import Window
from syncwatch.settings import Settings
from syncwatch.warehouse import apply_migrations
from tests.conftest import ThreadedCollector, Tokens
from tests.integration.metrics.test_hand_built_logs import overall, posting, send

pytestmark = pytest.mark.integration

MONDAY = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
AS_OF = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
WINDOW = Window(datetime(2026, 11, 1, tzinfo=UTC), AS_OF)
H = timedelta(hours=1)
NAME = "duplicate_submission_rate"


def booked(entry: str, document: str, when: datetime, project: str = "P-B") -> dict[str, Any]:
    return posting("time_entry.posted", entry, when, 10.0, project=project, erp_document_id=document)


def logs() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    d1_second = booked("D1", "JE-D1-b", MONDAY + 2 * H, project="P-A")
    d2 = booked("D2", "JE-D2", MONDAY + 4 * H)
    first = [
        booked("D1", "JE-D1-a", MONDAY + H, project="P-A"),
        d1_second,
        d1_second,  # the same event twice in one batch
        booked("D1", "JE-D1-b", MONDAY + 2 * H + timedelta(seconds=1), project="P-A"),  # same document, new event
        d2,
        d2,
        booked("D3", "JE-D3-a", datetime(2026, 10, 30, tzinfo=UTC)),  # before the window
        booked("D3", "JE-D3-b", MONDAY + 5 * H),
        booked("D5", "JE-D5-a", MONDAY + 3 * H),
    ]
    second = [
        # D4 out of order: the later booking arrives first; both within the last 3 days
        booked("D4", "JE-D4-b", AS_OF - 20 * H),
        booked("D4", "JE-D4-a", AS_OF - 24 * H),
        booked("D5", "JE-D5-b", AS_OF - 2 * H),  # D5's second document, in a later batch
        d1_second,  # re-delivered across batches
        d2,
    ]
    return first, second


@pytest.fixture
def sent(collector: ThreadedCollector, tokens: Tokens) -> None:
    first, second = logs()
    send(collector, tokens, first)
    send(collector, tokens, second, deliveries=2)


def test_two_documents_for_one_entry_are_duplicates_in_any_order_or_batch(sent: None, warehouse: Client) -> None:
    r = overall(warehouse, NAME, WINDOW)
    # In the window: D1 2 documents, D2 1 (delivered 5 times), D3 1 (its other document is before the window),
    # D4 2 (out of order), D5 2 (across batches): 8 postings, 6 of them duplicated.
    assert r.total == 8
    assert r.details["duplicated"] == 6
    assert r.good == 2
    assert r.value == pytest.approx(6 / 8)
    # The last 3 days: D4's two documents and D5's second one (its first is older): 3 judged, 2 duplicated.
    assert r.window_counts["3d"] == {"judged": 3, "bad": 2}
    # The last hour: nothing booked.
    assert r.window_counts["1h"] == {"judged": 0, "bad": 0}


def test_duplicates_by_project(sent: None, warehouse: Client) -> None:
    by = Evaluator(load_slos()).evaluate(Db(warehouse), window=WINDOW, names=[NAME], by="project")[NAME]
    assert (by["P-A"].total, by["P-A"].details["duplicated"]) == (2, 2)
    assert (by["P-B"].total, by["P-B"].details["duplicated"]) == (6, 4)


def test_records_name_the_entries_booked_twice_in_the_window(sent: None, warehouse: Client) -> None:
    records = Evaluator(load_slos()).registry[NAME].records(Db(warehouse), WINDOW, 10)
    assert [(x["key"], x["status"]) for x in records] == [
        ("D1", "booked 2 times"),
        ("D5", "booked 2 times"),
        ("D4", "booked 2 times"),
    ]


def test_an_existing_warehouse_gets_the_summary_from_its_postings(
    sent: None, warehouse: Client, settings: Settings
) -> None:
    before = overall(warehouse, NAME, WINDOW)
    # As a warehouse from before migration 0005: postings stored, no per-entry summary.
    warehouse.command("DROP VIEW entry_documents_mv")
    warehouse.command("DROP TABLE entry_documents")
    warehouse.command("DELETE FROM schema_migrations WHERE version IN (5, 9)")
    assert [m.version for m in apply_migrations(warehouse, settings.retention_days)] == [5, 9]
    after = overall(warehouse, NAME, WINDOW)
    assert (after.total, after.details["duplicated"], after.window_counts) == (
        before.total,
        before.details["duplicated"],
        before.window_counts,
    )
    assert after.details["duplicated"] == 6


def test_an_existing_summary_gets_its_document_hashes(
    sent: None, warehouse: Client, settings: Settings, collector: ThreadedCollector, tokens: Tokens
) -> None:
    """0009 on a warehouse whose summaries were stored (and merged) before it: the same duplicates, and each entry's
    hashes equal exactly when its smallest and largest document do; later postings keep them right."""
    before = overall(warehouse, NAME, WINDOW)
    warehouse.command("ALTER TABLE entry_documents DROP COLUMN first_document_hash, DROP COLUMN last_document_hash")
    warehouse.command("OPTIMIZE TABLE entry_documents FINAL")
    warehouse.command("DELETE FROM schema_migrations WHERE version = 9")
    assert [m.version for m in apply_migrations(warehouse, settings.retention_days)] == [9]
    after = overall(warehouse, NAME, WINDOW)
    assert (after.total, after.details["duplicated"], after.window_counts) == (
        before.total,
        before.details["duplicated"],
        before.window_counts,
    )
    agree = """SELECT countIf((first_document_hash = last_document_hash) != (first_document = last_document)),
                      countIf(first_document != last_document) FROM entry_documents FINAL"""
    assert warehouse.query(agree).result_rows[0] == (0, 4)  # D1, D3, D4 and D5
    send(collector, tokens, [booked("D2", "JE-D2-z", AS_OF - H)])  # D2's second document, after the upgrade
    assert warehouse.query(agree).result_rows[0] == (0, 5)
