"""The one place httpx errors become `DeliveryFailed` (retryable: network errors, 408, 429, 5xx).

A failure's text is logged and shown on the health page, and delivery URLs carry credentials: any URL in it
(an httpx error naming the request, a receiver echoing it) is redacted here.
"""

from __future__ import annotations

from typing import Any

import httpx

from alerts.errors import DeliveryFailed
from syncwatch.logs import redact_text

__all__ = ["post_json"]


def post_json(
    client: httpx.Client, url: str, body: Any, *, headers: dict[str, str] | None = None, ok: tuple[int, ...] = ()
) -> httpx.Response:
    try:
        response = client.post(url, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise DeliveryFailed(redact_text(f"{type(exc).__name__}: {exc}"), retryable=True) from exc
    accepted = response.status_code in ok if ok else response.is_success
    if not accepted:
        retryable = response.status_code in (408, 429) or response.status_code >= 500
        text = redact_text(f"HTTP {response.status_code}: {response.text[:300]}")
        raise DeliveryFailed(text, retryable=retryable, status_code=response.status_code)
    return response
