-- The weekly report's archive (reports/archive.py, docs/report.md#archive): one copy per (week, tenant), the
-- tenant '' being the all-tenants report. The JSON model and the PDF are kept together in the warehouse, so every
-- collector and worker that shares it reads the same copy (a file under one machine's data dir would not be seen
-- by another) and a backup of the warehouse is a backup of the archive; a PDF is some 100 KB a week.
--
-- A rerun writes the week again with a larger version; readers take the latest with FINAL, so a copy is replaced,
-- never duplicated.
CREATE TABLE IF NOT EXISTS weekly_reports
(
    week LowCardinality(String),
    tenant String,
    firm String,
    report String,
    pdf String,
    generated_at DateTime64(3, 'UTC'),
    code_version LowCardinality(String),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (week, tenant);

-- Where each archived report went: one row per (week, tenant, receiver, integration), rewritten at each attempt
-- with a larger version. status: pending (retried at next_attempt_at), delivered, failed (attempts used up).
CREATE TABLE IF NOT EXISTS weekly_report_deliveries
(
    week LowCardinality(String),
    tenant String,
    receiver String,
    integration String,
    status LowCardinality(String),
    attempts UInt32,
    last_error String,
    next_attempt_at Nullable(DateTime64(3, 'UTC')),
    delivered_at Nullable(DateTime64(3, 'UTC')),
    updated_at DateTime64(3, 'UTC'),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (week, tenant, receiver, integration);
