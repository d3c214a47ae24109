"""The merged view of each business state table (0002_business_state.sql): one row per record. A "latest value"
is the second element of a (time, value) tuple kept with max (0006_latest_values.sql).

State tables are AggregatingMergeTrees whose rows for one record may not be merged yet; these queries read them
with FINAL, which merges the rows of a key at read time (correct before background merges happen) and costs
little once the parts are merged: measured on 529k entries, 30 ms against 215 ms for an explicit GROUP BY. The
small tables too (FINAL and a GROUP BY on the sorting key give the same rows): 51k invoices 10-13 ms against
24-29 ms, and rate-card exposure 111 ms -> 65 ms, master data 65 ms -> 39 ms at 5,000 consultants.
They are used as common table expressions by the SLI queries (metrics/slis/).
"""

from __future__ import annotations

__all__ = [
    "ASSIGNMENTS",
    "CHANGES",
    "DEAD_LETTERS",
    "DEALS",
    "ENTRIES",
    "ENTRY_DOCUMENTS",
    "ENTRY_TIMES",
    "EXCEPTIONS",
    "INVOICES",
    "PROJECTS",
    "PROJECT_VIEWS",
    "RATE_CARDS",
    "POSTINGS",
    "currency_of",
]

# An entry's amount and currency are kept as numbers (0013_packed_money.sql says why and how): the amount is the low
# half of the packed (time, amount), read back as the Decimal it was; the currency's three bytes read back as the code.
# currency_code is there too, for grouping by a number and decoding once per group (currency_of).
_AMOUNT = (
    "reinterpret(bitXor(toUInt64(bitAnd(s.amount_packed, 18446744073709551615)), 9223372036854775808),"
    " 'Decimal(18, 4)')"
)


def currency_of(code: str) -> str:
    """The ISO 4217 code that 0013's currency_code `code` (an expression) stands for ('' for 0)."""
    return f"reverse(reinterpretAsString({code}))"


ENTRIES = f"""
SELECT s.entry_id AS entry_id, s.tenant_id AS tenant, s.consultant_id AS consultant, s.project_code AS project,
       s.project_number AS project_number, s.work_date AS work_date, s.currency_code AS currency_code,
       {currency_of("s.currency_code")} AS currency, s.hours_latest.2 AS hours,
       {_AMOUNT} AS amount, s.approved_at AS approved_at, s.first_attempt_at AS first_attempt_at,
       s.first_attempt_ok AS first_attempt_ok, s.first_attempt_known AS first_attempt_known,
       s.blocked_since AS blocked_since,
       s.last_error_latest.2 AS last_error, s.posted_at AS posted_at,
       s.invoice_ready_at AS invoice_ready_at, s.superseded_at AS superseded_at, s.written_off_at AS written_off_at,
       s.approved_business_s AS approved_business_s, s.invoice_ready_business_s AS invoice_ready_business_s
FROM entry_state AS s FINAL
"""

# The lifecycle instants and keys of each entry only, for queries that need no money or error.
ENTRY_TIMES = """
SELECT s.entry_id AS entry_id, s.tenant_id AS tenant, s.consultant_id AS consultant, s.approved_at AS approved_at,
       s.first_attempt_at AS first_attempt_at, s.posted_at AS posted_at, s.superseded_at AS superseded_at,
       s.written_off_at AS written_off_at
FROM entry_state AS s FINAL
"""

POSTINGS = """
SELECT s.entry_id AS entry_id, s.erp_document_id AS document, s.posted_at AS posted_at, s.tenant_id AS tenant,
       s.project_code AS project, s.consultant_id AS consultant, s.work_date AS work_date
FROM postings AS s FINAL
"""

# Per entry, the ERP documents booked for it (0005_entry_documents.sql): several exactly when its smallest and
# largest document differ, told by their hashes (0009_document_hashes.sql: two numbers, not two strings, per entry).
ENTRY_DOCUMENTS = """
SELECT s.entry_id AS entry_id, s.tenant_id AS tenant, s.project_code AS project, s.posted_at AS posted_at,
       s.first_document_hash = s.last_document_hash AS single
FROM entry_documents AS s FINAL
"""

# Each system's latest description of each project.
PROJECT_VIEWS = """
SELECT s.project_key AS project_key, s.system AS system, s.tenant_id AS tenant,
       s.project_code_latest.2 AS code, s.status_latest.2 AS status,
       s.customer_id_latest.2 AS customer, s.currency_latest.2 AS currency,
       s.billing_type_latest.2 AS billing_type, s.created_at AS created_at
FROM project_state AS s FINAL
"""

# One row per project code as the PSA knows it (the system of record for delivery): customer and billing type.
PROJECTS = f"""
SELECT code AS project, any(customer) AS customer, any(billing_type) AS billing_type, any(status) AS status,
       any(tenant) AS tenant
FROM ({PROJECT_VIEWS}) WHERE system = 'psa'
GROUP BY code
"""

CHANGES = """
SELECT s.change_id AS change_id, s.tenant_id AS tenant, s.consultant_id AS consultant, s.change_type AS change_type,
       s.entered_at AS entered_at, s.synced_at AS synced_at
FROM change_state AS s FINAL
"""

EXCEPTIONS = """
SELECT s.exception_id AS exception_id, s.tenant_id AS tenant, s.flow AS flow, s.severity AS severity,
       s.category AS category, s.object_type AS object_type, s.object_id AS object_id, s.opened_at AS opened_at,
       s.resolved_at AS resolved_at
FROM exception_state AS s FINAL
"""

DEAD_LETTERS = """
SELECT s.message_id AS message_id, s.tenant_id AS tenant, s.flow AS flow, s.queue AS queue, s.reason AS reason,
       s.object_id AS object_id, s.dead_lettered_at AS dead_lettered_at, s.replayed_at AS replayed_at
FROM dead_letter_state AS s FINAL
"""

INVOICES = """
SELECT s.invoice_id AS invoice_id, s.tenant_id AS tenant, s.project_code AS project, s.currency AS currency,
       s.amount_latest.2 AS amount, s.ready_at AS ready_at, s.released_at AS released_at,
       s.posted_at AS posted_at, s.failed_at AS failed_at
FROM invoice_state AS s FINAL
"""

DEALS = """
SELECT s.opportunity_id AS opportunity_id, s.tenant_id AS tenant, s.closed_at AS closed_at, s.amount AS amount,
       s.currency AS currency
FROM deal_state AS s FINAL
"""

RATE_CARDS = """
SELECT r.rate_card_id AS rate_card_id, any(r.tenant) AS tenant, any(r.customer) AS customer,
       min(r.start) AS start_date, max(r.finish) AS end_date, any(r.cur) AS currency
FROM (
    SELECT rate_card_id, role, tenant_id AS tenant, customer_id_latest.2 AS customer,
           start_date_latest.2 AS start, end_date_latest.2 AS finish,
           currency_latest.2 AS cur
    FROM rate_card_state FINAL
) AS r
GROUP BY r.rate_card_id
"""

ASSIGNMENTS = """
SELECT s.assignment_id AS assignment_id, s.tenant_id AS tenant, s.consultant_id AS consultant,
       s.project_code_latest.2 AS project, s.role_latest.2 AS role,
       s.status_latest.2 AS status, s.start_date_latest.2 AS start_date,
       s.end_date_latest.2 AS end_date, s.planned_hours_latest.2 AS planned_hours
FROM assignment_state AS s FINAL
"""
