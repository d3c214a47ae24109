"""The server path (`SYNCWATCH_CLICKHOUSE_URL=http://...`) against ClickHouse's HTTP interface over the real engine:
migrations, ingest of events and spans through the collector, SLIs and a record lookup give what the embedded
warehouse gives for the same input; the same event through two replicas counts once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from clickhouse_connect.driver.client import Client

from metrics.evaluate import Evaluator
from metrics.query import Db
from metrics.slo import load_slos
from syncwatch.warehouse import pending_migrations
from tests.conftest import ThreadedCollector, Tokens, auth
from tests.integration.metrics.test_hand_built_logs import MONDAY, WINDOW, firm_log
from tests.integration.scaleout.helpers import migrated, post_events, post_spans, server_settings, spans
from tests.integration.scaleout.warehouse_server import WarehouseServer

pytestmark = pytest.mark.integration

TRACE = "5b8efff798038103d269b633813fc60c"


def _feed(url: str, token: str, log: tuple[list[dict[str, Any]], ...]) -> None:
    for batch in log:
        answer = post_events(url, token, batch)
        assert answer.status_code in (200, 207) and answer.json()["rejected"] == 0, answer.text
    answer = post_spans(url, token, spans(TRACE, "E1", MONDAY + timedelta(hours=1)))
    assert answer.status_code == 200, answer.text


def _observed(client: Client, url: str, token: str) -> dict[str, Any]:
    """What a user of each warehouse sees: every SLI over the window, a record's journey, the stored counts."""
    evaluated = Evaluator(load_slos()).evaluate(Db(client), window=WINDOW)
    journey = httpx.get(f"{url}/api/v1/records/E1", headers=auth(token), timeout=30).json()
    counts = client.query("SELECT (SELECT count() FROM events FINAL), (SELECT count() FROM otel_traces FINAL)")
    return {
        "slis": {name: r[""] for name, r in evaluated.items()},
        "journey": [(i["signal"], i["at"], i.get("id") or i.get("span_id")) for i in journey["items"]],
        "counts": counts.result_rows[0],
    }


def test_the_server_path_answers_what_the_embedded_warehouse_answers(
    collector: ThreadedCollector, tokens: Tokens, warehouse: Client, warehouse_server: WarehouseServer, tmp_path: Path
) -> None:
    log = firm_log()
    _feed(collector.url, tokens["ingest"], log)
    embedded = _observed(warehouse, collector.url, tokens["read"])

    settings = server_settings(tmp_path, warehouse_server.url)
    client, server_tokens = migrated(settings)
    assert pending_migrations(client) == []
    with ThreadedCollector(settings) as replica:
        _feed(replica.url, server_tokens["ingest"], log)
        served = _observed(client, replica.url, server_tokens["read"])

    assert served["counts"] == embedded["counts"] and served["counts"][0] > 10 and served["counts"][1] == 2
    assert served["journey"] == embedded["journey"] and len(served["journey"]) >= 3
    assert served["slis"] == embedded["slis"] and len(served["slis"]) >= 10


def test_the_same_event_through_two_replicas_counts_once(warehouse_server: WarehouseServer, tmp_path: Path) -> None:
    one = server_settings(tmp_path, warehouse_server.url)
    two = server_settings(tmp_path, warehouse_server.url, database=one.database)
    client, tokens = migrated(one)
    log = first, again = firm_log()
    with ThreadedCollector(one) as a, ThreadedCollector(two) as b:
        for url in (a.url, b.url):  # every event and span delivered to each replica, each one's own index blind
            _feed(url, tokens["ingest"], log)
        twice = _observed(client, a.url, tokens["read"])
        via_b = httpx.get(f"{b.url}/api/v1/records/E1", headers=auth(tokens["read"]), timeout=30).json()

    reference = server_settings(tmp_path, warehouse_server.url)
    ref_client, ref_tokens = migrated(reference)
    with ThreadedCollector(reference) as single:
        _feed(single.url, ref_tokens["ingest"], log)
        once = _observed(ref_client, single.url, ref_tokens["read"])

    unique_ids = len({e["id"] for e in first + again})
    assert twice["counts"] == once["counts"] == (unique_ids, 2)
    assert twice["journey"] == once["journey"]
    assert [(i["signal"], i["at"]) for i in via_b["items"]] == [(s, at) for s, at, _ in once["journey"]]
    assert twice["slis"] == once["slis"]
