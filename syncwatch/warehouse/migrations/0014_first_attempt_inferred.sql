-- An entry's first post attempt is the earliest of its post_requested and its outcomes (posted, post_failed), so an
-- integration that emits only outcomes is measured like one that also emits requests (docs/slis.md "Coverage").
-- first_attempt_known says whether any of those events is attempt 1: an entry whose attempt-1 event never arrived
-- (only a retry was seen) has an unknown first pass, and first-pass success leaves it out and counts it in coverage
-- instead of judging it failed.
--
-- The view of 0006 is replaced by one that fills both (in between both run: the rows they duplicate merge away,
-- every aggregate being min or max), then the rows already stored are carried over from the events. Every
-- statement is idempotent, so this file is safe to rerun after a crash.
ALTER TABLE entry_state
    ADD COLUMN IF NOT EXISTS first_attempt_known SimpleAggregateFunction(max, UInt8) DEFAULT 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS entry_state_attempts_mv TO entry_state AS
SELECT e.entry_id AS entry_id,
       max(e.tenant_id) AS tenant_id, max(e.consultant_id) AS consultant_id, max(e.project_code) AS project_code,
       max(JSONExtractString(e.data, 'work_date')) AS work_date, max(e.currency) AS currency,
       maxIf((e.time, assumeNotNull(e.hours)), e.hours IS NOT NULL) AS hours_latest,
       maxIf((e.time, assumeNotNull(e.amount)), e.amount IS NOT NULL) AS amount_latest,
       minIf(toNullable(e.time), e.canonical_type = 'time_entry.adjusted') AS approved_at,
       minIf(toNullable(e.time),
             e.canonical_type IN ('time_entry.post_requested', 'time_entry.posted', 'time_entry.post_failed'))
           AS first_attempt_at,
       maxIf(toUInt8(1), e.canonical_type = 'time_entry.posted' AND JSONExtractInt(e.data, 'attempt') = 1)
           AS first_attempt_ok,
       maxIf(toUInt8(1), e.canonical_type IN ('time_entry.post_requested', 'time_entry.posted', 'time_entry.post_failed')
             AND JSONExtractInt(e.data, 'attempt') = 1) AS first_attempt_known,
       minIf(toNullable(e.time), e.canonical_type = 'time_entry.post_failed' AND NOT JSONExtractBool(e.data, 'retryable'))
           AS blocked_since,
       maxIf((e.time, concat(JSONExtractString(e.data, 'error_category'), ': ', JSONExtractString(e.data, 'error_code'))),
             e.canonical_type = 'time_entry.post_failed') AS last_error_latest,
       minIf(toNullable(e.time), e.canonical_type = 'time_entry.posted') AS posted_at,
       CAST(NULL, 'Nullable(DateTime64(6, \'UTC\'))') AS invoice_ready_at,
       CAST(NULL, 'Nullable(DateTime64(6, \'UTC\'))') AS superseded_at,
       minIf(toNullable(e.time), e.canonical_type = 'time_entry.written_off') AS written_off_at
FROM events AS e
WHERE e.canonical_type LIKE 'time_entry.%' AND e.entry_id != ''
GROUP BY entry_id;

DROP VIEW IF EXISTS entry_state_latest_mv;

INSERT INTO entry_state (entry_id, first_attempt_at, first_attempt_known)
SELECT entry_id,
       minIf(toNullable(time),
             canonical_type IN ('time_entry.post_requested', 'time_entry.posted', 'time_entry.post_failed')),
       maxIf(toUInt8(1), canonical_type IN ('time_entry.post_requested', 'time_entry.posted', 'time_entry.post_failed')
             AND JSONExtractInt(data, 'attempt') = 1)
FROM events
WHERE canonical_type IN ('time_entry.post_requested', 'time_entry.posted', 'time_entry.post_failed') AND entry_id != ''
GROUP BY entry_id;
