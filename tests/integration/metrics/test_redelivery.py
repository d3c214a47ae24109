"""Every SLI is idempotent under redelivery of any age.

The collector's de-duplication index is bounded, so a redelivery older than it (or meeting an index emptied by a
restart) is inserted again and every materialized view sees it a second time. A simulated firm sent a second time
through a collector whose index holds nothing must leave the business state, every SLI, every breakdown and every
record lookup as the first delivery left them; and every state table must aggregate only with functions for which a
second copy of a row changes nothing, so that the next state table cannot quietly break this.
"""

from __future__ import annotations

import dataclasses
import math
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from clickhouse_connect.driver.client import Client

from metrics.catalogue import DIMENSIONS
from metrics.compaction import STATE_TABLES
from metrics.evaluate import Evaluator
from metrics.query import Db
from metrics.slo import load_slos
from syncwatch.settings import Settings
from tests.conftest import ThreadedCollector, Tokens, auth, free_port

SYNCWATCH = str(Path(sys.executable).parent / "syncwatch")
pytestmark = pytest.mark.integration

END = "2026-11-20T00:00:00Z"
AS_OF = datetime(2026, 11, 20, tzinfo=UTC)
# Aggregates whose result is the same whether a row is merged in once or twice. count, sum, avg, any/anyLast
# (order-dependent), quantile and the like are not.
IDEMPOTENT = {"min", "max", "uniqExact"}


def _firm(tmp_path: Path) -> list[bytes]:
    """A small simulated firm as CloudEvents, one JSON document per line (the simulator's own stream)."""
    out = tmp_path / "firm.ndjson"
    # Faults that make SLIs otherwise at zero move: duplicate postings, renamed projects, a dead-letter pile-up, a
    # lapsed rate card, a flow (and its connector) gone quiet.
    args = [SYNCWATCH, "simulate", "backfill", "--consultants", "150", "--days", "30", "--no-spans",
            "--output", str(out), "--end", END, "--fault", "duplicate_submissions@20",
            "--fault", "crm_rename@25", "--fault", "dead_letter_buildup@26",
            "--fault", "expired_rate_card@27", "--fault", "silent_flow@28"]  # fmt: skip
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    return [line for line in out.read_bytes().splitlines() if line]


def _send(url: str, token: str, lines: list[bytes], batch: int) -> int:
    """Through the real ingest path in batches; returns how many events the collector accepted as new."""
    headers = {**auth(token), "Content-Type": "application/cloudevents-batch+json"}
    accepted = 0
    with httpx.Client(timeout=120) as http:
        for i in range(0, len(lines), batch):
            body = b"[" + b",".join(lines[i : i + batch]) + b"]"
            r = http.post(f"{url}/v1/events", content=body, headers=headers)
            assert r.status_code in (200, 207) and r.json()["rejected"] == 0, r.text[:2000]
            accepted += r.json()["accepted"]
    return accepted


def _plain(value: Any) -> Any:
    """Results as comparable values: floats to 9 significant digits (a sum over rows read in another order may
    differ in the last bits), containers recursively."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and math.isfinite(value) and value != 0.0:
        return float(f"{value:.9g}")
    return value


def _every_sli(warehouse: Client) -> dict[str, Any]:
    """Every SLI overall and by every dimension it supports, with its burn-rate windows, as of the firm's end."""
    evaluator, db = Evaluator(load_slos()), Db(warehouse)
    found: dict[str, Any] = {"": _plain(evaluator.evaluate(db, as_of=AS_OF))}
    for by in DIMENSIONS:
        found[by] = _plain(evaluator.evaluate(db, as_of=AS_OF, by=by))
    return found


def _state(warehouse: Client) -> dict[str, tuple[int, int]]:
    """Per state table, its merged rows and a checksum of their values (aggregate states finalized)."""
    out = {}
    for table in STATE_TABLES:
        columns = warehouse.query(
            "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = {t:String}"
            " ORDER BY position",
            parameters={"t": table},
        ).result_rows
        values = ", ".join(
            f"finalizeAggregation(`{name}`)" if str(kind).startswith("AggregateFunction(") else f"`{name}`"
            for name, kind in columns
        )
        (row,) = warehouse.query(
            f"SELECT count(), sum(cityHash64(toString(({values},)))) FROM `{table}` FINAL"
        ).result_rows
        out[table] = (int(row[0]), int(row[1]))
    return out


def _journeys(url: str, token: str, keys: list[str]) -> dict[str, list[tuple[str, str]]]:
    """Per business key, the (source, id) of each event its lookup shows, in order."""
    with httpx.Client(timeout=60) as http:
        return {
            key: [
                (item["source"], item["id"])
                for item in http.get(f"{url}/api/v1/records/{key}", headers=auth(token)).json()["items"]
                if item["signal"] == "event"
            ]
            for key in keys
        }


def _changed(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """`breakdown/sli/key` of every result that differs, so a failure names what moved."""
    out = []
    for by, slis in before.items():
        for name in sorted(set(slis) | set(after[by])):
            old, new = slis.get(name, {}), after[by].get(name, {})
            out += [
                f"{by or 'overall'}/{name}/{key}" for key in sorted(set(old) | set(new)) if old.get(key) != new.get(key)
            ]
    return out


def test_a_whole_firm_redelivered_past_the_index_changes_no_sli(
    collector: ThreadedCollector, settings: Settings, tokens: Tokens, warehouse: Client, tmp_path: Path
) -> None:
    lines = _firm(tmp_path)
    assert _send(collector.url, tokens["ingest"], lines, 2000) == len(lines)
    before, state = _every_sli(warehouse), _state(warehouse)
    # The firm exercises what a second copy would skew: counts, ratios, percentiles, money, backlogs.
    overall = before[""]
    assert sum(1 for results in overall.values() if results[""]["value"]) >= 12
    assert overall["time_posting_first_pass"][""]["total"] > 1000
    assert overall["invoice_readiness_lag"][""]["total"] > 500
    assert overall["duplicate_submission_rate"][""]["details"]["duplicated"] > 0
    assert overall["exception_sla_compliance"][""]["total"] > 0
    assert overall["dead_letter_backlog"][""]["details"]["messages"] > 0
    assert overall["master_data_consistency"][""]["value"] > 0
    entries = {orjson.loads(line)["data"].get("entry_id", "") for line in lines[-2000:]}
    keys = sorted(entries - {""})[:20] + ["PRJ-US-000001"]
    journeys = _journeys(collector.url, tokens["read"], keys)
    assert all(journeys.values())
    key_rows = warehouse.query("SELECT count() FROM record_keys").result_rows[0][0]

    # A collector that remembers nothing, as an old redelivery finds the index: every event reaches the warehouse.
    # Newest first and in other batches, as a source replaying its history would, so that no insert repeats an
    # earlier one (the engine would drop an identical insert whole, by its de-duplication token).
    forgetful = settings.model_copy(update={"dedup_cache_keys": 0, "port": free_port(), "var_dir": tmp_path / "v2"})
    with ThreadedCollector(forgetful) as again:
        assert _send(again.url, tokens["ingest"], lines[::-1], 1500) == len(lines)
        assert _journeys(again.url, tokens["read"], keys) == journeys
    # Every view saw every event twice: record_keys, a plain MergeTree, keeps each row it is given.
    assert warehouse.query("SELECT count() FROM record_keys").result_rows[0][0] == 2 * key_rows

    assert _state(warehouse) == state
    after = _every_sli(warehouse)
    assert _changed(before, after) == []
    assert after == before


def _function(kind: str) -> str | None:
    """The aggregate of a SimpleAggregateFunction(f, T) or AggregateFunction(f, T) column, None for a plain one."""
    found = re.match(r"(?:Simple)?AggregateFunction\((\w+)", kind)
    return found.group(1) if found else None


def test_every_state_table_aggregates_idempotently(warehouse: Client) -> None:
    # Every table a view of the events fills, except the key index (its lookups select events by membership, so a
    # second row changes nothing shown: the test above looks records up before and after).
    targets = {
        str(row[0])
        for row in warehouse.query(
            """SELECT extract(create_table_query, 'TO [`]?[A-Za-z0-9_]+[`]?[.][`]?([A-Za-z0-9_]+)')
               FROM system.tables WHERE database = currentDatabase() AND engine = 'MaterializedView'
                 AND name NOT LIKE 'otel_%'"""
        ).result_rows
    } - {"record_keys"}
    assert targets == set(STATE_TABLES)
    rows = warehouse.query(
        """SELECT t.name, t.engine, c.name, c.type, c.is_in_sorting_key
           FROM system.columns AS c INNER JOIN system.tables AS t ON t.database = c.database AND t.name = c.table
           WHERE c.database = currentDatabase() AND c.table IN {tables:Array(String)}""",
        parameters={"tables": sorted(targets)},
    ).result_rows
    assert {engine for _, engine, *_ in rows} == {"AggregatingMergeTree"}
    # A plain column outside the sorting key would keep whichever row a merge met last.
    loose = [(table, column, kind) for table, _, column, kind, keyed in rows
             if not keyed and _function(str(kind)) not in IDEMPOTENT]  # fmt: skip
    assert loose == []
