"""One row the engine refuses never stops the pipeline: it is isolated, quarantined with the engine's message, and
every other row is stored once, whether the refusal meets a fresh batch or one replayed from the spool."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from collector.spool import Spool
from collector.telemetry import CollectorMetrics
from collector.writer import TableWriter, classify
from syncwatch.settings import Settings
from syncwatch.warehouse import connect
from tests.conftest import ThreadedCollector, Tokens, auth, make_settings
from tests.factories import event

BATCH = {"Content-Type": "application/cloudevents-batch+json"}


def _row(n: int, time_text: str = "2026-12-01 10:00:00.000000") -> bytes:
    return orjson.dumps(
        {"received_at": "1796600000.000", "time": time_text, "source": "//psa/poison", "id": f"p-{n}", "type": "x.y"}
    )


def _writer(settings: Settings, spool: Spool, set_aside: list[Any] | None = None) -> TableWriter:
    def quarantine_rows(table: str, refused: list[tuple[bytes, str]]) -> list[bytes]:
        return [
            orjson.dumps({"received_at": "1796600000.000", "signal": "event", "reason": "refused_by_warehouse",
                          "detail": message, "payload": row.decode()})
            for row, message in refused
        ]  # fmt: skip

    return TableWriter(
        "events",
        lambda: connect(settings, create_database=False),
        spool,
        CollectorMetrics(CollectorRegistry()),
        max_rows=1000,
        max_delay_s=0.01,
        queue_max_rows=10_000,
        quarantine_rows=quarantine_rows,
    )


def test_refused_rows_are_isolated_and_the_rest_stored(settings: Settings, warehouse: Client) -> None:
    spool = Spool(settings.spool_dir)
    writer = _writer(settings, spool)
    rows = [_row(n) for n in range(40)]
    bad = {3, 17, 18, 39}
    for n in bad:
        rows[n] = _row(n, "2026-W50-1T10:00:00Z")

    async def scenario() -> list[tuple[int, str]]:
        writer.start()
        first = writer.enqueue(rows[:20])
        second = writer.enqueue(rows[20:])
        refused = [(i, m) for i, m in await first] + [(20 + i, m) for i, m in await second]
        await writer.stop()
        return refused

    refused = asyncio.run(scenario())
    assert sorted(i for i, _ in refused) == sorted(bad)  # each enqueue hears of its own rows, by position
    assert all("time" in message for _, message in refused)
    stored = {r[0] for r in warehouse.query("SELECT id FROM events").result_rows}
    assert stored == {f"p-{n}" for n in range(40) if n not in bad}
    quarantined = warehouse.query("SELECT payload, detail FROM quarantine").result_rows
    assert sorted(orjson.loads(p)["id"] for p, _ in quarantined) == sorted(f"p-{n}" for n in bad)
    assert spool.pending() == []


def test_a_poisoned_spooled_batch_drains_and_a_replay_stores_nothing_twice(
    settings: Settings, warehouse: Client
) -> None:
    """A batch spooled while the warehouse was down, with a row the engine refuses: the replay isolates it rather
    than retrying for ever, and replaying the same batch again (a crash before the file was removed) doubles
    nothing: the halves carry tokens derived from the batch's."""
    spool = Spool(settings.spool_dir)
    rows = [_row(n) for n in range(30)]
    rows[7] = _row(7, "2026-12-07T10:00:00,5Z")
    path = spool.write("events", "spooled-token", rows)
    writer = _writer(settings, spool)
    assert asyncio.run(writer.replay_spool()) == 1
    assert spool.pending() == []
    spool.write("events", "spooled-token", rows)  # the same file again, as a crash mid-replay leaves it
    assert asyncio.run(writer.replay_spool()) == 1
    counts = warehouse.query("SELECT count(), uniqExact(id) FROM events").result_rows[0]
    assert counts == (29, 29)
    assert warehouse.query("SELECT count() FROM quarantine").result_rows[0][0] == 1
    assert not path.exists()


def test_failures_are_told_apart() -> None:
    assert classify(OperationalError("connection refused")) == "down"
    assert classify(ConnectionRefusedError()) == "down"
    assert classify(DatabaseError("Code: 252. DB::Exception: Too many parts (TOO_MANY_PARTS)")) == "down"
    assert classify(DatabaseError("Code: 241. DB::Exception: Memory limit exceeded")) == "down"
    assert classify(RuntimeError("something else")) == "down"  # not known to be the rows: they wait
    assert classify(DatabaseError("Code: 27. DB::Exception: Cannot parse input")) == "refused"
    assert classify(DatabaseError("Code: 407. DB::Exception: Decimal math overflow")) == "refused"


# Each of these once passed the collector's checks, was refused by the engine, and stopped every later insert.
TRIGGERS: list[tuple[str, Any, str]] = [
    ("time", "{now}+00:00:30", "time"),
    ("time", "2026-W50-1T10:00:00Z", "time"),
    ("time", "{now},5Z", "time"),
    ("amount", 1e20, "data.amount"),
    ("amount", 2**64 - 1, "data.amount"),
    ("start_date", "2026-W50-1", "data.start_date"),
    ("end_date", "2026-W50-1", "data.end_date"),
]


def test_every_known_trigger_is_rejected_up_front_and_its_neighbours_stored(
    tmp_path: Path, warehouse: Client, tokens: Tokens
) -> None:
    s = make_settings(tmp_path, database=warehouse.database)
    now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 60))
    with ThreadedCollector(s) as collector, httpx.Client(timeout=30) as http:
        for name, value, field in TRIGGERS:
            if name == "time":
                bad = event("time_entry.posted", time=str(value).format(now=now))
            elif name == "amount":
                bad = event("time_entry.written_off")
                bad["data"]["amount"] = value
            else:
                bad = event("assignment.changed")
                bad["data"][name] = value
            good = event("time_entry.posted")
            answer = http.post(
                f"{collector.url}/v1/events",
                content=orjson.dumps([bad, good]),
                headers={**auth(tokens["ingest"]), **BATCH},
            )
            assert answer.status_code == 207, answer.text
            first, second = answer.json()["results"]
            assert (first["status"], first["field"]) == ("rejected", field), first
            assert second["status"] == "accepted"
        ready = http.get(f"{collector.url}/readyz").json()
        assert ready["status"] == "ready" and ready["spooled_batches"] == 0
    assert warehouse.query("SELECT count() FROM events").result_rows[0][0] == len(TRIGGERS)
    assert warehouse.query("SELECT count() FROM quarantine").result_rows[0][0] == len(TRIGGERS)


def test_a_row_refused_at_insert_is_answered_as_rejected_and_quarantined(
    tmp_path: Path, warehouse: Client, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever slips past the checks: the engine's refusal reaches the client as that event's rejection (with the
    column it names), its neighbours are stored, and the spool stays empty."""
    s = make_settings(tmp_path, database=warehouse.database)
    with ThreadedCollector(s) as collector, httpx.Client(timeout=30) as http:
        writer = collector.service.writers["events"]
        real_insert = writer._insert_into

        def poison(table: str, rows: list[bytes], token: str) -> None:
            # the engine sees an impossible time in the row of event "poisoned", as it would a format it rejects
            rows = [re.sub(rb'"time":"[^"]*"', b'"time":"not a time"', r) if b'"poisoned"' in r else r for r in rows]
            real_insert(table, rows, token)

        monkeypatch.setattr(writer, "_insert_into", poison)
        events = [event("time_entry.posted") for _ in range(5)]
        events[2]["id"] = "poisoned"
        answer = http.post(
            f"{collector.url}/v1/events", content=orjson.dumps(events), headers={**auth(tokens["ingest"]), **BATCH}
        )
        assert answer.status_code == 207, answer.text
        body = answer.json()
        assert (body["accepted"], body["rejected"]) == (4, 1)
        refused = body["results"][2]
        assert (refused["status"], refused["reason"], refused["field"]) == ("rejected", "refused_by_warehouse", "time")
        # a corrected resend of the refused event is taken, not answered as a duplicate
        events[2]["id"] = "poisoned-fixed"
        again = http.post(
            f"{collector.url}/v1/events", content=orjson.dumps([events[2]]), headers={**auth(tokens["ingest"]), **BATCH}
        )
        assert again.json()["accepted"] == 1
        metrics = http.get(f"{collector.url}/metrics", headers=auth(tokens["read"])).text
        assert 'syncwatch_collector_refused_rows_total{table="events"} 1.0' in metrics
        assert collector.service.spool.pending() == []
    assert warehouse.query("SELECT count() FROM events").result_rows[0][0] == 5
    reason, field = warehouse.query("SELECT reason, field FROM quarantine").result_rows[0]
    assert (reason, field) == ("refused_by_warehouse", "time")


def test_readyz_reports_a_spool_that_does_not_drain(
    tmp_path: Path, warehouse: Client, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = make_settings(tmp_path, database=warehouse.database, spool_max_age_seconds=1)
    with ThreadedCollector(s) as collector, httpx.Client(timeout=30) as http:
        writer = collector.service.writers["events"]

        def down(*args: object) -> None:
            raise ConnectionRefusedError("warehouse down")

        monkeypatch.setattr(writer, "_insert_into", down)
        answer = http.post(
            f"{collector.url}/v1/events", content=orjson.dumps([event()]), headers={**auth(tokens["ingest"]), **BATCH}
        )
        assert answer.status_code == 200  # acknowledged: fsynced in the spool
        assert http.get(f"{collector.url}/readyz").status_code == 200  # a young backlog is no problem yet
        time.sleep(1.5)
        answer = http.get(f"{collector.url}/readyz")
        assert answer.status_code == 503
        assert any(p.startswith("spool backlog: 1 batch") for p in answer.json()["problems"]), answer.text
        metrics = http.get(f"{collector.url}/metrics", headers=auth(tokens["read"])).text
        age = next(line for line in metrics.splitlines() if line.startswith("syncwatch_collector_spool_oldest_age"))
        assert float(age.split()[-1]) >= 1
        monkeypatch.undo()
        deadline = time.monotonic() + 15
        while collector.service.spool.pending() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert http.get(f"{collector.url}/readyz").status_code == 200


_NOW = time.time()
hostile_times = st.one_of(
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)).map(lambda d: d.isoformat() + "Z"),
    st.sampled_from(["{now}+00:00:30", "2026-W50-1T10:00:00Z", "{now},5Z", "{now}z", "{now}.123456789-08:00"]).map(
        lambda t: t.format(now=time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(_NOW - 600)))
    ),
    st.text(max_size=30),
)
hostile_dates = st.one_of(
    st.dates(datetime(1900, 1, 1).date(), datetime(2300, 1, 1).date()).map(lambda d: d.isoformat()),
    st.sampled_from(["2026-W50-1", "2026-02-30", "0000-00-00", "2026-1-7"]),
)
hostile_amounts = st.one_of(
    # JSON integers as clients' 64-bit encoders write them: from -2^63 to 2^64-1
    st.floats(-1e20, 1e20, allow_nan=False),
    st.integers(-(2**63), 2**64 - 1),
    st.sampled_from([1e14, -1e14, 1e20]),
)


@st.composite
def hostile_batches(draw: st.DrawFn) -> list[dict[str, Any]]:
    batch = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["time_entry.posted", "time_entry.written_off", "assignment.changed"]))
        one = event(kind)
        choice = draw(st.sampled_from(["time", "date", "amount", "none"]))
        if choice == "time":
            one["time"] = draw(hostile_times)
        elif choice == "date" and kind == "assignment.changed":
            one["data"][draw(st.sampled_from(["start_date", "end_date"]))] = draw(hostile_dates)
        elif choice == "amount":
            one["data"]["amount"] = draw(hostile_amounts)
        batch.append(one)
    return batch


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=hostile_batches())
def test_any_batch_is_stored_or_rejected_and_quarantined_never_stuck(
    collector: ThreadedCollector, tokens: Tokens, warehouse: Client, batch: list[dict[str, Any]]
) -> None:
    answer = httpx.post(
        f"{collector.url}/v1/events",
        content=orjson.dumps(batch),
        headers={**auth(tokens["ingest"]), **BATCH},
        timeout=30,
    )
    assert answer.status_code in (200, 207, 422), answer.text
    results = answer.json()["results"]
    ids = [e["id"] for e in batch]
    stored = dict(
        warehouse.query(
            "SELECT id, count() FROM events WHERE id IN {ids:Array(String)} GROUP BY id", parameters={"ids": ids}
        ).result_rows  # noqa: E501
    )
    quarantined = {
        r[0]
        for r in warehouse.query(
            "SELECT id FROM quarantine WHERE id IN {ids:Array(String)}", parameters={"ids": ids}
        ).result_rows  # noqa: E501
    }
    for result in results:
        if result["status"] == "accepted":
            assert stored.get(result["id"]) == 1, result
        else:
            assert result["status"] == "rejected" and result["field"], result
            assert result["id"] in quarantined and result["id"] not in stored, result
    assert collector.service.spool.pending() == []
