"""The modules other stages import from, and what they export: changing these is a deliberate act."""

from __future__ import annotations

import importlib

import pytest

SURFACE = {
    "syncwatch.settings": ["Settings"],
    "syncwatch.warehouse": ["WarehouseLocked", "WarehouseUnavailable", "applied_versions", "apply_migrations",
                            "connect", "pending_migrations", "resolve_dsn"],
    "syncwatch.vocabulary": ["BUSINESS_KEY_KINDS", "CATALOGUE", "EXTENSIONS", "SPAN_KEY_ATTRIBUTES", "FieldKind",
                             "canonical_type"],
    "syncwatch.tokens": ["SCOPES", "TokenRecord", "create_token", "hash_secret", "list_tokens", "new_secret",
                         "revoke_token"],
    "collector.app": ["create_app"],
    "collector.parsing": ["ParsedEvents", "ParsedSpans", "exit_with_parent", "parse_events", "parse_spans"],
    "collector.writer": ["QueueFull", "Refused", "TableWriter", "WriteFailed", "classify"],
}  # fmt: skip


@pytest.mark.parametrize("module", sorted(SURFACE))
def test_public_names(module: str) -> None:
    loaded = importlib.import_module(module)
    assert sorted(loaded.__all__) == sorted(SURFACE[module])
    for name in loaded.__all__:
        assert hasattr(loaded, name), name
