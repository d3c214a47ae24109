"""How probes authenticate: OAuth2 client credentials (token cached until shortly before expiry, refreshed on
expiry or on a 401), a static API key header, a bearer key, or HTTP basic. Secrets stay inside `Secret`."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from probes.secrets import Secret

__all__ = ["ApiKeyAuth", "Auth", "BasicAuth", "BearerAuth", "NoAuth", "OAuth2ClientCredentials", "TokenFetcher"]

# Fetches a token: (token_url, form) -> parsed JSON body. Provided by the transport, so a token call is budgeted,
# retried and traced like any other call.
TokenFetcher = Callable[[str, dict[str, str]], object]


class Auth(Protocol):
    refreshable: bool

    def headers(self, fetch: TokenFetcher) -> dict[str, str]: ...

    def invalidate(self) -> None: ...


@dataclass
class NoAuth:
    refreshable: bool = False

    def headers(self, fetch: TokenFetcher) -> dict[str, str]:
        return {}

    def invalidate(self) -> None:
        return None


class ApiKeyAuth:
    refreshable = False

    def __init__(self, key: Secret, header: str = "X-API-Key") -> None:
        self._key, self._header = key, header

    def headers(self, fetch: TokenFetcher) -> dict[str, str]:
        return {self._header: self._key.reveal()}

    def invalidate(self) -> None:
        return None


class BearerAuth:
    refreshable = False

    def __init__(self, token: Secret) -> None:
        self._token = token

    def headers(self, fetch: TokenFetcher) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token.reveal()}"}

    def invalidate(self) -> None:
        return None


class BasicAuth:
    refreshable = False

    def __init__(self, username: str, password: Secret) -> None:
        self._value = base64.b64encode(f"{username}:{password.reveal()}".encode()).decode()

    def headers(self, fetch: TokenFetcher) -> dict[str, str]:
        return {"Authorization": f"Basic {self._value}"}

    def invalidate(self) -> None:
        return None


class OAuth2ClientCredentials:
    """RFC 6749 section 4.4. One token per system, shared by every probe thread; refreshed `skew_s` before expiry."""

    refreshable = True

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: Secret,
        scope: str = "",
        *,
        skew_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token_url = token_url
        self._client_id, self._secret, self._scope = client_id, client_secret, scope
        self._skew, self._clock = skew_s, clock
        self._token: str | None = None
        self._refresh_at = 0.0
        self._lock = threading.Lock()
        self.tokens_fetched = 0

    def headers(self, fetch: TokenFetcher) -> dict[str, str]:
        with self._lock:  # one refresh at a time; the others wait and reuse it
            if self._token is None or self._clock() >= self._refresh_at:
                self._token, lifetime = self._fetch(fetch)
                # Refresh a little early (a token that expires in flight costs a 401 and a retry), but never so
                # early that a short-lived token is fetched for every call.
                self._refresh_at = self._clock() + lifetime - min(self._skew, lifetime * 0.1)
                self.tokens_fetched += 1
            return {"Authorization": f"Bearer {self._token}"}

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def _fetch(self, fetch: TokenFetcher) -> tuple[str, float]:
        from probes.errors import AuthFailed

        form = {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._secret.reveal(),
        }
        if self._scope:
            form["scope"] = self._scope
        body = fetch(self.token_url, form)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise AuthFailed("token endpoint answered without an access_token")
        lifetime = body.get("expires_in", 3600) if isinstance(body, dict) else 3600
        try:
            seconds = float(lifetime)
        except (TypeError, ValueError):
            seconds = 3600.0
        return token, max(1.0, seconds)
