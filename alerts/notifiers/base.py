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
from typing import Any, Protocol, runtime_checkable

from alerts.errors import DeliveryFailed

__all__ = [
    "AlertView",
    "Delivery",
    "Message",
    "Notifier",
    "Resending",
    "alertmanager_fingerprint",
    "deliver",
    "present_labels",
]

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
        """The alert as Alertmanager posts it to a webhook: its own fingerprint of the labels (receivers
        deduplicate on it), empty labels absent, Go's RFC 3339 times."""
        labels = present_labels(self.labels)
        return {
            "status": self.status,
            "labels": labels,
            "annotations": self.annotations,
            "startsAt": _rfc3339(self.starts_at),
            "endsAt": _rfc3339(self.ends_at) if self.ends_at else "0001-01-01T00:00:00Z",
            "generatorURL": self.generator_url,
            "fingerprint": alertmanager_fingerprint(labels),
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
        return _common([present_labels(a.labels) for a in self.alerts])

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
            "groupLabels": present_labels(self.group_labels),
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


@runtime_checkable
class Resending(Notifier, Protocol):
    """A notifier that holds alert state elsewhere and lets it expire (Alertmanager): told again about every
    firing alert each `resend_interval` seconds, whatever the route's group and repeat timers."""

    resend_interval: float


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


def present_labels(labels: dict[str, str]) -> dict[str, str]:
    """Prometheus and Alertmanager treat a label with an empty value as absent, and leave it out."""
    return {k: v for k, v in labels.items() if v != ""}


_FNV64_OFFSET, _FNV64_PRIME, _SEPARATOR = 14695981039346656037, 1099511628211, 0xFF


def alertmanager_fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager's fingerprint of a label set (prometheus/common model.LabelSet.Fingerprint: FNV-1a 64 over
    the sorted names and values, each followed by 0xff)."""
    h = _FNV64_OFFSET
    for name in sorted(labels):
        for byte in name.encode() + bytes([_SEPARATOR]) + labels[name].encode() + bytes([_SEPARATOR]):
            h = ((h ^ byte) * _FNV64_PRIME) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def _rfc3339(when: datetime) -> str:
    """Go's RFC3339Nano, as Alertmanager writes times: no trailing zeros in the fraction, none at all if whole."""
    text = when.isoformat(timespec="microseconds").replace("+00:00", "Z")
    head, _, rest = text.partition(".")
    fraction, zone = rest[:6].rstrip("0"), rest[6:]
    return f"{head}.{fraction}{zone}" if fraction else f"{head}{zone}"
