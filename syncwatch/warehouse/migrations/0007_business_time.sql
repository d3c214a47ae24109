-- Each entry's approval and invoice readiness in business seconds (metrics/windows.py: weekdays only), kept at ingest
-- so the invoice-readiness lag is a subtraction: computing both for 3.4 M billable entries took 165 ms of the SLI's
-- time at 50,000 consultants.
--
-- Business seconds never decrease as time goes on, so the business seconds of the earliest instant are the smallest
-- of the business seconds of each row's instant: a DEFAULT computed from each inserted row's instant and merged with
-- min equals the formula over the merged instant, whatever order and batches the events come in. A row without the
-- instant (another event of the entry) yields NULL, which min ignores. The expressions are metrics/windows.py's
-- business_seconds_sql as of this migration; tests/unit/metrics/test_business_time.py keeps the two equal.
ALTER TABLE entry_state
    ADD COLUMN IF NOT EXISTS approved_business_s SimpleAggregateFunction(min, Nullable(Float64))
        DEFAULT (intDiv(((intDiv(toInt64(floor((toUnixTimestamp64Milli(approved_at) / 1000.0 AS approved_t))), 86400) AS approved_d) + 3 AS approved_s), 7) * 5 * 86400 + least(approved_s % 7, 5) * 86400 + if(approved_s % 7 < 5, approved_t - approved_d * 86400, 0)),
    ADD COLUMN IF NOT EXISTS invoice_ready_business_s SimpleAggregateFunction(min, Nullable(Float64))
        DEFAULT (intDiv(((intDiv(toInt64(floor((toUnixTimestamp64Milli(invoice_ready_at) / 1000.0 AS ready_t))), 86400) AS ready_d) + 3 AS ready_s), 7) * 5 * 86400 + least(ready_s % 7, 5) * 86400 + if(ready_s % 7 < 5, ready_t - ready_d * 86400, 0));

-- Stored for the rows already there (reads compute a missing DEFAULT on the fly until then, with the same result).
ALTER TABLE entry_state MATERIALIZE COLUMN approved_business_s;

ALTER TABLE entry_state MATERIALIZE COLUMN invoice_ready_business_s;
