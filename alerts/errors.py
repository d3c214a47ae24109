"""The alerts stage's errors.

    AlertsError
      +-- ConfigError          the rules/routing YAML is invalid; names the rule (or section) and the field
      +-- DeliveryFailed       a notifier could not deliver (after translation from httpx/smtplib errors)

Delivery failures are normal in operations, so notifiers return a `Delivery` value (notifiers/base.py); the
exception exists for the single place where lower-library errors are translated.
"""

from __future__ import annotations

__all__ = ["AlertsError", "ConfigError", "DeliveryFailed"]


class AlertsError(Exception):
    """Base of every error the alerts stage raises on purpose."""


class ConfigError(AlertsError):
    """An invalid rule, route, receiver or time interval. `where` is e.g. "rule 'FlowSilent'", `field` "for"."""

    def __init__(self, where: str, field: str, problem: str) -> None:
        self.where, self.field, self.problem = where, field, problem
        super().__init__(f"{where}, field {field!r}: {problem}")


class DeliveryFailed(AlertsError):
    """One delivery attempt failed. `retryable` says whether trying again can help (5xx, 429, network)."""

    def __init__(self, message: str, *, retryable: bool, status_code: int | None = None) -> None:
        self.retryable, self.status_code = retryable, status_code
        super().__init__(message)
