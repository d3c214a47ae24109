"""Generic paging for declarative probes (and the middleware dead-letter API):

| style | request | stops when |
|---|---|---|
| none | one request | - |
| offset | `offset`/`limit` parameters | collected >= total (total_path) or a short page |
| page | `page`/`page_size` parameters, pages from 1 | collected >= total or a short page |
| next_url | follows the URL at next_path (absolute or relative) | next_path is empty |

With a total, fewer items than the total is BadResponse (truncated), never a short list.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from probes.errors import BadResponse, ConfigError
from probes.jsonpath import compile_path, first, select
from probes.transport import CallScope, SystemClient

__all__ = ["PAGING_STYLES", "Paging", "paged_items"]

PAGING_STYLES = ("none", "offset", "page", "next_url")


@dataclass(frozen=True, slots=True)
class Paging:
    style: str = "none"
    items_path: str = "$[*]"
    total_path: str | None = None
    next_path: str | None = None
    size: int = 100
    size_param: str = "limit"
    position_param: str = "offset"
    max_pages: int = 1000

    def __post_init__(self) -> None:
        if self.style not in PAGING_STYLES:
            raise ConfigError(f"paging style {self.style!r}: expected one of {', '.join(PAGING_STYLES)}")
        if self.style == "next_url" and not self.next_path:
            raise ConfigError("paging style next_url needs next_path")
        for path in (self.items_path, self.total_path, self.next_path):
            if path:
                compile_path(path)


def paged_items(
    client: SystemClient,
    scope: CallScope,
    path: str,
    paging: Paging,
    params: Mapping[str, Any] | None = None,
    method: str = "GET",
    body: Any = None,
) -> Iterator[Any]:
    base = dict(params or {})
    seen = 0
    position = 0 if paging.style == "offset" else 1
    url: str | None = path
    for _ in range(paging.max_pages):
        query = dict(base)
        if paging.style in ("offset", "page"):
            query[paging.size_param] = paging.size
            query[paging.position_param] = position
        assert url is not None
        doc = client.decode(client.request(scope, method, url, params=query if url == path else None, json=body))
        items = select(paging.items_path, doc)
        if not items and not select(_container(paging.items_path), doc):
            raise BadResponse(f"{path}: {paging.items_path} matches nothing in the answer", system=client.system)
        yield from items
        seen += len(items)
        total = _total(client, paging, doc, path)
        if paging.style == "none":
            return
        if paging.style == "next_url":
            nxt = first(paging.next_path or "$", doc)
            if not nxt:
                _check_total(client, path, seen, total)
                return
            if not items:
                raise BadResponse(f"{path}: empty page with a next link after {seen} items", system=client.system)
            url = str(nxt)
            continue
        if (total is not None and seen >= total) or (total is None and len(items) < paging.size):
            _check_total(client, path, seen, total)
            return
        if not items:
            raise BadResponse(
                f"{path}: empty page after {seen} of total={total} items (truncated)", system=client.system
            )
        position = position + len(items) if paging.style == "offset" else position + 1
    raise BadResponse(f"{path}: more than {paging.max_pages} pages", system=client.system)


def _container(items_path: str) -> str:
    """The path of the list the items come from: an answer without it is malformed, an empty one is fine."""
    for suffix in ("[*]", ".*"):
        if items_path.endswith(suffix):
            return items_path[: -len(suffix)] or "$"
    return items_path


def _total(client: SystemClient, paging: Paging, doc: Any, path: str) -> int | None:
    if not paging.total_path:
        return None
    value = first(paging.total_path, doc)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BadResponse(f"{path}: total at {paging.total_path} is missing", system=client.system)
    try:
        return int(value)
    except ValueError as exc:
        raise BadResponse(f"{path}: total at {paging.total_path} is not a number", system=client.system) from exc


def _check_total(client: SystemClient, path: str, seen: int, total: int | None) -> None:
    if total is not None and seen < total:
        raise BadResponse(f"{path}: pages hold {seen} items of total={total} (truncated)", system=client.system)
