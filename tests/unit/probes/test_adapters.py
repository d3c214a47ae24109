"""Paging edge cases of every adapter, against httpx.MockTransport: the page set must add up or the read fails."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from probes.adapters import (
    Paging,
    kantata_count,
    kantata_rows,
    paged_items,
    soql_count,
    soql_rows,
    suiteql_count,
    suiteql_rows,
    workday_workers,
)
from probes.errors import BadResponse, ConfigError

from .support import make_client, scope

ROWS = [{"id": str(i), "entityid": f"P{i}"} for i in range(25)]


def suiteql_server(rows: list[dict[str, Any]], *, total: int | None = None, lie: str = "") -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["prefer"] == "transient" and json.loads(request.content)["q"].startswith("SELECT")
        limit, offset = int(request.url.params["limit"]), int(request.url.params["offset"])
        page = rows[offset : offset + limit]
        if lie == "empty_page" and offset > 0:
            page = []
        body = {
            "items": [{"links": [], **r} for r in page],
            "count": len(page) + (1 if lie == "count" else 0),
            "hasMore": offset + limit < len(rows),
            "offset": offset,
            "totalResults": len(rows) if total is None else total,
        }
        return httpx.Response(200, json=body)

    return handler


def test_suiteql_reads_every_page() -> None:
    client, fake = make_client(suiteql_server(ROWS))
    s = scope(fake)
    got = list(suiteql_rows(client, s, "SELECT id FROM job", page_size=10))
    assert [r["id"] for r in got] == [r["id"] for r in ROWS] and "links" not in got[0]
    assert s.total_calls == 3


def test_suiteql_exact_multiple_of_the_page_size() -> None:
    client, fake = make_client(suiteql_server(ROWS[:20]))
    assert len(list(suiteql_rows(client, scope(fake), "SELECT id FROM job", page_size=10))) == 20


def test_suiteql_empty_result() -> None:
    client, fake = make_client(suiteql_server([]))
    assert list(suiteql_rows(client, scope(fake), "SELECT id FROM job")) == []


@pytest.mark.parametrize(
    ("lie", "total", "match"),
    [("", 30, "truncated"), ("empty_page", None, "empty page"), ("count", None, "count=")],
)
def test_suiteql_inconsistent_pages_fail(lie: str, total: int | None, match: str) -> None:
    client, fake = make_client(suiteql_server(ROWS, total=total, lie=lie))
    with pytest.raises(BadResponse, match=match):
        list(suiteql_rows(client, scope(fake), "SELECT id FROM job", page_size=10))


def test_suiteql_count_accepts_numeric_strings_and_rejects_garbage() -> None:
    client, fake = make_client(lambda r: httpx.Response(200, json={"items": [{"links": [], "expr1": "42"}]}))
    assert suiteql_count(client, scope(fake), "SELECT COUNT(*) FROM timebill") == 42
    client, fake = make_client(lambda r: httpx.Response(200, json={"items": [{"expr1": "n/a"}]}))
    with pytest.raises(BadResponse):
        suiteql_count(client, scope(fake), "SELECT COUNT(*) FROM timebill")
    client, fake = make_client(lambda r: httpx.Response(200, json={"rows": []}))
    with pytest.raises(BadResponse, match="no items"):
        suiteql_count(client, scope(fake), "SELECT COUNT(*) FROM timebill")


def soql_server(records: list[dict[str, Any]], batch: int, *, drop_next: bool = False, total: int | None = None) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        start = int(request.url.path.rsplit("-", 1)[1]) if "/query/" in request.url.path else 0
        page = records[start : start + batch]
        done = start + batch >= len(records)
        body: dict[str, Any] = {
            "totalSize": len(records) if total is None else total,
            "done": done,
            "records": [{"attributes": {"type": "X"}, **r} for r in page],
        }
        if not done and not drop_next:
            body["nextRecordsUrl"] = f"/services/data/v61.0/query/01g-{start + batch}"
        return httpx.Response(200, json=body)

    return handler


def test_soql_follows_next_records_url() -> None:
    records = [{"Id": f"006{i}"} for i in range(7)]
    client, fake = make_client(soql_server(records, 3), system="crm")
    s = scope(fake)
    got = list(soql_rows(client, s, "SELECT Id FROM Opportunity"))
    assert [r["id"] for r in got] == [r["Id"] for r in records] and "attributes" not in got[0]
    assert s.total_calls == 3


def test_soql_not_done_without_next_url_and_short_totals_fail() -> None:
    records = [{"Id": str(i)} for i in range(7)]
    client, fake = make_client(soql_server(records, 3, drop_next=True), system="crm")
    with pytest.raises(BadResponse, match="nextRecordsUrl"):
        list(soql_rows(client, scope(fake), "SELECT Id FROM X"))
    client, fake = make_client(soql_server(records, 3, total=9), system="crm")
    with pytest.raises(BadResponse, match="truncated"):
        list(soql_rows(client, scope(fake), "SELECT Id FROM X"))


def test_soql_count_reads_total_size() -> None:
    client, fake = make_client(lambda r: httpx.Response(200, json={"totalSize": 12, "done": True, "records": []}))
    assert soql_count(client, scope(fake), "SELECT COUNT() FROM Opportunity") == 12


def workday_server(workers: list[dict[str, Any]], *, shrink_at: int | None = None, lie_total: int | None = None) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        limit, offset = int(request.url.params["limit"]), int(request.url.params["offset"])
        assert limit <= 100 and request.url.path == "/ccx/api/v1/acme/workers"
        data = workers[offset : offset + limit]
        if shrink_at is not None and offset >= shrink_at:
            data = []
        return httpx.Response(200, json={"total": lie_total or len(workers), "data": data})

    return handler


def test_workday_pages_by_offset_and_dedups_moving_workers() -> None:
    workers = [{"id": f"C{i}"} for i in range(250)]
    moved = workers[:100] + [workers[99]] + workers[100:]  # one worker updated mid-scan shows up twice
    client, fake = make_client(workday_server(moved), system="hcm")
    got = list(workday_workers(client, scope(fake), "acme"))
    assert len(got) == 250 and len({w["id"] for w in got}) == 250


def test_workday_truncated_paging_fails() -> None:
    client, fake = make_client(workday_server([{"id": f"C{i}"} for i in range(250)], shrink_at=200), system="hcm")
    with pytest.raises(BadResponse, match="truncated"):
        list(workday_workers(client, scope(fake), "acme"))


def test_workday_updated_from_is_sent() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"total": 0, "data": []})

    client, fake = make_client(handler, system="hcm")
    assert list(workday_workers(client, scope(fake), "acme", updated_from="2025-03-01T00:00:00Z")) == []
    assert seen[0].url.params["updatedFrom"] == "2025-03-01T00:00:00Z"


def kantata_server(rows: list[dict[str, Any]], *, hole: bool = False, lie_count: int | None = None) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        page, per_page = int(request.url.params["page"]), int(request.url.params["per_page"])
        chunk = rows[(page - 1) * per_page : page * per_page]
        records = {r["id"]: r for r in chunk}
        if hole and chunk:
            records.pop(chunk[0]["id"])
        return httpx.Response(
            200,
            json={
                "count": len(rows) if lie_count is None else lie_count,
                "results": [{"key": "users", "id": r["id"]} for r in chunk],
                "users": records,
            },
        )

    return handler


def test_kantata_pages_and_counts() -> None:
    rows = [{"id": str(i)} for i in range(450)]
    client, fake = make_client(kantata_server(rows), system="psa")
    s = scope(fake)
    assert [r["id"] for r in kantata_rows(client, s, "/api/v1/users.json", "users")] == [r["id"] for r in rows]
    assert s.total_calls == 3
    assert kantata_count(client, s, "/api/v1/users.json") == 450


def test_kantata_missing_record_or_short_count_fails() -> None:
    rows = [{"id": str(i)} for i in range(10)]
    client, fake = make_client(kantata_server(rows, hole=True), system="psa")
    with pytest.raises(BadResponse, match="missing"):
        list(kantata_rows(client, scope(fake), "/api/v1/users.json", "users"))
    client, fake = make_client(kantata_server(rows, lie_count=15), system="psa")
    with pytest.raises(BadResponse, match="truncated"):
        list(kantata_rows(client, scope(fake), "/api/v1/users.json", "users", per_page=5))


def test_generic_paging_styles() -> None:
    items = [{"id": i} for i in range(23)]

    def handler(request: httpx.Request) -> httpx.Response:
        p = request.url.params
        if request.url.path == "/offset":
            off, lim = int(p["offset"]), int(p["limit"])
            return httpx.Response(200, json={"data": items[off : off + lim], "meta": {"total": len(items)}})
        if request.url.path == "/page":
            page, size = int(p["page"]), int(p["page_size"])
            return httpx.Response(200, json={"items": items[(page - 1) * size : page * size]})
        cursor = int(p.get("after", 0))
        nxt = f"/cursor?after={cursor + 10}" if cursor + 10 < len(items) else None
        return httpx.Response(200, json={"values": items[cursor : cursor + 10], "next": nxt})

    client, fake = make_client(handler)
    s = scope(fake)
    offset = Paging("offset", "$.data[*]", "$.meta.total", size=10)
    assert [i["id"] for i in paged_items(client, s, "/offset", offset)] == list(range(23))
    page = Paging("page", "$.items[*]", None, size=10, size_param="page_size", position_param="page")
    assert len(list(paged_items(client, s, "/page", page))) == 23  # no total: a short page ends it
    cursor = Paging("next_url", "$.values[*]", next_path="$.next")
    assert len(list(paged_items(client, s, "/cursor", cursor))) == 23
    with pytest.raises(BadResponse, match="matches nothing"):
        list(paged_items(client, s, "/cursor", Paging("none", "$.nothing[*]")))
    with pytest.raises(ConfigError):
        Paging("sideways")
    with pytest.raises(ConfigError):
        Paging("next_url", "$.x[*]")
