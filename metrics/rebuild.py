"""Rebuild the business state from the events already stored, for warehouses that held events before the state
tables existed (an upgrade) or after a state table was dropped. The views only see new inserts; this replays
their own SELECTs over the stored events. Safe to run twice: every state aggregate is idempotent."""

from __future__ import annotations

import logging

from clickhouse_connect.driver.client import Client

__all__ = ["rebuild_state", "state_is_missing"]

log = logging.getLogger("syncwatch.metrics")


def state_is_missing(client: Client) -> bool:
    """Events are stored but no entry, flow or project state was ever built from them."""
    events = client.query("SELECT count() FROM events").result_rows[0][0]
    if not events:
        return False
    built = client.query("SELECT count() FROM flow_activity").result_rows[0][0]
    return bool(built == 0)


def rebuild_state(client: Client) -> int:
    """Replay every state view over the stored events; returns how many views were replayed."""
    views = client.query(
        """SELECT name, extract(create_table_query, 'TO [`]?[A-Za-z0-9_]+[`]?[.][`]?([A-Za-z0-9_]+)'), as_select
           FROM system.tables
           WHERE database = currentDatabase() AND engine = 'MaterializedView'
             AND name NOT LIKE 'record_keys%' AND name NOT LIKE 'otel_%'"""
    ).result_rows
    for name, target, select in views:
        log.info("rebuilding %s from stored events through %s", target, name)
        # By name: a view writes the columns it fills, not necessarily all of them, nor in the table's order.
        columns = ", ".join(f"`{row[0]}`" for row in client.query(f"DESCRIBE TABLE ({select})").result_rows)
        client.command(f"INSERT INTO `{target}` ({columns}) {select}")
    return len(views)
