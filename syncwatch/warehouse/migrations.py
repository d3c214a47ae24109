"""Forward-only, numbered SQL migrations recorded in `schema_migrations`, plus retention kept in step.

A migration file is NNNN_name.sql under migrations/; statements end with ';' at the end of a line. Files are
never edited once released: an upgrade is a new file using IF NOT EXISTS / ADD COLUMN IF NOT EXISTS, so it
reaches tables that already exist. `{retention_days}` in a file is filled from settings; a later change of
SYNCWATCH_RETENTION_DAYS is applied to existing tables by `sync_retention` (TTL changes that never reach existing
tables are a known pain of peers).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

from clickhouse_connect.driver.client import Client

__all__ = ["Migration", "applied_versions", "apply_migrations", "load_migrations", "pending_migrations"]

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

# A table's retention TTL as the migrations write it: `TTL <expression> + toIntervalDay(<days>)`. Every table
# created with `{retention_days}` has one, so new tables of any stage follow the setting without being listed.
_TTL = re.compile(r"\bTTL (?P<expr>.+?\btoIntervalDay\()(?P<days>\d+)\)")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def statements(self, retention_days: int) -> list[str]:
        body = "\n".join(line for line in self.sql.splitlines() if not line.lstrip().startswith("--"))
        body = body.replace("{retention_days}", str(int(retention_days)))
        return [s.strip() for s in re.split(r";\s*$", body, flags=re.M) if s.strip()]


def load_migrations() -> list[Migration]:
    found = []
    for entry in resources.files("syncwatch.warehouse").joinpath("migrations").iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    return found


def _ensure_table(client: Client) -> None:
    client.command(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, checksum String, "
        "applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = MergeTree ORDER BY version"
    )


def applied_versions(client: Client) -> set[int]:
    _ensure_table(client)
    return {int(r[0]) for r in client.query("SELECT version FROM schema_migrations").result_rows}


def pending_migrations(client: Client) -> list[Migration]:
    done = applied_versions(client)
    return [m for m in load_migrations() if m.version not in done]


def apply_migrations(client: Client, retention_days: int) -> list[Migration]:
    """Apply what is pending, in order; each statement is idempotent so a crash mid-file is safe to rerun."""
    applied = []
    for migration in pending_migrations(client):
        for statement in migration.statements(retention_days):
            client.command(statement)
        client.insert(
            "schema_migrations",
            [[migration.version, migration.name, migration.checksum]],
            column_names=["version", "name", "checksum"],
        )
        applied.append(migration)
    sync_retention(client, retention_days)
    return applied


def sync_retention(client: Client, retention_days: int) -> list[str]:
    """MODIFY TTL on every table whose retention TTL differs from the configured one; returns the tables changed."""
    changed = []
    rows = client.query(
        "SELECT name, create_table_query FROM system.tables "
        "WHERE database = currentDatabase() AND engine LIKE '%MergeTree' AND create_table_query LIKE '%toIntervalDay(%'"
    ).result_rows
    for name, create in rows:
        found = _TTL.search(create)
        if found is None or int(found["days"]) == int(retention_days):
            continue
        client.command(f"ALTER TABLE `{name}` MODIFY TTL {found['expr']}{int(retention_days)})")
        changed.append(name)
    return changed
