"""Salesforce SOQL: GET /services/data/vXX.X/query?q=..., then each nextRecordsUrl until done; totalSize checked.
A COUNT() query is answered in totalSize with no records, and costs one call."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from probes.errors import BadResponse
from probes.transport import CallScope, SystemClient

__all__ = ["SOQL_VERSION", "soql_count", "soql_rows"]

SOQL_VERSION = "v61.0"


def _check(client: SystemClient, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("records"), list) or "done" not in body:
        raise BadResponse("SOQL answer lacks records/done", system=client.system)
    return body


def soql_rows(
    client: SystemClient, scope: CallScope, query: str, version: str = SOQL_VERSION
) -> Iterator[dict[str, Any]]:
    """Every record (keys lower-case, `attributes` dropped)."""
    body = _check(client, client.get_json(scope, f"/services/data/{version}/query", params={"q": query}))
    total = body.get("totalSize")
    seen = 0
    while True:
        for record in body["records"]:
            if not isinstance(record, dict):
                raise BadResponse("SOQL record is not an object", system=client.system)
            yield {k.lower(): v for k, v in record.items() if k != "attributes"}
        seen += len(body["records"])
        if body["done"]:
            break
        nxt = body.get("nextRecordsUrl")
        if not isinstance(nxt, str) or not nxt:
            raise BadResponse(f"SOQL not done after {seen} records but gave no nextRecordsUrl", system=client.system)
        if not body["records"]:
            raise BadResponse(f"SOQL sent an empty batch after {seen} records", system=client.system)
        body = _check(client, client.get_json(scope, nxt))
    if isinstance(total, int) and seen != total:
        raise BadResponse(f"SOQL batches hold {seen} records of totalSize={total} (truncated)", system=client.system)


def soql_count(client: SystemClient, scope: CallScope, query: str, version: str = SOQL_VERSION) -> int:
    body = _check(client, client.get_json(scope, f"/services/data/{version}/query", params={"q": query}))
    total = body.get("totalSize")
    if not isinstance(total, int):
        raise BadResponse("SOQL COUNT() answered without totalSize", system=client.system)
    return total
