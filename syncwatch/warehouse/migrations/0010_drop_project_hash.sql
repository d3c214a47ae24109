-- Each entry's (project code, hash) from 0008 is no longer read: billable entries are looked up by code again, only
-- those the other conditions keep (metrics/slis/_scan.py billable_entries says what was measured). Dropped so no
-- insert computes it. IF EXISTS: safe to rerun after a crash.
ALTER TABLE entry_state DROP COLUMN IF EXISTS project_code_hash;
