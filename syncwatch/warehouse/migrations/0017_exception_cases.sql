-- The exception queue (cases/, docs/exceptions.md): one case per (cause, business key), kept by the maintenance job
-- from the business state and changed by people through the API; and the audit log of every change.
--
-- A case is rewritten whole at each change, as a new row with a larger version; readers take the latest with FINAL.
-- Its id is a hash of (cause, key), so a rebuilt queue has the same ids. Money is per currency, never converted.
CREATE TABLE IF NOT EXISTS exception_cases
(
    case_id String,
    kind LowCardinality(String),
    cause LowCardinality(String),
    business_key String,
    severity LowCardinality(String),
    systems Array(LowCardinality(String)),
    flow LowCardinality(String),
    tenant LowCardinality(String),
    project String,
    consultant String,
    money Map(LowCardinality(String), Decimal(18, 4)),
    detail String,
    occurrences UInt64,
    opened_at DateTime64(6, 'UTC'),
    last_seen DateTime64(6, 'UTC'),
    due_at DateTime64(6, 'UTC'),
    owner_team LowCardinality(String),
    assignee String,
    state LowCardinality(String),
    waiting_reason String,
    waiting_since Nullable(DateTime64(6, 'UTC')),
    resolution String,
    resolution_note String,
    resolved_at Nullable(DateTime64(6, 'UTC')),
    resolved_by String,
    updated_at DateTime64(6, 'UTC'),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY case_id;

-- Append-only: rows are inserted, never updated or deleted (no TTL: the history of a case is kept with it).
CREATE TABLE IF NOT EXISTS exception_case_audit
(
    case_id String,
    at DateTime64(6, 'UTC'),
    seq UInt64,
    actor String,
    action LowCardinality(String),
    detail String,
    before String,
    after String
)
ENGINE = MergeTree
ORDER BY (case_id, at, seq);
