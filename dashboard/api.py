"""The dashboard's only way to data: the collector's HTTP API, with a read token.

Failure is normal here (the collector restarts, a stage is not deployed yet, a token is revoked), so every call
returns an outcome value instead of raising; pages turn outcomes into messages, never into tracebacks:

    Outcome
     +-- Ok            200: `data` is the decoded JSON body
     +-- Unavailable   404 from the router: this endpoint does not exist on that collector (stage not deployed)
     +-- Failed        anything else, with a `kind`:
          +-- unreachable   connection refused, DNS, timeout
          +-- unauthorized  401: no, unknown or revoked token
          +-- forbidden     403: the token lacks the scope
          +-- not_found     404 from a handler (an unknown SLI, probe or silence)
          +-- throttled     429 or 503 (with Retry-After when given)
          +-- invalid       422: the request was refused
          +-- server        other 4xx/5xx, or a body that is not JSON

httpx errors are translated in exactly one place (`ApiClient._call`).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import httpx
import orjson

from syncwatch.settings import Settings

__all__ = [
    "BREAKDOWN_PAGE",
    "SLI_NAMES",
    "ApiClient",
    "Failed",
    "FailureKind",
    "Ok",
    "Outcome",
    "Request",
    "Unavailable",
    "read_token",
]

# The metrics stage's SLI names, in the order the Overview shows them (flow by flow, money last).
# The read API's largest page of breakdown rows (metrics/api.py MAX_PAGE), asked for where all rows are shown.
BREAKDOWN_PAGE = 10_000
SLI_NAMES: tuple[str, ...] = (
    "time_posting_first_pass",
    "time_posting_eventual",
    "time_posting_pickup",
    "time_posting_rejections",
    "duplicate_submission_rate",
    "invoice_readiness_lag",
    "billing_sync_latency",
    "unbilled_wip_at_risk",
    "resource_plan_freshness",
    "master_data_consistency",
    "rate_card_exposure",
    "exception_sla_compliance",
    "dead_letter_backlog",
    "flow_silence",
)

FailureKind = Literal["unreachable", "unauthorized", "forbidden", "not_found", "throttled", "invalid", "server"]


@dataclass(frozen=True)
class Ok:
    data: Any
    elapsed_ms: float = 0.0

    ok: Literal[True] = True


@dataclass(frozen=True)
class Unavailable:
    """The collector answers but has no such route: the stage that serves it is not deployed (yet)."""

    path: str
    ok: Literal[False] = False

    @property
    def message(self) -> str:
        return f"the collector has no {self.path} endpoint yet (its stage is not deployed)"


@dataclass(frozen=True)
class Failed:
    kind: FailureKind
    message: str
    status: int | None = None
    retry_after: str | None = None
    ok: Literal[False] = False


Outcome = Ok | Unavailable | Failed


@dataclass(frozen=True)
class Request:
    """One GET, hashable so a page's requests can be cached as one bundle."""

    path: str
    params: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, path: str, **params: object) -> Request:
        return cls(path, tuple((k, _param(v)) for k, v in params.items() if v is not None and v != ""))


def _param(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def read_token(settings: Settings) -> str:
    """The read token from SYNCWATCH_DASHBOARD_TOKEN, else from the token file; '' when neither is set."""
    if settings.dashboard_token:
        return settings.dashboard_token.strip()
    path: Path | None = settings.dashboard_token_file
    if path is not None and path.exists():
        return path.read_text().strip()
    return ""


@dataclass
class ApiClient:
    """Collector API client. `transport` is injectable (httpx.MockTransport in tests)."""

    base_url: str
    token: str
    admin_token: str = ""
    timeout: float = 10.0
    transport: httpx.BaseTransport | None = None
    _http: httpx.Client = field(init=False, repr=False)
    # Kept for the client's life: starting threads per page render cost more than the requests on a busy host.
    _pool: ThreadPoolExecutor = field(init=False, repr=False)
    _read_only: ApiClient | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=self.timeout,
            transport=self.transport,
            headers={"Accept": "application/json", "User-Agent": "syncwatch-dashboard"},
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
        )
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="dashboard-api")

    @classmethod
    def from_settings(cls, settings: Settings) -> ApiClient:
        return cls(
            settings.dashboard_api_url,
            read_token(settings),
            settings.dashboard_admin_token.strip(),
            settings.dashboard_timeout_seconds,
        )

    @property
    def identity(self) -> str:
        """Cache key: which collector, with which credentials (a digest, never the secret itself)."""
        digest = hashlib.sha256(f"{self.token}\0{self.admin_token}".encode()).hexdigest()[:16]
        return f"{self.base_url}#{digest}"

    @property
    def can_administer(self) -> bool:
        return bool(self.admin_token)

    def with_token(self, token: str) -> ApiClient:
        """The same collector with one viewer's token for reads and writes, so the collector enforces its scopes."""
        return ApiClient(self.base_url, token, token, self.timeout, self.transport)

    def without_admin(self) -> ApiClient:
        """This client with no admin token (kept for the client's life): what a read-only viewer's pages get, so
        no page of theirs can send a change even through a bug in its own checks."""
        if not self.admin_token:
            return self
        if self._read_only is None:
            self._read_only = ApiClient(self.base_url, self.token, "", self.timeout, self.transport)
        return self._read_only

    def close(self) -> None:
        if self._read_only is not None:
            self._read_only.close()
        self._pool.shutdown(wait=False)
        self._http.close()

    # -- generic ------------------------------------------------------------------------------------------
    def get(self, request: Request) -> Outcome:
        return self._call("GET", request.path, params=dict(request.params))

    def get_many(self, requests: Iterable[Request]) -> dict[Request, Outcome]:
        """Several GETs at once: a page's first render waits for the slowest answer, not for their sum."""
        wanted = list(dict.fromkeys(requests))
        if len(wanted) <= 1:
            return {r: self.get(r) for r in wanted}
        return dict(zip(wanted, self._pool.map(self.get, wanted), strict=True))

    def _call(self, method: str, path: str, *, params: Mapping[str, str] | None = None, **kwargs: Any) -> Outcome:
        token = self.admin_token if method != "GET" else self.token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        started = time.perf_counter()
        try:
            response = self._http.request(method, path, params=params, headers=headers, **kwargs)
        except httpx.TimeoutException:
            return Failed("unreachable", f"the collector at {self.base_url} did not answer within {self.timeout:g} s")
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            return Failed("unreachable", f"the collector at {self.base_url} is unreachable ({reason})")
        elapsed = (time.perf_counter() - started) * 1000
        return _outcome(path, response, elapsed)

    # -- collector ----------------------------------------------------------------------------------------
    def record(self, key: str, kind: str = "", limit: int = 2000) -> Outcome:
        return self.get(Request.of(f"/api/v1/records/{quote(key, safe='')}", kind=kind, limit=limit))

    def quarantine(
        self, limit: int = 100, reason: str = "", signal: str = "", since: datetime | None = None
    ) -> Outcome:
        return self.get(Request.of("/api/v1/quarantine", limit=limit, reason=reason, signal=signal, since=since))

    def whoami(self) -> Outcome:
        """The token's name and scopes (GET /api/v1/whoami, read scope): how a token login is checked."""
        return self._call("GET", "/api/v1/whoami")

    def readiness(self) -> Outcome:
        """/readyz answers 503 with a JSON body when not ready: that body is the interesting part."""
        outcome = self._call("GET", "/readyz")
        if isinstance(outcome, Failed) and outcome.status == 503:
            return Ok({"status": "not ready", "problems": [outcome.message]})
        return outcome

    # -- alerts (writes need the admin scope) ----------------------------------------------------------------
    def create_silence(
        self, matchers: list[dict[str, Any]], ends_at: datetime, created_by: str, comment: str
    ) -> Outcome:
        body = {"matchers": matchers, "ends_at": _param(ends_at), "created_by": created_by, "comment": comment}
        return self._call("POST", "/api/v1/silences", json=body)

    def expire_silence(self, silence_id: str) -> Outcome:
        return self._call("DELETE", f"/api/v1/silences/{quote(silence_id, safe='')}")

    def acknowledge(self, fingerprint: str) -> Outcome:
        return self._call("POST", f"/api/v1/alerts/{quote(fingerprint, safe='')}/ack")

    # -- exception queue (actions need the operate scope) ------------------------------------------------------
    def act_on_case(self, case_id: str, action: Mapping[str, str]) -> Outcome:
        return self._call("POST", f"/api/v1/exceptions/{quote(case_id, safe='')}/actions", json=dict(action))


def _outcome(path: str, response: httpx.Response, elapsed_ms: float) -> Outcome:
    try:
        # orjson: a 50,000-row breakdown decodes several times faster than with the standard library
        body: Any = orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        body = None
    status = response.status_code
    if status < 300:
        if body is None and response.content:
            return Failed("server", f"{path} answered {status} with a body that is not JSON", status)
        return Ok(body, elapsed_ms)
    # FastAPI's router answers {"detail": "Not Found"} for a path it does not know; our handlers use "error".
    if status == 404 and isinstance(body, dict) and body.get("detail") == "Not Found" and "error" not in body:
        return Unavailable(path)
    detail = _detail(body) or response.reason_phrase or "no detail"
    if status == 401:
        return Failed("unauthorized", f"the collector refused the token: {detail}", status)
    if status == 403:
        return Failed("forbidden", f"the token may not do this: {detail}", status)
    if status == 404:
        return Failed("not_found", detail, status)
    if status in (429, 503):
        retry = response.headers.get("retry-after")
        hint = f"; retry in {retry} s" if retry else ""
        return Failed("throttled", f"the collector is busy ({status}): {detail}{hint}", status, retry)
    if status == 422:
        return Failed("invalid", f"the collector refused the request: {detail}", status)
    return Failed("server", f"the collector answered {status}: {detail}", status)


def _detail(body: Any) -> str:
    if isinstance(body, dict):
        for name in ("error", "detail", "message"):
            value = body.get(name)
            if isinstance(value, str):
                return value
            if value is not None:
                return str(value)[:300]
        if isinstance(body.get("problems"), list):
            return "; ".join(str(p) for p in body["problems"])[:300]
    return ""
