"""API tokens: a name, scopes, and only the SHA-256 of the secret, kept in the warehouse's `tokens` table.

The secret is shown once, at creation. Scopes: ingest (send events and spans), read (the read API), operate (act on
exception cases: acknowledge, assign, resolve; implies read, since an operator works the queue they see), admin
(tokens and everything else; admin implies the others).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass

from clickhouse_connect.driver.client import Client

__all__ = ["SCOPES", "TokenRecord", "create_token", "hash_secret", "list_tokens", "new_secret", "revoke_token"]

SCOPES = ("ingest", "read", "operate", "admin")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class TokenRecord:
    name: str
    scopes: tuple[str, ...]
    secret_sha256: str
    created_at: float
    revoked_at: float | None

    def allows(self, scope: str) -> bool:
        if self.revoked_at is not None:
            return False
        return scope in self.scopes or "admin" in self.scopes or (scope == "read" and "operate" in self.scopes)

    def public(self) -> dict[str, object]:
        return {
            "name": self.name,
            "scopes": list(self.scopes),
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


def new_secret() -> str:
    return "swt_" + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def validate(name: str, scopes: list[str]) -> None:
    if not _NAME.match(name):
        raise ValueError(
            "token name: 1-64 characters of letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    if not scopes:
        raise ValueError("a token needs at least one scope")
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise ValueError(f"unknown scope {unknown[0]!r}; scopes are {', '.join(SCOPES)}")


def list_tokens(client: Client) -> list[TokenRecord]:
    rows = client.query(
        "SELECT name, scopes, secret_sha256, toUnixTimestamp64Milli(created_at), "
        "if(revoked_at IS NULL, NULL, toUnixTimestamp64Milli(assumeNotNull(revoked_at))) "
        "FROM tokens FINAL ORDER BY name"
    ).result_rows
    return [TokenRecord(r[0], tuple(r[1]), r[2], r[3] / 1000, None if r[4] is None else r[4] / 1000) for r in rows]


def create_token(client: Client, name: str, scopes: list[str]) -> tuple[TokenRecord, str]:
    """Store a new token and return it with its secret. A live token of the same name must be revoked first."""
    validate(name, scopes)
    existing = {t.name: t for t in list_tokens(client)}
    if name in existing and existing[name].revoked_at is None:
        raise ValueError(f"a token named {name!r} exists; revoke it first or pick another name")
    secret = new_secret()
    now = time.time()
    record = TokenRecord(name, tuple(dict.fromkeys(scopes)), hash_secret(secret), now, None)
    _write(client, record)
    return record, secret


def revoke_token(client: Client, name: str) -> TokenRecord:
    existing = {t.name: t for t in list_tokens(client)}
    if name not in existing:
        raise KeyError(f"no token named {name!r}")
    old = existing[name]
    record = TokenRecord(old.name, old.scopes, old.secret_sha256, old.created_at, old.revoked_at or time.time())
    _write(client, record)
    return record


def _write(client: Client, record: TokenRecord) -> None:
    client.insert(
        "tokens",
        [
            [
                record.name,
                list(record.scopes),
                record.secret_sha256,
                int(record.created_at * 1000),
                None if record.revoked_at is None else int(record.revoked_at * 1000),
                time.time_ns(),
            ]
        ],
        column_names=["name", "scopes", "secret_sha256", "created_at", "revoked_at", "version"],
    )
