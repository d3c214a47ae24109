-- Per time entry: the ERP documents booked for it, summarised at ingest, so the duplicate-submission SLI needs no
-- GROUP BY entry over every posting (half a million at 5,000 consultants over 90 days: most of its query time).
--
-- An entry has two or more distinct documents exactly when its smallest and largest document ids differ, and min
-- and max are idempotent: a re-delivered posting (same source and id, or the same document posted again) cannot
-- make one document look like two. For an entry with one document, posted_at, tenant_id and project_code are
-- those of its one `postings` row (both take the min / max over the same events), so such entries are counted
-- from this table alone; the few entries with several documents are read from `postings` per document.
CREATE TABLE IF NOT EXISTS entry_documents
(
    entry_id String,
    tenant_id SimpleAggregateFunction(max, LowCardinality(String)),
    project_code SimpleAggregateFunction(max, String),
    first_document SimpleAggregateFunction(min, String),
    last_document SimpleAggregateFunction(max, String),
    posted_at SimpleAggregateFunction(min, DateTime64(6, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY entry_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS entry_documents_mv TO entry_documents AS
SELECT entry_id, max(tenant_id) AS tenant_id, max(project_code) AS project_code,
       min(JSONExtractString(data, 'erp_document_id')) AS first_document,
       max(JSONExtractString(data, 'erp_document_id')) AS last_document, min(time) AS posted_at
FROM events
WHERE canonical_type = 'time_entry.posted' AND entry_id != ''
GROUP BY entry_id;

-- An existing warehouse: the view above sees only new inserts, so fill the table from `postings`, which holds every
-- posting ever booked (events expire with the retention; postings do not), keeping the two tables in step. The view
-- exists first, so a posting stored meanwhile reaches the table by one path or both, never by neither; both is
-- harmless (min and max), and so is running this statement again after a crash.
INSERT INTO entry_documents
SELECT entry_id, max(tenant_id) AS tenant_id, max(project_code) AS project_code,
       min(erp_document_id) AS first_document, max(erp_document_id) AS last_document, min(posted_at) AS posted_at
FROM postings
GROUP BY entry_id;
