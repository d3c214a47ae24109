"""The notifier interface, the message every integration renders, and delivery with retries and backoff.

A notifier's `send` does one attempt and raises `DeliveryFailed` (translated from httpx/smtplib errors in
`_http.py` / `email.py`); `deliver` retries retryable failures with exponential backoff and returns a
`Delivery` value: a failed delivery is an ordinary outcome that is logged, counted and shown, never raised.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from alerts.errors import DeliveryFailed

__all__ = ["AlertView", "Delivery", "Message", "Notifier", "deliver"]

log = logging.getLogger("syncwatch.alerts")


@dataclass(frozen=True)
class AlertView:
    """One alert as notifiers see it (Alertmanager's alert object)."""

    fingerprint: str
    status: str  # firing | resolved
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    generator_url: str
    acknowledged_by: str | None = None

    def am_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "labels": self.labels,
            "annotations": self.annotations,
            "startsAt": _rfc3339(self.starts_at),
            "endsAt": _rfc3339(self.ends_at) if self.ends_at else "0001-01-01T00:00:00Z",
            "generatorURL": self.generator_url,
            "fingerprint": self.fingerprint,
        }


@dataclass(frozen=True)
class Message:
    """One group's notification: Alertmanager's webhook (version 4) fields."""

    receiver: str
    group_key: str
    status: str  # firing when any alert fires, else resolved
    alerts: tuple[AlertView, ...]
    group_labels: dict[str, str]
    external_url: str
    now: datetime
    truncated_alerts: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def common_labels(self) -> dict[str, str]:
        return _common([a.labels for a in self.alerts])

    @property
    def common_annotations(self) -> dict[str, str]:
        return _common([a.annotations for a in self.alerts])

    def firing(self) -> list[AlertView]:
        return [a for a in self.alerts if a.status == "firing"]

    def resolved(self) -> list[AlertView]:
        return [a for a in self.alerts if a.status == "resolved"]

    def webhook_json(self) -> dict[str, Any]:
        return {
            "version": "4",
            "groupKey": self.group_key,
            "truncatedAlerts": self.truncated_alerts,
            "status": self.status,
            "receiver": self.receiver,
            "groupLabels": self.group_labels,
            "commonLabels": self.common_labels,
            "commonAnnotations": self.common_annotations,
            "externalURL": self.external_url,
            "alerts": [a.am_json() for a in self.alerts],
        }


@dataclass(frozen=True)
class Delivery:
    ok: bool
    attempts: int
    error: str = ""
    status_code: int | None = None


class Notifier(Protocol):
    integration: str
    send_resolved: bool

    def send(self, message: Message) -> None:
        """One delivery attempt; raises DeliveryFailed."""
        ...


def deliver(
    notifier: Notifier,
    message: Message,
    *,
    attempts: int = 4,
    backoff: float = 0.5,
    max_backoff: float = 8.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """Send with retries: retryable failures wait backoff, 2x, 4x ... (capped); others stop at once."""
    error: DeliveryFailed | None = None
    for attempt in range(1, attempts + 1):
        try:
            notifier.send(message)
            return Delivery(True, attempt)
        except DeliveryFailed as exc:
            error = exc
            log.warning(
                "%s delivery to receiver %s failed (attempt %d/%d): %s",
                notifier.integration,
                message.receiver,
                attempt,
                attempts,
                exc,
            )
            if not exc.retryable or attempt == attempts:
                return Delivery(False, attempt, str(exc), exc.status_code)
            sleep(min(max_backoff, backoff * 2 ** (attempt - 1)))
    assert error is not None
    return Delivery(False, attempts, str(error), error.status_code)


def _common(dicts: list[dict[str, str]]) -> dict[str, str]:
    if not dicts:
        return {}
    first = dicts[0]
    return {k: v for k, v in first.items() if all(d.get(k) == v for d in dicts[1:])}


def _rfc3339(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
