"""One client per target system: every call is budgeted, paced, retried with backoff that honours Retry-After,
bounded by the probe's deadline, counted, and traced (the httpx client is instrumented by tracing.py).

This is the one place httpx and JSON errors become the stage's error tree (errors.py).
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from probes.auth import Auth, NoAuth
from probes.budget import Deadline, SystemBudget
from probes.errors import (
    AuthFailed,
    BadResponse,
    DeadlineExceeded,
    HttpStatusError,
    Throttled,
    Unreachable,
)
from syncwatch.logs import redact_text, redact_url

__all__ = ["CallScope", "RetryPolicy", "SystemClient", "retry_after_seconds"]

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})  # Workday throttles SOAP with 500 (domain.md section 7)
LIMIT_CODES = ("REQUEST_LIMIT_EXCEEDED", "SSS_REQUEST_LIMIT_EXCEEDED")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 3
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Exponential with full jitter (AWS architecture blog), attempt counted from 1."""
        return rng.uniform(0, min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1)))


@dataclass
class CallScope:
    """One probe run's view of the calls it makes: its deadline and how many calls it spent on which system."""

    deadline: Deadline
    calls: dict[str, int] = field(default_factory=dict)

    def count(self, system: str) -> None:
        self.calls[system] = self.calls.get(system, 0) + 1

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())


def retry_after_seconds(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Retry-After as delta-seconds or an HTTP-date (RFC 9110 section 10.2.3); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now())


class SystemClient:
    def __init__(
        self,
        system: str,
        http: httpx.Client,
        budget: SystemBudget,
        auth: Auth | None = None,
        *,
        retry: RetryPolicy | None = None,
        request_timeout_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        seed: int | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.system = system
        self.options: Mapping[str, Any] = dict(options or {})  # system-specific settings, e.g. a Workday tenant
        self.http = http
        self.budget = budget
        self.auth: Auth = auth or NoAuth()
        self.retry = retry or RetryPolicy()
        self.request_timeout_s = request_timeout_s
        self._sleep = sleep
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self.last_limit_info = ""  # the target's own usage report (Salesforce Sforce-Limit-Info), when it sends one

    @property
    def base_url(self) -> str:
        return str(self.http.base_url)

    def close(self) -> None:
        self.http.close()

    # -- the one call path ------------------------------------------------------------------------------------
    def request(
        self,
        scope: CallScope,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        authenticate: bool = True,
    ) -> httpx.Response:
        """A 2xx response, or an error from the tree. Each attempt (and each token fetch) is one budgeted call."""
        attempt = 0
        refreshed = False
        while True:
            scope.deadline.check(f"{method} {self.system}")
            merged = dict(headers or {})
            if authenticate:
                merged.update(self.auth.headers(lambda token_url, form: self._token(scope, token_url, form)))
            sent = self._send(scope, method, url, params=params, json=json, data=data, headers=merged)
            response = sent if isinstance(sent, httpx.Response) else None
            transport_error = sent if isinstance(sent, str) else ""
            if response is not None and response.is_success:
                info = response.headers.get("sforce-limit-info")
                if info:
                    self.last_limit_info = info
                return response
            status = 0 if response is None else response.status_code
            if response is not None and status in (401, 403):
                if _limit_exceeded(response):
                    raise Throttled(f"{status} {_limit_text(response)}", system=self.system)
                if status == 401 and authenticate and self.auth.refreshable and not refreshed:
                    self.auth.invalidate()  # expired or revoked token: fetch a new one once
                    refreshed = True
                    continue
                raise AuthFailed(f"{method} {_path(url)} answered {status}", system=self.system)
            if response is not None and status not in RETRYABLE_STATUS:
                raise HttpStatusError(
                    f"{method} {_path(url)} answered {status}: {_snippet(response)}", system=self.system, status=status
                )
            attempt += 1
            wait = retry_after_seconds(None if response is None else response.headers.get("retry-after"))
            if attempt > self.retry.max_retries:
                raise self._give_up(method, url, response, transport_error, f"after {attempt} attempts")
            if wait is None:
                with self._rng_lock:
                    wait = self.retry.backoff(attempt, self._rng)
            if wait >= scope.deadline.remaining():
                raise self._give_up(
                    method, url, response, transport_error, f"retry in {wait:g} s would pass the deadline"
                )
            self._sleep(wait)

    def get_json(self, scope: CallScope, url: str, **kw: Any) -> Any:
        return self.decode(self.request(scope, "GET", url, **kw))

    def post_json(self, scope: CallScope, url: str, **kw: Any) -> Any:
        return self.decode(self.request(scope, "POST", url, **kw))

    def decode(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:  # json.JSONDecodeError and UnicodeDecodeError are both ValueErrors
            raise BadResponse(
                f"{response.request.method} {_path(str(response.request.url))} answered {response.status_code} "
                f"with a body that is not JSON ({len(response.content)} bytes)",
                system=self.system,
            ) from exc

    # -- internals --------------------------------------------------------------------------------------------
    def _token(self, scope: CallScope, token_url: str, form: dict[str, str]) -> object:
        response = self.request(scope, "POST", token_url, data=form, authenticate=False)
        return self.decode(response)

    def _send(self, scope: CallScope, method: str, url: str, **kw: Any) -> httpx.Response | str:
        """One attempt: a string describes a transient transport failure worth retrying."""
        with self.budget.slot(scope.deadline):
            scope.count(self.system)
            timeout = max(0.001, min(self.request_timeout_s, scope.deadline.remaining()))
            try:
                return self.http.request(method, url, timeout=timeout, **kw)
            except httpx.TimeoutException as exc:
                if scope.deadline.remaining() <= 0:
                    raise DeadlineExceeded(f"{method} {_path(url)} still running at the deadline") from exc
                return f"timed out after {timeout:.1f} s"
            except httpx.TransportError as exc:
                return redact_text(f"{type(exc).__name__}: {exc}")

    def _give_up(
        self, method: str, url: str, response: httpx.Response | None, transport_error: str, why: str
    ) -> Exception:
        if response is None:
            return Unreachable(
                f"{method} {_path(url)}: {transport_error or 'transport error'} ({why})",
                system=self.system,
            )
        if response.status_code == 429 or _limit_exceeded(response):
            return Throttled(f"{method} {_path(url)} answered 429 {_limit_text(response)} ({why})", system=self.system)
        return HttpStatusError(
            f"{method} {_path(url)} answered {response.status_code} ({why}): {_snippet(response)}",
            system=self.system,
            status=response.status_code,
        )


def _path(url: str) -> str:
    """The URL as errors and logs show it: queries carry record keys and tokens, URLs userinfo (syncwatch/logs.py)."""
    return redact_url(url).split("?", 1)[0]


def _snippet(response: httpx.Response, limit: int = 200) -> str:
    text = response.text.strip().replace("\n", " ")
    return text[:limit] + ("..." if len(text) > limit else "")


def _limit_exceeded(response: httpx.Response) -> bool:
    try:
        text = response.text
    except UnicodeDecodeError:
        return False
    return any(code in text for code in LIMIT_CODES)


def _limit_text(response: httpx.Response) -> str:
    for code in LIMIT_CODES:
        if code in response.text:
            return code
    return "Too Many Requests"
