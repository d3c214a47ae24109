"""A warehouse whose events predate the business state (an upgrade) gets the same SLIs once the state is rebuilt,
and rebuilding twice changes nothing (every state aggregate is idempotent)."""

from __future__ import annotations

import httpx
import pytest
from clickhouse_connect.driver.client import Client

from metrics.evaluate import Evaluator
from metrics.query import Db
from metrics.rebuild import rebuild_state, state_is_missing
from metrics.slo import load_slos
from tests.conftest import ThreadedCollector, Tokens, auth
from tests.integration.metrics.test_hand_built_logs import WINDOW, firm_log

pytestmark = pytest.mark.integration
STATE = ("entry_state", "postings", "entry_documents", "change_state", "exception_state", "dead_letter_state",
         "invoice_state", "project_state", "deal_state", "rate_card_state", "assignment_state",
         "flow_activity")  # fmt: skip


def _values(client: Client) -> dict[str, tuple[float, float, float | None]]:
    results = Evaluator(load_slos()).evaluate(Db(client), window=WINDOW)
    return {name: (r[""].good, r[""].total, r[""].value) for name, r in results.items() if "" in r}


def test_rebuilt_state_gives_the_same_slis(collector: ThreadedCollector, tokens: Tokens, warehouse: Client) -> None:
    batch, _ = firm_log()
    headers = {**auth(tokens["ingest"]), "Content-Type": "application/cloudevents-batch+json"}
    assert httpx.post(f"{collector.url}/v1/events", json=batch, headers=headers, timeout=30).status_code == 200
    before = _values(warehouse)
    assert before["time_posting_first_pass"][1] > 0
    for table in STATE:
        warehouse.command(f"TRUNCATE TABLE {table}")
    assert state_is_missing(warehouse)
    assert _values(warehouse)["time_posting_first_pass"][1] == 0
    assert rebuild_state(warehouse) >= len(STATE)
    assert not state_is_missing(warehouse)
    assert _values(warehouse) == before
    rebuild_state(warehouse)
    assert _values(warehouse) == before
