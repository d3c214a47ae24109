-- Spans: the OpenTelemetry collector ClickHouse exporter's otel_traces columns and types, so a firm can point that
-- exporter at the same database. ReplacingMergeTree with TraceId/SpanId at the end of the key: a span re-sent
-- after a dropped connection collapses into one row (reads use FINAL).
CREATE TABLE IF NOT EXISTS otel_traces
(
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested
    (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Links Nested
    (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(Timestamp)
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp), TraceId, SpanId)
TTL toDateTime(Timestamp) + toIntervalDay({retention_days})
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS otel_traces_trace_id_ts
(
    TraceId String CODEC(ZSTD(1)),
    Start DateTime CODEC(Delta, ZSTD(1)),
    End DateTime CODEC(Delta, ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toDate(Start)
ORDER BY (TraceId, Start)
TTL toDateTime(Start) + toIntervalDay({retention_days})
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS otel_traces_trace_id_ts_mv TO otel_traces_trace_id_ts AS
SELECT TraceId, min(Timestamp) AS Start, max(Timestamp) AS End
FROM otel_traces
WHERE TraceId != ''
GROUP BY TraceId;

-- Business audit events: one row per CloudEvent (source, id). The sorting key ends in (source, id) and every
-- column before it is a function of the event itself, so a redelivered event that slipped past the writer's
-- de-duplication collapses on merge, and reads use FINAL to count it once before the merge happens.
CREATE TABLE IF NOT EXISTS events
(
    received_at DateTime64(3, 'UTC'),
    time DateTime64(6, 'UTC'),
    source LowCardinality(String),
    id String,
    specversion LowCardinality(String),
    type LowCardinality(String),
    canonical_type LowCardinality(String),
    known_type Bool,
    subject String,
    datacontenttype LowCardinality(String),
    dataschema String,
    tenant_id LowCardinality(String),
    source_system LowCardinality(String),
    target_system LowCardinality(String),
    correlation_id String,
    causation_id String,
    trace_id String,
    parent_span_id String,
    entry_id String,
    timesheet_id String,
    invoice_id String,
    project_code String,
    consultant_id String,
    assignment_id String,
    exception_id String,
    message_id String,
    opportunity_id String,
    change_id String,
    entry_ids Array(String),
    hours Nullable(Float64),
    amount Nullable(Decimal(18, 4)),
    currency LowCardinality(String),
    extensions Map(LowCardinality(String), String),
    data String,
    token_name LowCardinality(String),
    INDEX idx_received received_at TYPE minmax GRANULARITY 1
)
ENGINE = ReplacingMergeTree
-- Monthly, not daily: a backfill batch spans many days, and daily partitions would cut every insert into
-- dozens of parts (measured: 1.7x slower inserts). Lookups by key go through record_keys, not skip indexes.
PARTITION BY toYYYYMM(time)
ORDER BY (canonical_type, time, source, id)
TTL toDateTime(time) + toIntervalDay({retention_days})
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000;

-- "Everything about record X": one row per (business key, event or span), sorted by key so a lookup reads a
-- handful of granules, then fetches the rows themselves through their own sorting keys. Only de-duplicated rows
-- reach the source tables, so plain MergeTree suffices; readers still go through the FINAL source rows.
CREATE TABLE IF NOT EXISTS record_keys
(
    key String,
    kind LowCardinality(String),
    signal Enum8('event' = 1, 'span' = 2),
    time DateTime64(9, 'UTC'),
    event_type LowCardinality(String),
    event_source LowCardinality(String),
    event_id String,
    service_name LowCardinality(String),
    span_name LowCardinality(String),
    trace_id String,
    span_id String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (key, time)
TTL toDateTime(time) + toIntervalDay({retention_days})
SETTINGS index_granularity = 1024, ttl_only_drop_parts = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS record_keys_from_events_mv TO record_keys AS
SELECT k.2 AS key, k.1 AS kind, 'event' AS signal, time, canonical_type AS event_type, source AS event_source,
       id AS event_id, '' AS service_name, '' AS span_name, trace_id, '' AS span_id
FROM events
ARRAY JOIN arrayFilter(x -> x.2 != '', [
    ('entry', entry_id), ('timesheet', timesheet_id), ('invoice', invoice_id), ('project', project_code),
    ('consultant', consultant_id), ('assignment', assignment_id), ('exception', exception_id),
    ('message', message_id), ('deal', opportunity_id), ('change', change_id), ('correlation', correlation_id),
    ('trace', trace_id)
]) AS k;

CREATE MATERIALIZED VIEW IF NOT EXISTS record_keys_from_timesheet_entries_mv TO record_keys AS
SELECT e AS key, 'entry' AS kind, 'event' AS signal, time, canonical_type AS event_type, source AS event_source,
       id AS event_id, '' AS service_name, '' AS span_name, trace_id, '' AS span_id
FROM events
ARRAY JOIN entry_ids AS e
WHERE e != '' AND e != entry_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS record_keys_from_spans_mv TO record_keys AS
SELECT k.2 AS key, k.1 AS kind, 'span' AS signal, Timestamp AS time, '' AS event_type, '' AS event_source,
       '' AS event_id, ServiceName AS service_name, SpanName AS span_name, TraceId AS trace_id, SpanId AS span_id
FROM otel_traces
ARRAY JOIN arrayFilter(x -> x.2 != '', [
    ('entry', SpanAttributes['business.entry_id']), ('timesheet', SpanAttributes['business.timesheet_id']),
    ('invoice', SpanAttributes['business.invoice_id']), ('project', SpanAttributes['business.project_code']),
    ('consultant', SpanAttributes['business.consultant_id']),
    ('assignment', SpanAttributes['business.assignment_id']),
    ('exception', SpanAttributes['business.exception_id']),
    ('message', if(SpanAttributes['business.message_id'] != '', SpanAttributes['business.message_id'],
                   SpanAttributes['messaging.message.id'])),
    ('correlation', SpanAttributes['business.correlation_id']),
    ('trace', TraceId)
]) AS k;

-- Rejected input, kept where an operator can see it. Every insert into the tables above carries an
-- insert_deduplication_token, so a batch replayed from the spool after an unclear failure is stored once.
CREATE TABLE IF NOT EXISTS quarantine
(
    received_at DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    signal LowCardinality(String),
    token_name LowCardinality(String),
    reason LowCardinality(String),
    field String,
    detail String,
    source String,
    id String,
    payload String CODEC(ZSTD(3)),
    payload_truncated Bool
)
ENGINE = MergeTree
PARTITION BY toDate(received_at)
ORDER BY (received_at, reason)
TTL toDateTime(received_at) + toIntervalDay({retention_days})
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000;

-- API tokens: only a hash of each secret is stored. Latest row per name wins (revocation is a newer row).
CREATE TABLE IF NOT EXISTS tokens
(
    name String,
    scopes Array(LowCardinality(String)),
    secret_sha256 String,
    created_at DateTime64(3, 'UTC'),
    revoked_at Nullable(DateTime64(3, 'UTC')),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY name;
