-- Business state kept up to date at ingest, so an SLI reads one small row per record instead of scanning events.
--
-- Every state table is an AggregatingMergeTree whose columns only use idempotent aggregates (min, max, argMax,
-- uniqExact): an event delivered twice, late or out of order yields the same state as one delivery in order.
-- Readers merge with GROUP BY on the key (metrics/state.py), which is correct before background merges happen.

-- The integration flow an event belongs to: the `flow` extension when the sender names it, otherwise the
-- catalogue's default flow for its type and systems (docs/slis.md). Computed by the engine on insert.
ALTER TABLE events ADD COLUMN IF NOT EXISTS flow LowCardinality(String) MATERIALIZED
    if(extensions['flow'] != '', extensions['flow'], multiIf(
        canonical_type = 'deal.closed_won', 'crm-deals',
        canonical_type LIKE 'project.%', if(target_system = 'erp', 'psa-to-erp-projects', 'crm-to-psa-projects'),
        canonical_type = 'rate_card.changed', 'psa-rate-cards',
        canonical_type LIKE 'assignment.%', 'psa-to-erp-assignments',
        canonical_type = 'worker.changed', 'hcm-workers',
        canonical_type = 'worker.synced', 'hcm-to-psa-workers',
        canonical_type LIKE 'timesheet.%' OR canonical_type IN ('time_entry.adjusted', 'time_entry.written_off'),
            'psa-timesheets',
        canonical_type LIKE 'time_entry.%', 'psa-to-erp-time',
        canonical_type LIKE 'invoice.%', 'psa-to-erp-invoices',
        canonical_type LIKE 'exception.%', 'exceptions',
        source_system != '' AND target_system != '', concat(source_system, '-to-', target_system),
        'unassigned'));

-- One row per time entry: its lifecycle instants, money and keys. blocked_since: the first failure the middleware
-- will not retry (retryable false); the entry stays blocked until a later posting books it.
CREATE TABLE IF NOT EXISTS entry_state
(
    entry_id String,
    tenant_id SimpleAggregateFunction(max, LowCardinality(String)),
    consultant_id SimpleAggregateFunction(max, String),
    project_code SimpleAggregateFunction(max, String),
    work_date SimpleAggregateFunction(max, String),
    currency SimpleAggregateFunction(max, LowCardinality(String)),
    hours AggregateFunction(argMax, Float64, DateTime64(6, 'UTC')),
    amount AggregateFunction(argMax, Decimal(18, 4), DateTime64(6, 'UTC')),
    approved_at SimpleAggregateFunction(min, Nullable(DateTime64(6, 'UTC'))),
    first_attempt_at SimpleAggregateFunction(min, Nullable(DateTime64(6, 'UTC'))),
    first_attempt_ok SimpleAggregateFunction(max, UInt8),
    blocked_since SimpleAggregateFunction(min, Nullable(DateTime64(6, 'UTC'))),
    last_error AggregateFunction(argMax, String, DateTime64(6, 'UTC')),
    posted_at SimpleAggregateFunction(min, Nullable(DateTime64(6, 'UTC'))),
    invoice_ready_at SimpleAggregateFunction(min, Nullable(DateTime64(6, 'UTC'))),
    superseded_at SimpleAggregateFunction(min, Nullable(DateTime64(6, 'UTC'))),
    written_off_at SimpleAggregateFunction(min, Nullable(DateTime64(6, 'UTC')))
)
ENGINE = AggregatingMergeTree
ORDER BY entry_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS entry_state_from_entries_mv TO entry_state AS
SELECT e.entry_id AS entry_id,
       max(e.tenant_id) AS tenant_id, max(e.consultant_id) AS consultant_id, max(e.project_code) AS project_code,
       max(JSONExtractString(e.data, 'work_date')) AS work_date, max(e.currency) AS currency,
       argMaxStateIf(assumeNotNull(e.hours), e.time, e.hours IS NOT NULL) AS hours,
       argMaxStateIf(assumeNotNull(e.amount), e.time, e.amount IS NOT NULL) AS amount,
       minIf(toNullable(e.time), e.canonical_type = 'time_entry.adjusted') AS approved_at,
       minIf(toNullable(e.time), e.canonical_type = 'time_entry.post_requested') AS first_attempt_at,
       maxIf(toUInt8(1), e.canonical_type = 'time_entry.posted' AND JSONExtractInt(e.data, 'attempt') = 1)
           AS first_attempt_ok,
       minIf(toNullable(e.time), e.canonical_type = 'time_entry.post_failed' AND NOT JSONExtractBool(e.data, 'retryable'))
           AS blocked_since,
       argMaxStateIf(concat(JSONExtractString(e.data, 'error_category'), ': ', JSONExtractString(e.data, 'error_code')),
                     e.time, e.canonical_type = 'time_entry.post_failed') AS last_error,
       minIf(toNullable(e.time), e.canonical_type = 'time_entry.posted') AS posted_at,
       CAST(NULL, 'Nullable(DateTime64(6, \'UTC\'))') AS invoice_ready_at,
       CAST(NULL, 'Nullable(DateTime64(6, \'UTC\'))') AS superseded_at,
       minIf(toNullable(e.time), e.canonical_type = 'time_entry.written_off') AS written_off_at
FROM events AS e
WHERE e.canonical_type LIKE 'time_entry.%' AND e.entry_id != ''
GROUP BY entry_id;

-- A timesheet's approval approves each of its lines; an invoice being ready makes each of its lines ready.
CREATE MATERIALIZED VIEW IF NOT EXISTS entry_state_from_lists_mv TO entry_state AS
SELECT e AS entry_id, max(tenant_id) AS tenant_id, max(consultant_id) AS consultant_id,
       '' AS project_code, '' AS work_date, '' AS currency,
       argMaxStateIf(toFloat64(0), time, 0) AS hours,
       argMaxStateIf(toDecimal64(0, 4), time, 0) AS amount,
       minIf(toNullable(time), canonical_type = 'timesheet.approved') AS approved_at,
       CAST(NULL, 'Nullable(DateTime64(6, \'UTC\'))') AS first_attempt_at, toUInt8(0) AS first_attempt_ok,
       CAST(NULL, 'Nullable(DateTime64(6, \'UTC\'))') AS blocked_since,
       argMaxStateIf('', time, 0) AS last_error,
       CAST(NULL, 'Nullable(DateTime64(6, \'UTC\'))') AS posted_at,
       minIf(toNullable(time), canonical_type = 'invoice.ready') AS invoice_ready_at,
       CAST(NULL, 'Nullable(DateTime64(6, \'UTC\'))') AS superseded_at,
       CAST(NULL, 'Nullable(DateTime64(6, \'UTC\'))') AS written_off_at
FROM events
ARRAY JOIN entry_ids AS e
WHERE canonical_type IN ('timesheet.approved', 'invoice.ready') AND e != ''
GROUP BY e;

-- An adjustment supersedes the entry it corrects (corrections are new linked records, never edits in place).
CREATE MATERIALIZED VIEW IF NOT EXISTS entry_state_from_adjustments_mv TO entry_state AS
SELECT JSONExtractString(data, 'supersedes_entry_id') AS entry_id, max(tenant_id) AS tenant_id,
       '' AS consultant_id, '' AS project_code, '' AS work_date, '' AS currency,
       argMaxStateIf(toFloat64(0), time, 0) AS hours,
       argMaxStateIf(toDecimal64(0, 4), time, 0) AS amount,
       CAST(NULL, 'Nullable(DateTime64(6, \'UTC\'))') AS approved_at,
       CAST(NULL, 'Nullable(DateTime64(6, \'UTC\'))') AS first_attempt_at, toUInt8(0) AS first_attempt_ok,
       CAST(NULL, 'Nullable(DateTime64(6, \'UTC\'))') AS blocked_since,
       argMaxStateIf('', time, 0) AS last_error,
       CAST(NULL, 'Nullable(DateTime64(6, \'UTC\'))') AS posted_at,
       CAST(NULL, 'Nullable(DateTime64(6, \'UTC\'))') AS invoice_ready_at,
       min(toNullable(time)) AS superseded_at,
       CAST(NULL, 'Nullable(DateTime64(6, \'UTC\'))') AS written_off_at
FROM events
WHERE canonical_type = 'time_entry.adjusted' AND JSONExtractString(data, 'supersedes_entry_id') != ''
GROUP BY entry_id;

-- One row per ERP journal booked for an entry: two documents for one entry is a duplicate submission.
CREATE TABLE IF NOT EXISTS postings
(
    entry_id String,
    erp_document_id String,
    posted_at SimpleAggregateFunction(min, DateTime64(6, 'UTC')),
    tenant_id SimpleAggregateFunction(max, LowCardinality(String)),
    project_code SimpleAggregateFunction(max, String),
    consultant_id SimpleAggregateFunction(max, String),
    work_date SimpleAggregateFunction(max, String)
)
ENGINE = AggregatingMergeTree
ORDER BY (entry_id, erp_document_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS postings_mv TO postings AS
SELECT entry_id, JSONExtractString(data, 'erp_document_id') AS erp_document_id, time AS posted_at, tenant_id,
       project_code, consultant_id, JSONExtractString(data, 'work_date') AS work_date
FROM events
WHERE canonical_type = 'time_entry.posted' AND entry_id != '';

-- HCM changes and their arrival in the PSA.
CREATE TABLE IF NOT EXISTS change_state
(
    change_id String,
    tenant_id SimpleAggregateFunction(max, LowCardinality(String)),
    consultant_id SimpleAggregateFunction(max, String),
    change_type SimpleAggregateFunction(max, LowCardinality(String)),
    entered_at SimpleAggregateFunction(min, Nullable(DateTime64(6, 'UTC'))),
    synced_at SimpleAggregateFunction(min, Nullable(DateTime64(6, 'UTC')))
)
ENGINE = AggregatingMergeTree
ORDER BY change_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS change_state_mv TO change_state AS
SELECT change_id, tenant_id, consultant_id,
       if(canonical_type = 'worker.changed', JSONExtractString(data, 'change_type'), '') AS change_type,
       if(canonical_type = 'worker.changed',
          coalesce(parseDateTime64BestEffortOrNull(JSONExtractString(data, 'entered_at'), 6, 'UTC'), time),
          NULL) AS entered_at,
       if(canonical_type = 'worker.synced', toNullable(time), NULL) AS synced_at
FROM events
WHERE canonical_type IN ('worker.changed', 'worker.synced') AND change_id != '';

-- Exceptions raised by the integrations and their resolution.
CREATE TABLE IF NOT EXISTS exception_state
(
    exception_id String,
    tenant_id SimpleAggregateFunction(max, LowCardinality(String)),
    flow SimpleAggregateFunction(max, LowCardinality(String)),
    severity SimpleAggregateFunction(max, LowCardinality(String)),
    category SimpleAggregateFunction(max, String),
    object_type SimpleAggregateFunction(max, String),
    object_id SimpleAggregateFunction(max, String),
    opened_at SimpleAggregateFunction(min, Nullable(DateTime64(6, 'UTC'))),
    resolved_at SimpleAggregateFunction(min, Nullable(DateTime64(6, 'UTC')))
)
ENGINE = AggregatingMergeTree
ORDER BY exception_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS exception_state_mv TO exception_state AS
SELECT exception_id, tenant_id, flow, JSONExtractString(data, 'severity') AS severity,
       JSONExtractString(data, 'category') AS category, JSONExtractString(data, 'object_type') AS object_type,
       JSONExtractString(data, 'object_id') AS object_id,
       if(canonical_type = 'exception.opened', toNullable(time), NULL) AS opened_at,
       if(canonical_type = 'exception.resolved', toNullable(time), NULL) AS resolved_at
FROM events
WHERE canonical_type IN ('exception.opened', 'exception.resolved') AND exception_id != '';

-- Dead-lettered messages and their replay.
CREATE TABLE IF NOT EXISTS dead_letter_state
(
    message_id String,
    tenant_id SimpleAggregateFunction(max, LowCardinality(String)),
    flow SimpleAggregateFunction(max, LowCardinality(String)),
    queue SimpleAggregateFunction(max, String),
    reason SimpleAggregateFunction(max, String),
    object_id SimpleAggregateFunction(max, String),
    dead_lettered_at SimpleAggregateFunction(min, Nullable(DateTime64(6, 'UTC'))),
    replayed_at SimpleAggregateFunction(min, Nullable(DateTime64(6, 'UTC')))
)
ENGINE = AggregatingMergeTree
ORDER BY message_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS dead_letter_state_mv TO dead_letter_state AS
SELECT message_id, tenant_id, flow, JSONExtractString(data, 'queue') AS queue,
       JSONExtractString(data, 'reason') AS reason, JSONExtractString(data, 'object_id') AS object_id,
       if(canonical_type = 'message.dead_lettered', toNullable(time), NULL) AS dead_lettered_at,
       if(canonical_type = 'message.replayed', toNullable(time), NULL) AS replayed_at
FROM events
WHERE canonical_type IN ('message.dead_lettered', 'message.replayed') AND message_id != '';

-- Invoices through release and posting in the ERP.
CREATE TABLE IF NOT EXISTS invoice_state
(
    invoice_id String,
    tenant_id SimpleAggregateFunction(max, LowCardinality(String)),
    project_code SimpleAggregateFunction(max, String),
    currency SimpleAggregateFunction(max, LowCardinality(String)),
    amount AggregateFunction(argMax, Decimal(18, 4), DateTime64(6, 'UTC')),
    ready_at SimpleAggregateFunction(min, Nullable(DateTime64(6, 'UTC'))),
    released_at SimpleAggregateFunction(min, Nullable(DateTime64(6, 'UTC'))),
    posted_at SimpleAggregateFunction(min, Nullable(DateTime64(6, 'UTC'))),
    failed_at SimpleAggregateFunction(min, Nullable(DateTime64(6, 'UTC')))
)
ENGINE = AggregatingMergeTree
ORDER BY invoice_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS invoice_state_mv TO invoice_state AS
SELECT invoice_id, max(tenant_id) AS tenant_id, max(project_code) AS project_code, max(currency) AS currency,
       argMaxStateIf(assumeNotNull(amount), time, amount IS NOT NULL AND canonical_type != 'invoice.corrected')
           AS amount,
       minIf(toNullable(time), canonical_type = 'invoice.ready') AS ready_at,
       minIf(toNullable(time), canonical_type = 'invoice.released') AS released_at,
       minIf(toNullable(time), canonical_type = 'invoice.posted') AS posted_at,
       minIf(toNullable(time), canonical_type = 'invoice.post_failed') AS failed_at
FROM events
WHERE canonical_type LIKE 'invoice.%' AND invoice_id != ''
GROUP BY invoice_id;

-- Project master data as each system last described it (latest event per project and system).
CREATE TABLE IF NOT EXISTS project_state
(
    project_key String,
    system LowCardinality(String),
    tenant_id SimpleAggregateFunction(max, LowCardinality(String)),
    project_code AggregateFunction(argMax, String, DateTime64(6, 'UTC')),
    status AggregateFunction(argMax, String, DateTime64(6, 'UTC')),
    customer_id AggregateFunction(argMax, String, DateTime64(6, 'UTC')),
    currency AggregateFunction(argMax, String, DateTime64(6, 'UTC')),
    billing_type AggregateFunction(argMax, String, DateTime64(6, 'UTC')),
    created_at SimpleAggregateFunction(min, DateTime64(6, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (project_key, system);

-- A project is identified across systems by its CRM opportunity when known (codes can drift), else its code. An
-- event describes the project as held by the system the sync targets (the PSA for CRM-to-PSA, the ERP for PSA-to-ERP).
CREATE MATERIALIZED VIEW IF NOT EXISTS project_state_mv TO project_state AS
SELECT if(JSONExtractString(e.data, 'crm_opportunity_id') != '', JSONExtractString(e.data, 'crm_opportunity_id'),
          e.project_code) AS project_key,
       if(e.target_system != '', e.target_system, e.source_system) AS system,
       max(e.tenant_id) AS tenant_id, argMaxState(e.project_code, e.time) AS project_code,
       argMaxState(JSONExtractString(e.data, 'status'), e.time) AS status,
       argMaxState(JSONExtractString(e.data, 'customer_id'), e.time) AS customer_id,
       argMaxState(toString(e.currency), e.time) AS currency,
       argMaxState(JSONExtractString(e.data, 'billing_type'), e.time) AS billing_type,
       min(e.time) AS created_at
FROM events AS e
WHERE e.canonical_type IN ('project.created', 'project.updated', 'project.closed') AND e.project_code != ''
GROUP BY project_key, system;

-- Closed-won deals: each must become a project within 24 hours.
CREATE TABLE IF NOT EXISTS deal_state
(
    opportunity_id String,
    tenant_id SimpleAggregateFunction(max, LowCardinality(String)),
    closed_at SimpleAggregateFunction(min, DateTime64(6, 'UTC')),
    amount SimpleAggregateFunction(max, Nullable(Decimal(18, 4))),
    currency SimpleAggregateFunction(max, LowCardinality(String))
)
ENGINE = AggregatingMergeTree
ORDER BY opportunity_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS deal_state_mv TO deal_state AS
SELECT opportunity_id, tenant_id, time AS closed_at, amount, currency
FROM events
WHERE canonical_type = 'deal.closed_won' AND opportunity_id != '';

-- Rate cards (one row per card and role) and assignments (the latest plan of each).
CREATE TABLE IF NOT EXISTS rate_card_state
(
    rate_card_id String,
    role String,
    tenant_id SimpleAggregateFunction(max, LowCardinality(String)),
    customer_id AggregateFunction(argMax, String, DateTime64(6, 'UTC')),
    start_date AggregateFunction(argMax, Date, DateTime64(6, 'UTC')),
    end_date AggregateFunction(argMax, Date, DateTime64(6, 'UTC')),
    bill_rate AggregateFunction(argMax, Float64, DateTime64(6, 'UTC')),
    currency AggregateFunction(argMax, String, DateTime64(6, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (rate_card_id, role);

CREATE MATERIALIZED VIEW IF NOT EXISTS rate_card_state_mv TO rate_card_state AS
SELECT JSONExtractString(e.data, 'rate_card_id') AS rate_card_id, JSONExtractString(e.data, 'role') AS role,
       max(e.tenant_id) AS tenant_id,
       argMaxState(JSONExtractString(e.data, 'customer_id'), e.time) AS customer_id,
       argMaxState(toDate(JSONExtractString(e.data, 'start_date')), e.time) AS start_date,
       argMaxState(toDate(JSONExtractString(e.data, 'end_date')), e.time) AS end_date,
       argMaxState(JSONExtractFloat(e.data, 'bill_rate'), e.time) AS bill_rate,
       argMaxState(toString(e.currency), e.time) AS currency
FROM events AS e
WHERE e.canonical_type = 'rate_card.changed' AND JSONExtractString(e.data, 'rate_card_id') != ''
GROUP BY rate_card_id, role;

CREATE TABLE IF NOT EXISTS assignment_state
(
    assignment_id String,
    tenant_id SimpleAggregateFunction(max, LowCardinality(String)),
    consultant_id SimpleAggregateFunction(max, String),
    project_code AggregateFunction(argMax, String, DateTime64(6, 'UTC')),
    role AggregateFunction(argMax, String, DateTime64(6, 'UTC')),
    status AggregateFunction(argMax, String, DateTime64(6, 'UTC')),
    start_date AggregateFunction(argMax, Date, DateTime64(6, 'UTC')),
    end_date AggregateFunction(argMax, Date, DateTime64(6, 'UTC')),
    planned_hours AggregateFunction(argMax, Float64, DateTime64(6, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY assignment_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS assignment_state_mv TO assignment_state AS
SELECT e.assignment_id AS assignment_id, max(e.tenant_id) AS tenant_id, max(e.consultant_id) AS consultant_id,
       argMaxState(e.project_code, e.time) AS project_code,
       argMaxState(JSONExtractString(e.data, 'role'), e.time) AS role,
       argMaxState(JSONExtractString(e.data, 'status'), e.time) AS status,
       argMaxState(toDate(JSONExtractString(e.data, 'start_date')), e.time) AS start_date,
       argMaxState(toDate(JSONExtractString(e.data, 'end_date')), e.time) AS end_date,
       argMaxState(JSONExtractFloat(e.data, 'planned_hours'), e.time) AS planned_hours
FROM events AS e
WHERE e.canonical_type = 'assignment.changed' AND e.assignment_id != ''
GROUP BY assignment_id;

-- Per flow and hour: the last event time and how many events (flow silence, low-traffic guards).
CREATE TABLE IF NOT EXISTS flow_activity
(
    flow LowCardinality(String),
    tenant_id LowCardinality(String),
    hour DateTime('UTC'),
    last_event_at SimpleAggregateFunction(max, DateTime64(6, 'UTC')),
    events AggregateFunction(uniqExact, String, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (flow, tenant_id, hour)
TTL hour + toIntervalDay({retention_days});

CREATE MATERIALIZED VIEW IF NOT EXISTS flow_activity_mv TO flow_activity AS
SELECT flow, tenant_id, toStartOfHour(time) AS hour, max(time) AS last_event_at,
       uniqExactState(source, id) AS events
FROM events
GROUP BY flow, tenant_id, hour;

-- SLI values as a time series, written by the snapshot job (metrics/snapshots.py) for history and alerting.
CREATE TABLE IF NOT EXISTS sli_snapshots
(
    time DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    sli LowCardinality(String),
    dimension LowCardinality(String),
    key String,
    value Nullable(Float64),
    good Float64,
    total Float64,
    objective Nullable(Float64),
    status LowCardinality(String),
    budget_remaining Nullable(Float64),
    burn_5m Nullable(Float64),
    burn_30m Nullable(Float64),
    burn_1h Nullable(Float64),
    burn_6h Nullable(Float64),
    burn_1d Nullable(Float64),
    burn_3d Nullable(Float64),
    details String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (sli, dimension, key, time)
TTL toDateTime(time) + toIntervalDay({retention_days})
SETTINGS ttl_only_drop_parts = 1
