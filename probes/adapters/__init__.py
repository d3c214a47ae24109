"""Readers for the API styles probes meet: SuiteQL (paged POST), SOQL (nextRecordsUrl), Workday-style workers
(updated-since, limit/offset), Kantata-style lists (page/per_page with a total count), and the generic paging
styles a declarative probe can name. Each one checks the page set adds up (a truncated answer is BadResponse,
never a short list read as "fewer records")."""

from probes.adapters.kantata import kantata_count, kantata_rows
from probes.adapters.paging import PAGING_STYLES, Paging, paged_items
from probes.adapters.soql import soql_count, soql_rows
from probes.adapters.suiteql import SUITEQL_MAX_ROWS, suiteql_count, suiteql_rows
from probes.adapters.workday import workday_workers

__all__ = [
    "PAGING_STYLES",
    "SUITEQL_MAX_ROWS",
    "Paging",
    "kantata_count",
    "kantata_rows",
    "paged_items",
    "soql_count",
    "soql_rows",
    "suiteql_count",
    "suiteql_rows",
    "workday_workers",
]
