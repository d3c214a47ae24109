"""Writes the Grafana dashboards under grafana/dashboards/ (`python grafana/build.py`).

The JSON is generated so every panel has the same shape and references a provisioned datasource by its fixed
uid; tests/unit/grafana/test_provisioning.py fails when the committed JSON is not what this script writes.
Prometheus panels read the series the collector exposes on /metrics (docs/slis.md, docs/deployment.md);
ClickHouse panels read the stable warehouse tables (events, flow_activity, quarantine, sli_snapshots,
probe_runs, probe_findings, alert_history), never the state tables whose layout may change between releases.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["CLICKHOUSE", "DASHBOARDS", "PROMETHEUS", "render", "write"]

OUT = Path(__file__).resolve().parent / "dashboards"
PROMETHEUS = {"type": "prometheus", "uid": "syncwatch-prometheus"}
CLICKHOUSE = {"type": "grafana-clickhouse-datasource", "uid": "syncwatch-clickhouse"}
_WIDTH = 24


class _Layout:
    """Places panels left to right in rows of 24 grid units, so a dashboard lists panels, not coordinates."""

    def __init__(self) -> None:
        self.x = self.y = self.row_height = 0
        self.next_id = 1

    def place(self, w: int, h: int) -> dict[str, int]:
        if self.x + w > _WIDTH:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0
        pos = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.x += w
        self.row_height = max(self.row_height, h)
        return pos


def _prom(expr: str, legend: str = "", *, instant: bool = False, ref: str = "A") -> dict[str, Any]:
    target: dict[str, Any] = {"datasource": PROMETHEUS, "refId": ref, "expr": expr, "legendFormat": legend or "__auto"}
    if instant:
        target.update(instant=True, range=False, format="table")
    return target


def _sql(sql: str, *, table: bool = False, ref: str = "A") -> dict[str, Any]:
    return {
        "datasource": CLICKHOUSE,
        "refId": ref,
        "editorType": "sql",
        "rawSql": sql.strip(),
        "format": 1 if table else 0,  # the plugin's formats: 0 time series, 1 table
        "queryType": "table" if table else "timeseries",
    }


def _panel(
    layout: _Layout,
    kind: str,
    title: str,
    targets: list[dict[str, Any]],
    *,
    w: int = 12,
    h: int = 8,
    unit: str = "",
    description: str = "",
    thresholds: list[tuple[float | None, str]] | None = None,
    minmax: tuple[float, float] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": unit} if unit else {}
    if thresholds:
        steps = [{"color": color, "value": value} for value, color in thresholds]
        defaults["thresholds"] = {"mode": "absolute", "steps": steps}
    if minmax:
        defaults["min"], defaults["max"] = minmax
    panel: dict[str, Any] = {
        "id": layout.next_id,
        "type": kind,
        "title": title,
        "description": description,
        "datasource": targets[0]["datasource"],
        "gridPos": layout.place(w, h),
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "targets": targets,
        **(extra or {}),
    }
    layout.next_id += 1
    return panel


def _query_variable(name: str, label: str, datasource: dict[str, str], query: str) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": datasource,
        "query": query,
        "definition": query,
        "refresh": 2,  # on time range change: a new flow or tenant appears without reloading the dashboard
        "multi": True,
        "includeAll": True,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
    }


def _dashboard(uid: str, title: str, description: str, panels: list[dict[str, Any]], variables: list[Any],
               time_from: str) -> dict[str, Any]:  # fmt: skip
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["syncwatch"],
        "editable": False,  # provisioned: edits belong in grafana/build.py, not in the UI
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": time_from, "to": "now"},
        "timezone": "utc",
        "templating": {"list": variables},
        "annotations": {"list": []},
        "links": [{"title": "SyncWatch dashboards", "type": "dashboards", "tags": ["syncwatch"], "asDropdown": True}],
        "panels": panels,
    }


# -- SyncWatch — SLOs (Prometheus) --------------------------------------------------------------------------------
def slos() -> dict[str, Any]:
    lay = _Layout()
    sli = 'sli=~"$sli"'
    panels = [
        _panel(lay, "stat", "SLIs outside their objective", [_prom(f"sum(syncwatch_sli_breached{{{sli}}})")], w=6,
               h=4, thresholds=[(None, "green"), (1, "red")],
               description="SLIs whose status is warning or breach (syncwatch_sli_breached)."),
        _panel(lay, "stat", "Firing alerts", [_prom('sum by (severity) (syncwatch_alerts{state="firing"})',
                                                    "{{severity}}")], w=6, h=4,
               thresholds=[(None, "green"), (1, "red")],
               description="Alerts the collector's own engine has firing, by severity (docs/alerting.md)."),
        _panel(lay, "stat", "Age of the SLI numbers", [_prom("time() - syncwatch_sli_snapshot_timestamp_seconds")],
               w=6, h=4, unit="s", thresholds=[(None, "green"), (300, "orange")],
               description="Seconds since the last SLI snapshot; every number here is at most this old."),
        _panel(lay, "stat", "Failed SLI snapshot runs", [_prom("syncwatch_sli_snapshot_failures")], w=6, h=4,
               thresholds=[(None, "green"), (1, "orange")]),
        _panel(lay, "table", "SLIs against their objectives", [
            _prom(f"syncwatch_sli_value{{{sli}}}", instant=True, ref="value"),
            _prom(f"syncwatch_slo_objective{{{sli}}}", instant=True, ref="objective"),
            _prom(f"syncwatch_slo_error_budget_remaining_ratio{{{sli}}}", instant=True, ref="budget"),
            _prom(f"syncwatch_sli_breached{{{sli}}}", instant=True, ref="breached"),
        ], w=24, h=10, description="Each SLI's value over its SLO window next to its objective (units per SLI, "
                                   "docs/slis.md) and the share of its error budget left.",
               extra={"transformations": [
                   {"id": "merge", "options": {}},
                   {"id": "organize", "options": {
                       "excludeByName": {"Time": True, "__name__": True, "instance": True, "job": True},
                       "renameByName": {"Value #value": "value", "Value #objective": "objective",
                                        "Value #budget": "error budget left", "Value #breached": "outside objective"},
                   }},
               ]}),
        _panel(lay, "timeseries", "$sli: value and objective", [
            _prom(f"syncwatch_sli_value{{{sli}}}", "value", ref="A"),
            _prom(f"syncwatch_slo_objective{{{sli}}}", "objective", ref="B"),
        ], w=8, h=7, extra={"repeat": "sli", "repeatDirection": "h", "maxPerRow": 3}),
        _panel(lay, "bargauge", "Error budget remaining", [
            _prom(f"syncwatch_slo_error_budget_remaining_ratio{{{sli}}}", "{{sli}}"),
        ], w=12, h=9, unit="percentunit", minmax=(-1, 1),
               thresholds=[(None, "red"), (0, "orange"), (0.25, "green")],
               description="1 - burn rate over the SLO window; negative when the budget is overspent.",
               extra={"options": {"orientation": "horizontal", "displayMode": "basic",
                                  "reduceOptions": {"calcs": ["lastNotNull"], "values": False}}}),
        _panel(lay, "timeseries", "Burn rate over the paging windows (1h, 6h)", [
            _prom(f'syncwatch_slo_burn_rate{{{sli},window=~"1h|6h"}}', "{{sli}} {{window}}"),
        ], w=12, h=9, thresholds=[(None, "green"), (6, "orange"), (14.4, "red")],
               description="Pages fire when the long and the short window both burn faster than 14.4x (1h/5m) "
                           "or 6x (6h/30m): the rules `syncwatch rules export` writes."),
        _panel(lay, "table", "Burn rates by window", [
            _prom(f"syncwatch_slo_burn_rate{{{sli}}}", instant=True),
        ], w=24, h=9, extra={"transformations": [
            {"id": "groupingToMatrix", "options": {"columnField": "window", "rowField": "sli", "valueField": "Value"}},
        ]}),
        _panel(lay, "timeseries", "Seconds since each flow's last event", [
            _prom('syncwatch_flow_last_event_age_seconds{flow=~"$flow"}', "{{flow}}"),
        ], unit="s", description="flow_silence per flow: a flow past 3x its cadence is silent."),
        _panel(lay, "timeseries", "SLI values per flow", [
            _prom(f'syncwatch_flow_sli_value{{{sli},flow=~"$flow"}}', "{{sli}} {{flow}}"),
        ]),
        _panel(lay, "table", "Dead-letter backlog per queue", [
            _prom("syncwatch_dead_letter_backlog_messages", instant=True, ref="messages"),
            _prom("syncwatch_dead_letter_oldest_age_seconds", instant=True, ref="oldest"),
        ], w=24, h=6, extra={"transformations": [
            {"id": "merge", "options": {}},
            {"id": "organize", "options": {
                "excludeByName": {"Time": True, "__name__": True, "instance": True, "job": True},
                "renameByName": {"Value #messages": "messages", "Value #oldest": "oldest (s)"},
            }},
        ]}),
    ]  # fmt: skip
    variables = [
        _query_variable("sli", "SLI", PROMETHEUS, "label_values(syncwatch_sli_value, sli)"),
        _query_variable("flow", "Flow", PROMETHEUS, "label_values(syncwatch_flow_last_event_age_seconds, flow)"),
    ]
    return _dashboard("syncwatch-slos", "SyncWatch — SLOs",
                      "Business SLIs against their objectives, error budgets and burn rates, from /metrics.",
                      panels, variables, "now-24h")  # fmt: skip


# -- SyncWatch — Records and flows (ClickHouse) -----------------------------------------------------------------
# Aliases never repeat a column name: ClickHouse would put the alias (a time bucket, an aggregate) in WHERE.
_FLOWS = "flow IN (${flow:singlequote})"
_TENANTS = "tenant_id IN (${tenant:singlequote})"

EVENTS_PER_FLOW = f"""
SELECT $__timeInterval(hour) AS bucket, flow, uniqExactMerge(events) AS distinct_events
FROM flow_activity
WHERE $__timeFilter(hour) AND {_FLOWS} AND {_TENANTS}
GROUP BY bucket, flow
ORDER BY bucket
"""

LAST_EVENT_PER_FLOW = f"""
SELECT flow, max(last_event_at) AS last_event, dateDiff('second', max(last_event_at), now()) AS silent_seconds
FROM flow_activity
WHERE {_FLOWS} AND {_TENANTS}
GROUP BY flow
ORDER BY silent_seconds DESC
"""

REJECTED_OVER_TIME = """
SELECT $__timeInterval(received_at) AS bucket, reason, count() AS rejected
FROM quarantine
WHERE $__timeFilter(received_at)
GROUP BY bucket, reason
ORDER BY bucket
"""

REJECTED_BY_REASON = """
SELECT reason, signal, field, count() AS rejected, max(received_at) AS last_seen, any(detail) AS example
FROM quarantine
WHERE $__timeFilter(received_at)
GROUP BY reason, signal, field
ORDER BY rejected DESC
"""

SLI_HISTORY = """
SELECT $__timeInterval(time) AS bucket, sli, avg(value) AS sli_value
FROM sli_snapshots
WHERE $__timeFilter(time) AND dimension = '' AND sli IN (${sli:singlequote})
GROUP BY bucket, sli
ORDER BY bucket
"""

BUDGET_HISTORY = """
SELECT $__timeInterval(time) AS bucket, sli, avg(budget_remaining) AS budget_left
FROM sli_snapshots
WHERE $__timeFilter(time) AND dimension = '' AND budget_remaining IS NOT NULL AND sli IN (${sli:singlequote})
GROUP BY bucket, sli
ORDER BY bucket
"""

# The eventual-posting SLI's open records, from the events themselves: an entry is approved by its timesheet's
# approval (or by the adjustment that created it) and closed by a posting, a write-off or a superseding
# adjustment. Aggregates are idempotent (min, argMax), so a redelivered event cannot add a row.
APPROVED_NOT_POSTED = f"""
WITH approved AS (
    SELECT if(canonical_type = 'timesheet.approved', e, entry_id) AS entry, min(time) AS approved_at,
           any(tenant_id) AS tenant
    FROM events
    LEFT ARRAY JOIN if(canonical_type = 'timesheet.approved', entry_ids, ['']) AS e
    WHERE canonical_type IN ('timesheet.approved', 'time_entry.adjusted') AND time <= $__toTime AND {_TENANTS}
    GROUP BY entry
    HAVING entry != '' AND approved_at >= $__fromTime
),
closed AS (
    SELECT if(canonical_type = 'time_entry.adjusted', JSONExtractString(data, 'supersedes_entry_id'), entry_id)
        AS entry
    FROM events
    WHERE canonical_type IN ('time_entry.posted', 'time_entry.written_off', 'time_entry.adjusted')
      AND time <= $__toTime
),
attempts AS (
    SELECT entry_id AS entry, argMaxIf(project_code, time, project_code != '') AS project,
           argMaxIf(amount, time, amount IS NOT NULL) AS amount, argMaxIf(currency, time, currency != '') AS currency,
           countIf(canonical_type = 'time_entry.post_requested') AS attempts,
           argMaxIf(concat(JSONExtractString(data, 'error_category'), ': ', JSONExtractString(data, 'error_code')),
                    time, canonical_type = 'time_entry.post_failed') AS last_error,
           countIf(canonical_type = 'time_entry.post_failed' AND NOT JSONExtractBool(data, 'retryable')) > 0
               AS blocked
    FROM events
    WHERE canonical_type LIKE 'time_entry.%' AND entry_id IN (SELECT entry FROM approved) AND time <= $__toTime
    GROUP BY entry
)
SELECT a.entry AS entry, a.tenant AS tenant, t.project AS project, t.amount AS amount, t.currency AS currency,
       a.approved_at AS approved_at, round(dateDiff('second', a.approved_at, $__toTime) / 3600, 1) AS age_hours,
       multiIf(t.blocked, 'blocked: ' || t.last_error, t.attempts = 0, 'approved, never sent to ERP',
               'approved, posting in progress') AS status
FROM approved AS a
LEFT JOIN attempts AS t ON t.entry = a.entry
WHERE a.entry NOT IN (SELECT entry FROM closed)
ORDER BY a.approved_at, t.amount DESC
LIMIT 500
"""

# A probe's latest answering run replaces its previous findings: older findings are history, not open work.
LATEST_FINDINGS = f"""
SELECT f.observed_at AS observed_at, f.probe AS probe, f.kind AS kind, f.system AS system, f.tenant_id AS tenant,
       f.object_type AS object_type, f.object_id AS object_id, f.project_code AS project,
       round(f.age_seconds / 3600, 1) AS age_hours, f.amount AS amount, f.currency AS currency, f.detail AS detail
FROM probe_findings AS f
WHERE (f.probe, f.run_id) IN (
    SELECT probe, argMax(run_id, started_at) FROM probe_runs WHERE outcome IN ('ok', 'mismatch') GROUP BY probe
) AND (f.tenant_id = '' OR f.{_TENANTS})
ORDER BY f.amount DESC NULLS LAST, f.age_seconds DESC
LIMIT 500
"""

FINDINGS_MONEY = f"""
SELECT f.kind AS kind, f.currency AS currency, count() AS findings, sum(f.amount) AS amount,
       round(max(f.age_seconds) / 3600, 1) AS oldest_hours
FROM probe_findings AS f
WHERE (f.probe, f.run_id) IN (
    SELECT probe, argMax(run_id, started_at) FROM probe_runs WHERE outcome IN ('ok', 'mismatch') GROUP BY probe
) AND (f.tenant_id = '' OR f.{_TENANTS})
GROUP BY kind, currency
ORDER BY amount DESC NULLS LAST
"""

ALERT_TRANSITIONS = """
SELECT time, rule, from_state, to_state, severity, summary, value
FROM alert_history
WHERE $__timeFilter(time)
ORDER BY time DESC
LIMIT 500
"""


def records() -> dict[str, Any]:
    lay = _Layout()
    panels = [
        _panel(lay, "timeseries", "Events per flow", [_sql(EVENTS_PER_FLOW)], w=16,
               description="Each event counted once (flow_activity keeps distinct source and id per hour)."),
        _panel(lay, "table", "Last event per flow", [_sql(LAST_EVENT_PER_FLOW, table=True)], w=8,
               extra={"fieldConfig": {"defaults": {}, "overrides": [
                   {"matcher": {"id": "byName", "options": "silent_seconds"},
                    "properties": [{"id": "unit", "value": "s"}]}]}}),
        _panel(lay, "timeseries", "Rejected and quarantined, by reason", [_sql(REJECTED_OVER_TIME)],
               description="Input the collector refused (docs/events.md lists the reasons); the payloads are kept "
                           "in the quarantine table."),
        _panel(lay, "table", "Rejections by reason and field", [_sql(REJECTED_BY_REASON, table=True)]),
        _panel(lay, "timeseries", "SLI history", [_sql(SLI_HISTORY)],
               description="Stored snapshots (sli_snapshots, one every SYNCWATCH_SLI_SNAPSHOT_SECONDS)."),
        _panel(lay, "timeseries", "Error budget remaining, history", [_sql(BUDGET_HISTORY)], unit="percentunit"),
        _panel(lay, "table", "Approved entries not posted", [_sql(APPROVED_NOT_POSTED, table=True)], w=24, h=10,
               description="Entries approved in the range and not posted, written off or superseded by its end: "
                           "the records behind time_posting_eventual and unbilled WIP, oldest first."),
        _panel(lay, "table", "Latest probe findings", [_sql(LATEST_FINDINGS, table=True)], w=16, h=10,
               description="Findings of each probe's latest answering run, costliest first (docs/probes.md)."),
        _panel(lay, "table", "Money in the latest findings", [_sql(FINDINGS_MONEY, table=True)], w=8, h=10,
               description="Per kind and currency; amounts are never converted between currencies."),
        _panel(lay, "table", "Alert transitions", [_sql(ALERT_TRANSITIONS, table=True)], w=24, h=9),
    ]  # fmt: skip
    variables = [
        _query_variable("flow", "Flow", CLICKHOUSE, "SELECT DISTINCT flow FROM flow_activity ORDER BY flow"),
        _query_variable("tenant", "Tenant", CLICKHOUSE,
                        "SELECT DISTINCT tenant_id FROM flow_activity WHERE tenant_id != '' ORDER BY tenant_id"),
        _query_variable("sli", "SLI", CLICKHOUSE, "SELECT DISTINCT sli FROM sli_snapshots ORDER BY sli"),
    ]  # fmt: skip
    return _dashboard("syncwatch-records", "SyncWatch — Records and flows",
                      "Events, rejections, SLI history and the records behind the numbers, from the warehouse.",
                      panels, variables, "now-7d")  # fmt: skip


# -- SyncWatch — Collector (Prometheus) -------------------------------------------------------------------------
def collector() -> dict[str, Any]:
    lay = _Layout()
    rate = "[$__rate_interval]"
    panels = [
        _panel(lay, "stat", "Warehouse up", [_prom("syncwatch_collector_warehouse_up")], w=6, h=4,
               thresholds=[(None, "red"), (1, "green")],
               description="0 while inserts fail: the collector then acknowledges what it can spool to disk."),
        _panel(lay, "stat", "Scrape up", [_prom('up{job="syncwatch"}')], w=6, h=4,
               thresholds=[(None, "red"), (1, "green")]),
        _panel(lay, "stat", "Batches spooled on disk", [_prom("syncwatch_collector_spooled_batches")], w=6, h=4,
               thresholds=[(None, "green"), (1, "orange")]),
        _panel(lay, "stat", "Insert failures (1h)",
               [_prom("sum(increase(syncwatch_collector_insert_failures_total[1h]))")], w=6, h=4,
               thresholds=[(None, "green"), (1, "red")]),
        _panel(lay, "timeseries", "Received, accepted and rejected per second", [
            _prom(f"sum by (signal) (rate(syncwatch_collector_received_total{rate}))", "received {{signal}}"),
            _prom(f"sum by (signal) (rate(syncwatch_collector_accepted_total{rate}))", "accepted {{signal}}", ref="B"),
            _prom(f"sum by (signal, reason) (rate(syncwatch_collector_rejected_total{rate}))",
                  "rejected {{signal}} {{reason}}", ref="C"),
        ], w=24, unit="reqps"),
        _panel(lay, "timeseries", "De-duplicated and unknown-type items per second", [
            _prom(f"sum by (signal) (rate(syncwatch_collector_deduplicated_total{rate}))", "duplicate {{signal}}"),
            _prom(f"rate(syncwatch_collector_unknown_type_events_total{rate})", "unknown type", ref="B"),
        ]),
        _panel(lay, "timeseries", "Throttled requests per second", [
            _prom(f"sum by (reason) (rate(syncwatch_collector_throttled_requests_total{rate}))", "{{reason}}"),
        ], description="429 (rate_limit per token) and 503 (queue_full: back-pressure from the writer)."),
        _panel(lay, "timeseries", "HTTP responses per second", [
            _prom(f"sum by (endpoint, code) (rate(syncwatch_collector_http_responses_total{rate}))",
                  "{{code}} {{endpoint}}"),
        ]),
        _panel(lay, "timeseries", "Rows waiting per table", [
            _prom("syncwatch_collector_queue_rows", "{{table}}"),
        ], description="Above SYNCWATCH_QUEUE_MAX_ROWS ingest answers 503 with Retry-After."),
        _panel(lay, "timeseries", "Insert latency p95", [
            _prom("histogram_quantile(0.95, sum by (table, le) "
                  f"(rate(syncwatch_collector_insert_duration_seconds_bucket{rate})))", "{{table}}"),
        ], unit="s"),
        _panel(lay, "timeseries", "Rows per insert (p50)", [
            _prom(f"histogram_quantile(0.5, sum by (table, le) (rate(syncwatch_collector_batch_rows_bucket{rate})))",
                  "{{table}}"),
        ], description="Small inserts make many parts; the writer batches up to SYNCWATCH_BATCH_MAX_ROWS."),
        _panel(lay, "timeseries", "Spool: batches on disk and writes per second", [
            _prom("syncwatch_collector_spooled_batches", "on disk"),
            _prom(f"sum by (table) (rate(syncwatch_collector_spool_writes_total{rate}))", "writes {{table}}",
                  ref="B"),
        ]),
        _panel(lay, "timeseries", "SLI snapshot duration", [
            _prom("histogram_quantile(0.95, sum by (le) "
                  f"(rate(syncwatch_sli_snapshot_duration_seconds_bucket{rate})))", "p95"),
            _prom("histogram_quantile(0.5, sum by (le) "
                  f"(rate(syncwatch_sli_snapshot_duration_seconds_bucket{rate})))", "p50", ref="B"),
        ], unit="s", thresholds=[(None, "green"), (1, "orange"), (15, "red")],
               description="Every SLI evaluated overall and per flow, and stored; the job runs every "
                           "SYNCWATCH_SLI_SNAPSHOT_SECONDS (30 s). docs/benchmarks.md has the figures by firm size."),
        _panel(lay, "timeseries", "Share of time merging state tables", [
            _prom(f"sum by (table) (rate(syncwatch_state_compaction_seconds_total{rate}))", "{{table}}"),
        ], unit="percentunit",
               description="The state compaction job (at most SYNCWATCH_STATE_COMPACTION_BUDGET of the time): "
                           "SLI queries read fresh parts slower until it has merged them."),
    ]  # fmt: skip
    return _dashboard("syncwatch-collector", "SyncWatch — Collector",
                      "The collector's own health: ingest rates, rejections, back-pressure, warehouse inserts, spool.",
                      panels, [], "now-6h")  # fmt: skip


DASHBOARDS = {"syncwatch-slos.json": slos, "syncwatch-records.json": records, "syncwatch-collector.json": collector}


def render(build: Any) -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def write(out: Path = OUT) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, build in DASHBOARDS.items():
        (out / name).write_text(render(build), encoding="utf-8")
        written.append(out / name)
    return written


if __name__ == "__main__":
    write()
