-- The worker lease (syncwatch/lease.py, docs/deployment.md#roles): exactly one `syncwatch worker` runs the
-- scheduled stages at a time. ClickHouse has no compare-and-swap, so every claim and renewal is a new row: the
-- current lease is the largest token, won by the holder of that token's earliest row, and it lasts until that
-- holder's latest expires_at. Times are the server's (now64), so the workers' clocks never decide.
CREATE TABLE IF NOT EXISTS worker_lease
(
    name LowCardinality(String),
    token UInt64,
    holder String,
    claimed_at DateTime64(6, 'UTC'),
    expires_at DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (name, token, claimed_at)
TTL toDateTime(claimed_at) + toIntervalDay({retention_days});

-- Every scheduled job a worker ran, with the fencing token it held: who acted, and when.
CREATE TABLE IF NOT EXISTS worker_jobs
(
    started_at DateTime64(3, 'UTC'),
    job LowCardinality(String),
    token UInt64,
    holder String
)
ENGINE = MergeTree
ORDER BY started_at
TTL toDateTime(started_at) + toIntervalDay({retention_days});

-- One row per notification a worker is about to send: the first claim of a key wins, so two workers that
-- overlap (one paused past its lease, then resumed) never page twice for the same alert state.
CREATE TABLE IF NOT EXISTS notification_claims
(
    key String,
    token UInt64,
    holder String,
    claimed_at DateTime64(6, 'UTC')
)
ENGINE = MergeTree
ORDER BY (key, claimed_at)
TTL toDateTime(claimed_at) + toIntervalDay({retention_days});
