"""CloudEvents over HTTP against the running collector: the SDK's structured and binary output, batches,
duplicates, and every kind of bad input with its specific 4xx, quarantined, never losing the good neighbours."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from clickhouse_connect.driver.client import Client
from cloudevents.core.bindings.http import to_binary_event, to_structured_event
from cloudevents.core.v1.event import CloudEvent

from tests.conftest import ThreadedCollector, Tokens, auth
from tests.factories import event, valid_data

BATCH = "application/cloudevents-batch+json"


def count(warehouse: Client, sql: str = "SELECT count() FROM events") -> int:
    return int(warehouse.query(sql).result_rows[0][0])


def post_batch(http: httpx.Client, collector: ThreadedCollector, token: str, events: Any) -> httpx.Response:
    body = events if isinstance(events, bytes) else orjson.dumps(events)
    return http.post(f"{collector.url}/v1/events", content=body, headers={**auth(token), "Content-Type": BATCH})


def test_sdk_structured_and_binary_events_are_stored(
    collector: ThreadedCollector, tokens: Tokens, warehouse: Client, http: httpx.Client
) -> None:
    now = datetime.now(UTC)
    for n, bind in enumerate((to_structured_event, to_binary_event)):
        ce = CloudEvent(
            attributes={
                "type": "com.kantata.psa.timesheet.approved.v1",
                "source": "/psa/kantata/acme",
                "id": f"sdk-{n}",
                "time": now,
                "subject": f"TS-{n}",
                "correlationid": "corr-7",
                "tenantid": "acme-us",
            },
            data=valid_data("timesheet.approved", timesheet_id=f"TS-{n}", entry_ids=["E-1", "E-2"], total_hours=16),
        )
        message = bind(ce)
        answer = http.post(
            f"{collector.url}/v1/events", content=message.body, headers={**auth(tokens["ingest"]), **message.headers}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"index": 0, "id": f"sdk-{n}", "status": "accepted"}
    rows = warehouse.query(
        "SELECT id, canonical_type, timesheet_id, entry_ids, hours, correlation_id, tenant_id, "
        "token_name FROM events ORDER BY id"
    ).result_rows
    assert rows == [
        ("sdk-0", "timesheet.approved", "TS-0", ["E-1", "E-2"], 16.0, "corr-7", "acme-us", "test-ingest"),
        ("sdk-1", "timesheet.approved", "TS-1", ["E-1", "E-2"], 16.0, "corr-7", "acme-us", "test-ingest"),
    ]


def test_duplicates_within_and_across_batches_count_once(
    collector: ThreadedCollector, tokens: Tokens, warehouse: Client, http: httpx.Client
) -> None:
    a, b, c = event(), event(), event()
    first = post_batch(http, collector, tokens["ingest"], [a, b, a, a])
    assert first.status_code == 200
    assert [r["status"] for r in first.json()["results"]] == ["accepted", "accepted", "duplicate", "duplicate"]
    second = post_batch(http, collector, tokens["ingest"], [b, c])
    assert second.json()["accepted"] == 1 and second.json()["duplicates"] == 1
    # every read, including a plain count before any merge, sees each (source, id) once
    assert count(warehouse) == 3
    assert count(warehouse, "SELECT count() FROM events FINAL") == 3
    assert count(warehouse, "SELECT uniqExact(source, id) FROM events") == 3
    same_id_other_source = dict(a, source="/psa/kantata/other")
    assert post_batch(http, collector, tokens["ingest"], [same_id_other_source]).json()["accepted"] == 1


def test_empty_batch_is_valid(collector: ThreadedCollector, tokens: Tokens, http: httpx.Client) -> None:
    answer = post_batch(http, collector, tokens["ingest"], [])
    assert answer.status_code == 200 and answer.json()["results"] == []


def test_a_batch_stores_good_members_and_quarantines_bad_ones(
    collector: ThreadedCollector, tokens: Tokens, warehouse: Client, http: httpx.Client
) -> None:
    good1, good2 = event("invoice.ready"), event("deal.closed_won")
    missing = event()
    missing.pop("source")
    mistyped = event()
    mistyped["data"]["hours"] = "eight"
    absurd = event(time="1492-10-12T00:00:00Z")
    unknown = event("com.acme.crm.lead.scored", data={"score": 3})
    answer = post_batch(http, collector, tokens["ingest"], [good1, missing, mistyped, good2, absurd, unknown])
    assert answer.status_code == 207
    body = answer.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (3, 0, 3)
    results = body["results"]
    assert results[1] == {
        "index": 1,
        "id": missing["id"],
        "status": "rejected",
        "reason": "missing_attribute",
        "field": "source",
        "detail": "required context attribute is missing",
    }
    assert (results[2]["reason"], results[2]["field"]) == ("invalid_field", "data.hours")
    assert (results[4]["reason"], results[4]["field"]) == ("time_out_of_range", "time")
    assert results[5]["status"] == "accepted" and results[5]["warning"].startswith("unknown_type")
    assert sorted(r[0] for r in warehouse.query("SELECT id FROM events").result_rows) == sorted(
        [good1["id"], good2["id"], unknown["id"]]
    )
    assert warehouse.query(
        "SELECT known_type FROM events WHERE id = {i:String}", parameters={"i": unknown["id"]}
    ).result_rows == [(False,)]
    quarantined = warehouse.query(
        "SELECT reason, field, id, token_name, payload FROM quarantine ORDER BY field"
    ).result_rows
    assert [(r[0], r[1]) for r in quarantined] == [
        ("invalid_field", "data.hours"),
        ("missing_attribute", "source"),
        ("time_out_of_range", "time"),
    ]
    assert all(r[3] == "test-ingest" for r in quarantined)
    assert orjson.loads(quarantined[0][4])["data"]["hours"] == "eight"
    # the operator's view of the same
    read = http.get(f"{collector.url}/api/v1/quarantine", headers=auth(tokens["read"])).json()
    assert read["counts_by_reason"] == {"invalid_field": 1, "missing_attribute": 1, "time_out_of_range": 1}
    only = http.get(
        f"{collector.url}/api/v1/quarantine", params={"reason": "invalid_field"}, headers=auth(tokens["read"])
    )
    assert [i["field"] for i in only.json()["items"]] == ["data.hours"]


def test_all_rejected_is_422_and_single_bad_event_is_422(
    collector: ThreadedCollector, tokens: Tokens, http: httpx.Client
) -> None:
    bad = event()
    bad["data"].pop("entry_id")
    assert post_batch(http, collector, tokens["ingest"], [bad]).status_code == 422
    single = http.post(
        f"{collector.url}/v1/events",
        content=orjson.dumps(bad),
        headers={**auth(tokens["ingest"]), "Content-Type": "application/cloudevents+json"},
    )
    assert single.status_code == 422
    assert single.json()["field"] == "data.entry_id" and single.json()["reason"] == "missing_field"


@pytest.mark.parametrize(
    ("body", "content_type", "status", "reason"),
    [
        (b'[{"specversion": "1.0",', BATCH, 400, "invalid_json"),
        (b'{"not": "a list"}', BATCH, 400, "not_a_list"),
        (b'[{"id": "\xff\xfe"}]', BATCH, 400, "invalid_utf8"),
        (b"[" * 5000 + b"]" * 5000, BATCH, 400, "too_deep"),
        (b"[]", "application/json", 415, None),
        (b"[]", "text/plain", 415, None),
    ],
)
def test_undecodable_bodies_get_a_specific_4xx_and_are_quarantined(
    collector: ThreadedCollector,
    tokens: Tokens,
    warehouse: Client,
    http: httpx.Client,
    body: bytes,
    content_type: str,
    status: int,
    reason: str | None,
) -> None:
    answer = http.post(
        f"{collector.url}/v1/events", content=body, headers={**auth(tokens["ingest"]), "Content-Type": content_type}
    )
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]
    reasons = [r[0] for r in warehouse.query("SELECT reason FROM quarantine").result_rows]
    assert reasons == ([reason] if reason else [])


def test_oversized_bodies_are_413_before_and_after_gzip(
    collector: ThreadedCollector, tokens: Tokens, http: httpx.Client
) -> None:
    limit = collector.settings.max_body_bytes
    huge = orjson.dumps([event(data=valid_data("time_entry.posted", pad="x" * (limit + 1)))])
    h = {**auth(tokens["ingest"]), "Content-Type": BATCH}
    assert http.post(f"{collector.url}/v1/events", content=huge, headers=h).status_code == 413
    zipped = gzip.compress(huge)
    assert len(zipped) < limit
    answer = http.post(f"{collector.url}/v1/events", content=zipped, headers={**h, "Content-Encoding": "gzip"})
    assert answer.status_code == 413
    ok = http.post(
        f"{collector.url}/v1/events",
        content=gzip.compress(orjson.dumps([event()])),
        headers={**h, "Content-Encoding": "gzip"},
    )
    assert ok.status_code == 200
    assert (
        http.post(f"{collector.url}/v1/events", content=b"[]", headers={**h, "Content-Encoding": "br"}).status_code
        == 415
    )


def test_deeply_nested_data_within_the_parser_limit_is_rejected_per_event(
    collector: ThreadedCollector, tokens: Tokens, http: httpx.Client
) -> None:
    nested: Any = "leaf"
    for _ in range(60):
        nested = {"n": nested}
    answer = post_batch(
        http, collector, tokens["ingest"], [event(data=valid_data("time_entry.posted", x=nested)), event()]
    )
    assert answer.status_code == 207
    assert answer.json()["results"][0]["reason"] == "too_deep"
