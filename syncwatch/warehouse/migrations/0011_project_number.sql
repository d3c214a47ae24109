-- Each entry's project code as a 64-bit number, so invoice readiness and unbilled WIP find the billable entries by
-- looking numbers up in the set of billable codes' numbers, not strings in the set of codes: at 50,000 consultants
-- the lookup over the 1.8 M entries still open took 211 ms of CPU by code and 120 ms by number (docs/benchmarks.md).
--
-- A plain number, not 0008's (code, hash) tuple, which was merged with max: reading that tuple under FINAL read the
-- code as well, which cost more than the lookup saved (0010 dropped it). Merged with max on its own, a row without a
-- code ('' from a timesheet's approval) is 0 and loses to the entry's code. An entry's code never changes (a
-- correction is a new entry that supersedes it, domain.md), so the largest number is that of the entry's code;
-- metrics/slis/_scan.py numbers the billable codes with the same expression.
ALTER TABLE entry_state
    ADD COLUMN IF NOT EXISTS project_number SimpleAggregateFunction(max, UInt64)
        DEFAULT if(project_code = '', 0, cityHash64(project_code));

-- Stored for the rows already there (reads compute a missing DEFAULT on the fly until then, with the same result).
ALTER TABLE entry_state MATERIALIZE COLUMN project_number;
