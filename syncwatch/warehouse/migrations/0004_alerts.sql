-- Alerts stage: the state of every alert instance, its transitions, silences, acknowledgements and every
-- notification attempt. State rows are versioned (ReplacingMergeTree on updated_at): a restart reads the latest
-- version of each fingerprint and carries on, so it neither forgets a firing alert nor notifies it twice.
CREATE TABLE IF NOT EXISTS alert_state
(
    fingerprint String,
    rule LowCardinality(String),
    state LowCardinality(String),
    severity LowCardinality(String),
    team LowCardinality(String),
    labels Map(LowCardinality(String), String),
    annotations Map(LowCardinality(String), String),
    active_since Nullable(DateTime64(3, 'UTC')),
    fired_at Nullable(DateTime64(3, 'UTC')),
    resolved_at Nullable(DateTime64(3, 'UTC')),
    last_breach_at Nullable(DateTime64(3, 'UTC')),
    value Nullable(Float64),
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY fingerprint;

CREATE TABLE IF NOT EXISTS alert_history
(
    time DateTime64(3, 'UTC'),
    fingerprint String,
    rule LowCardinality(String),
    from_state LowCardinality(String),
    to_state LowCardinality(String),
    severity LowCardinality(String),
    labels Map(LowCardinality(String), String),
    summary String,
    value Nullable(Float64)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (time, fingerprint)
TTL toDateTime(time) + toIntervalDay({retention_days});

CREATE TABLE IF NOT EXISTS alert_silences
(
    id String,
    matchers String,
    starts_at DateTime64(3, 'UTC'),
    ends_at DateTime64(3, 'UTC'),
    created_by String,
    comment String,
    created_at DateTime64(3, 'UTC'),
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY id;

CREATE TABLE IF NOT EXISTS alert_acks
(
    fingerprint String,
    active_since DateTime64(3, 'UTC'),
    acknowledged_by String,
    comment String,
    time DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(time)
ORDER BY (fingerprint, active_since);

CREATE TABLE IF NOT EXISTS alert_notifications
(
    time DateTime64(3, 'UTC'),
    receiver LowCardinality(String),
    integration LowCardinality(String),
    group_key String,
    status LowCardinality(String),
    firing Array(String),
    resolved Array(String),
    outcome LowCardinality(String),
    attempts UInt16,
    error String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (receiver, group_key, time)
TTL toDateTime(time) + toIntervalDay({retention_days})
