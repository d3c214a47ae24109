"""Workday-style workers: GET /ccx/api/v1/{tenant}/workers?updatedFrom=&limit=&offset=, pages of at most 100,
answered {"total", "data"}."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from probes.errors import BadResponse
from probes.transport import CallScope, SystemClient

__all__ = ["WORKDAY_PAGE", "workday_workers"]

WORKDAY_PAGE = 100


def workday_workers(
    client: SystemClient, scope: CallScope, tenant: str, updated_from: str | None = None, page_size: int = WORKDAY_PAGE
) -> Iterator[dict[str, Any]]:
    """Every worker (updated at or after `updated_from` when given). Workers updated while we page can move
    between pages; a worker seen twice is yielded once."""
    offset = 0
    seen: set[str] = set()
    total = None
    while True:
        params: dict[str, Any] = {"limit": page_size, "offset": offset}
        if updated_from:
            params["updatedFrom"] = updated_from
        body = client.get_json(scope, f"/ccx/api/v1/{tenant}/workers", params=params)
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("data"), list)
            or not isinstance(body.get("total"), int)
        ):
            raise BadResponse("Workday answer lacks total/data", system=client.system)
        total = body["total"]
        data = body["data"]
        for worker in data:
            if not isinstance(worker, dict) or "id" not in worker:
                raise BadResponse("Workday worker without an id", system=client.system)
            if worker["id"] not in seen:
                seen.add(worker["id"])
                yield worker
        offset += len(data)
        if offset >= total:
            break
        if not data:
            raise BadResponse(
                f"Workday sent an empty page at offset {offset} of total={total} (truncated)", system=client.system
            )
