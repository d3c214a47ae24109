"""Credentials the simulated systems accept: OAuth2 client credentials (token endpoint per vendor style) and
API keys. Tokens are random, per system, and expire."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from fastapi import HTTPException, Request

__all__ = ["Credentials", "TokenStore", "read_form"]


@dataclass(frozen=True)
class Credentials:
    client_id: str = "syncwatch-probe"
    client_secret: str = "sim-client-secret"
    api_key: str = "sim-api-key"
    admin_token: str = "sim-admin-token"
    token_ttl_s: int = 3600


@dataclass
class TokenStore:
    credentials: Credentials
    _tokens: dict[str, tuple[str, float]] = field(default_factory=dict)  # token -> (system, expires)

    def issue(
        self, system: str, client_id: str | None, client_secret: str | None, grant_type: str | None
    ) -> dict[str, object]:
        if grant_type != "client_credentials":
            raise HTTPException(400, {"error": "unsupported_grant_type"})
        if client_id != self.credentials.client_id or client_secret != self.credentials.client_secret:
            raise HTTPException(401, {"error": "invalid_client"})
        token = secrets.token_urlsafe(24)
        self._tokens[token] = (system, time.time() + self.credentials.token_ttl_s)
        return {"access_token": token, "token_type": "Bearer", "expires_in": self.credentials.token_ttl_s}

    def require_bearer(self, request: Request, system: str) -> None:
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else ""
        held = self._tokens.get(token)
        if held is None or held[0] != system or held[1] < time.time():
            raise HTTPException(
                401,
                {"error": "invalid_token", "error_description": "missing, unknown or expired token"},
                headers={"WWW-Authenticate": "Bearer"},
            )

    def require_api_key(self, request: Request) -> None:
        if request.headers.get("x-api-key") != self.credentials.api_key:
            raise HTTPException(401, {"error": "invalid_api_key"})

    def require_admin(self, request: Request) -> None:
        if request.headers.get("authorization", "") != f"Bearer {self.credentials.admin_token}":
            raise HTTPException(401, {"error": "admin token required"})


async def read_form(request: Request) -> dict[str, str]:
    """application/x-www-form-urlencoded, as token endpoints take it (no multipart dependency needed)."""
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
