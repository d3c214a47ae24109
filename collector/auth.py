"""Bearer-token authentication with scopes, a per-token rate limit, and a per-IP limit on failed attempts.

No or unknown token -> 401; known token without the scope -> 403 (scopes and what implies what:
syncwatch/tokens.py; `operate` acts on exception cases, `read` only views them); over the rate -> 429 with Retry-After.
A client IP that earned too many 401s gets 429 with Retry-After instead, until its bucket refills; a valid token
from the same IP (a colleague behind the same NAT) is never refused for it. Secrets are compared by hash and never
logged.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from fastapi import HTTPException, Request

from syncwatch.tokens import TokenRecord, hash_secret

__all__ = ["Authenticator", "RateLimiter", "TokenCache"]


class TokenCache:
    """Tokens by secret hash, refreshed from the warehouse and updated in place by the admin API."""

    def __init__(self) -> None:
        self._by_hash: dict[str, TokenRecord] = {}

    def replace(self, tokens: list[TokenRecord]) -> None:
        self._by_hash = {t.secret_sha256: t for t in tokens}

    def put(self, token: TokenRecord) -> None:
        self._by_hash = {h: t for h, t in self._by_hash.items() if t.name != token.name}
        self._by_hash[token.secret_sha256] = token

    def lookup(self, secret: str) -> TokenRecord | None:
        return self._by_hash.get(hash_secret(secret))


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token bucket per API token: `rate` requests per second on average, bursts up to `burst`."""

    def __init__(self, rate: float, burst: int, max_keys: int = 100_000):
        self.rate = rate
        self.burst = float(burst)
        self.max_keys = max_keys  # client IPs are the attacker's to choose: bound the memory they can take
        self._buckets: dict[str, _Bucket] = {}

    def take(self, name: str) -> float:
        """0 when allowed, else the seconds to wait before a retry can succeed."""
        now = time.monotonic()
        bucket = self._buckets.get(name)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                del self._buckets[next(iter(self._buckets))]  # the oldest key: it starts afresh if it returns
            bucket = self._buckets[name] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate


class Authenticator:
    def __init__(
        self,
        cache: TokenCache,
        limiter: RateLimiter,
        local_admin_secret: str | None = None,
        unauthenticated: RateLimiter | None = None,
    ):
        self.cache = cache
        self.limiter = limiter
        self.unauthenticated = unauthenticated or RateLimiter(1.0, 30)  # 401s per client IP (Settings sets it)
        self._local_admin = (
            TokenRecord("local-admin", ("admin",), hash_secret(local_admin_secret), time.time(), None)
            if local_admin_secret
            else None
        )

    def require(self, request: Request, scope: str) -> TokenRecord:
        header = request.headers.get("authorization", "")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise self._unauthenticated(request, "missing bearer token")
        secret = secret.strip()
        token = self.cache.lookup(secret)
        if token is None and self._local_admin and hash_secret(secret) == self._local_admin.secret_sha256:
            token = self._local_admin
        if token is None or token.revoked_at is not None:
            raise self._unauthenticated(request, "unknown or revoked token")
        if not token.allows(scope):
            raise HTTPException(403, f"token {token.name!r} lacks the {scope!r} scope")
        wait = self.limiter.take(token.name)
        if wait > 0:
            raise HTTPException(
                429, f"rate limit for token {token.name!r} exceeded", headers={"Retry-After": str(math.ceil(wait))}
            )
        return token

    def _unauthenticated(self, request: Request, reason: str) -> HTTPException:
        client = request.client.host if request.client else ""
        wait = self.unauthenticated.take(client)
        if wait > 0:
            return HTTPException(
                429, "too many unauthenticated requests from this address", {"Retry-After": str(math.ceil(wait))}
            )
        return HTTPException(401, reason, headers={"WWW-Authenticate": "Bearer"})
