"""Kantata OX-style lists: GET /api/v1/<things>.json?page=&per_page= (per_page <= 200) answered with a total
`count`, `results` (the order) and a map of the records keyed by id. per_page=1 is a cheap counter."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from probes.errors import BadResponse
from probes.transport import CallScope, SystemClient

__all__ = ["KANTATA_PAGE", "kantata_count", "kantata_rows"]

KANTATA_PAGE = 200


def _page(
    client: SystemClient, scope: CallScope, path: str, params: Mapping[str, Any], page: int, per_page: int
) -> dict[str, Any]:
    body = client.get_json(scope, path, params={**params, "page": page, "per_page": per_page})
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("count"), int)
        or not isinstance(body.get("results"), list)
    ):
        raise BadResponse(f"Kantata answer for {path} lacks count/results", system=client.system)
    return body


def kantata_rows(
    client: SystemClient,
    scope: CallScope,
    path: str,
    key: str,
    params: Mapping[str, Any] | None = None,
    per_page: int = KANTATA_PAGE,
) -> Iterator[dict[str, Any]]:
    """Every record of the list, in `results` order, checked against `count`."""
    page = 1
    seen = 0
    while True:
        body = _page(client, scope, path, params or {}, page, per_page)
        records = body.get(key)
        if not isinstance(records, dict):
            raise BadResponse(f"Kantata answer lacks the {key!r} map", system=client.system)
        for ref in body["results"]:
            rid = ref.get("id") if isinstance(ref, dict) else None
            record = records.get(str(rid)) if rid is not None else None
            if not isinstance(record, dict):
                raise BadResponse(f"Kantata result {rid!r} is missing from the {key!r} map", system=client.system)
            yield record
        seen += len(body["results"])
        if seen >= body["count"]:
            break
        if not body["results"]:
            raise BadResponse(
                f"Kantata sent an empty page {page} after {seen} of count={body['count']} (truncated)",
                system=client.system,
            )
        page += 1


def kantata_count(client: SystemClient, scope: CallScope, path: str, params: Mapping[str, Any] | None = None) -> int:
    return int(_page(client, scope, path, params or {}, 1, 1)["count"])
