"""NetSuite SuiteQL: POST /services/rest/query/v1/suiteql?limit=&offset= with {"q": ...} and `Prefer: transient`;
1,000 rows a page, 100,000 a query (domain.md section 7)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from probes.errors import BadResponse
from probes.transport import CallScope, SystemClient

__all__ = ["SUITEQL_MAX_ROWS", "SUITEQL_PATH", "suiteql_count", "suiteql_rows"]

SUITEQL_PATH = "/services/rest/query/v1/suiteql"
SUITEQL_PAGE = 1000
SUITEQL_MAX_ROWS = 100_000


def _page(client: SystemClient, scope: CallScope, query: str, limit: int, offset: int) -> dict[str, Any]:
    body = client.post_json(
        scope,
        SUITEQL_PATH,
        params={"limit": limit, "offset": offset},
        json={"q": query},
        headers={"Prefer": "transient"},
    )
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise BadResponse("SuiteQL answer has no items list", system=client.system)
    return body


def suiteql_rows(
    client: SystemClient, scope: CallScope, query: str, page_size: int = SUITEQL_PAGE
) -> Iterator[dict[str, Any]]:
    """Every row of the query (keys lower-case, the `links` member dropped), checked against totalResults."""
    offset = seen = 0
    total: int | None = None
    while True:
        body = _page(client, scope, query, page_size, offset)
        items = body["items"]
        if isinstance(body.get("totalResults"), int):
            total = body["totalResults"]
        if "count" in body and body["count"] != len(items):
            raise BadResponse(
                f"SuiteQL page says count={body['count']} but holds {len(items)} rows", system=client.system
            )
        for item in items:
            if not isinstance(item, dict):
                raise BadResponse("SuiteQL row is not an object", system=client.system)
            yield {k.lower(): v for k, v in item.items() if k != "links"}
        seen += len(items)
        if not body.get("hasMore"):
            break
        if not items:
            raise BadResponse(f"SuiteQL says hasMore after {seen} rows but sent an empty page", system=client.system)
        offset += len(items)
        if offset >= SUITEQL_MAX_ROWS:
            raise BadResponse(
                f"query reaches NetSuite's {SUITEQL_MAX_ROWS:,}-row limit; the probe must slice it",
                system=client.system,
            )
    if total is not None and seen != total:
        raise BadResponse(f"SuiteQL pages hold {seen} rows of totalResults={total} (truncated)", system=client.system)


def suiteql_count(client: SystemClient, scope: CallScope, query: str) -> int:
    """`SELECT COUNT(*) ...` answered as one row; any column name, number or numeric string."""
    items = _page(client, scope, query, 1, 0)["items"]
    if len(items) != 1 or not isinstance(items[0], dict):
        raise BadResponse("SuiteQL COUNT answered no single row", system=client.system)
    values = [v for k, v in items[0].items() if k != "links"]
    try:
        return int(values[0])
    except (IndexError, TypeError, ValueError) as exc:
        raise BadResponse("SuiteQL COUNT value is not a number", system=client.system) from exc
