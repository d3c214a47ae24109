-- Probes (probes/): one row per probe run and one per finding. A run's run_id is the trace id of its span in
-- otel_traces, so a run and the API calls it made are one trace.
CREATE TABLE IF NOT EXISTS probe_runs
(
    run_id String,
    started_at DateTime64(3, 'UTC'),
    probe LowCardinality(String),
    system LowCardinality(String),
    outcome LowCardinality(String),
    duration_ms Float64,
    findings UInt32,
    api_calls UInt32,
    error String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(started_at)
ORDER BY (probe, started_at)
TTL toDateTime(started_at) + toIntervalDay({retention_days})
SETTINGS ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS probe_findings
(
    run_id String,
    observed_at DateTime64(3, 'UTC'),
    probe LowCardinality(String),
    kind LowCardinality(String),
    system LowCardinality(String),
    tenant_id LowCardinality(String),
    object_type LowCardinality(String),
    object_id String,
    project_code String,
    consultant_id String,
    age_seconds Float64,
    amount Nullable(Decimal(18, 4)),
    currency LowCardinality(String),
    detail String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(observed_at)
ORDER BY (probe, observed_at, kind, object_id)
TTL toDateTime(observed_at) + toIntervalDay({retention_days})
SETTINGS ttl_only_drop_parts = 1
