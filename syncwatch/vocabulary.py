"""The canonical event vocabulary of domain.md section 3: types, required data fields, business keys.

Everything that names an event type or a business key imports it from here: the collector validates with it,
the simulator emits it, metrics read the columns it fills.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

__all__ = [
    "BUSINESS_KEY_KINDS",
    "CATALOGUE",
    "EXTENSIONS",
    "SPAN_KEY_ATTRIBUTES",
    "FieldKind",
    "canonical_type",
]

# Field kinds a data field can be checked against.
FieldKind = str
STR: Final = "string"
NUM: Final = "number"
INT: Final = "integer"
BOOL: Final = "boolean"
DATE: Final = "date"  # YYYY-MM-DD
DATETIME: Final = "datetime"  # RFC 3339
CURRENCY: Final = "currency"  # ISO 4217, three capital letters
STR_LIST: Final = "string[]"

_PROJECT = {"project_code": STR, "customer_id": STR, "status": STR, "billing_type": STR, "currency": CURRENCY}
_TIMESHEET = {
    "timesheet_id": STR,
    "consultant_id": STR,
    "period_start": DATE,
    "period_end": DATE,
    "entry_ids": STR_LIST,
    "total_hours": NUM,
}
_POSTING = {
    "entry_id": STR,
    "consultant_id": STR,
    "project_code": STR,
    "work_date": DATE,
    "hours": NUM,
    "amount": NUM,
    "currency": CURRENCY,
    "attempt": INT,
    "idempotency_key": STR,
}
_INVOICE = {
    "invoice_id": STR,
    "project_code": STR,
    "amount": NUM,
    "currency": CURRENCY,
    "entry_ids": STR_LIST,
    "period": STR,
}
_EXCEPTION = {"exception_id": STR, "category": STR, "severity": STR, "object_type": STR, "object_id": STR}
_MESSAGE = {"message_id": STR, "original_event_id": STR, "queue": STR, "reason": STR, "attempt_count": INT}

# canonical type -> required data field -> kind
CATALOGUE: Final[Mapping[str, Mapping[str, FieldKind]]] = {
    "deal.closed_won": {
        "opportunity_id": STR,
        "account_id": STR,
        "amount": NUM,
        "currency": CURRENCY,
        "close_date": DATE,
    },
    "project.created": _PROJECT,
    "project.updated": _PROJECT,
    "project.closed": _PROJECT,
    "worker.changed": {
        "consultant_id": STR,
        "change_id": STR,
        "change_type": STR,
        "effective_date": DATE,
        "entered_at": DATETIME,
    },
    "worker.synced": {"consultant_id": STR, "change_id": STR, "target_system": STR},
    "assignment.changed": {
        "assignment_id": STR,
        "consultant_id": STR,
        "project_code": STR,
        "role": STR,
        "start_date": DATE,
        "end_date": DATE,
        "planned_hours": NUM,
        "booking_type": STR,
        "status": STR,
    },
    "assignment.synced": {"assignment_id": STR, "target_system": STR},
    "rate_card.changed": {
        "rate_card_id": STR,
        "role": STR,
        "bill_rate": NUM,
        "currency": CURRENCY,
        "start_date": DATE,
        "end_date": DATE,
    },
    "timesheet.submitted": _TIMESHEET,
    "timesheet.approved": _TIMESHEET,
    "timesheet.rejected": _TIMESHEET,
    "timesheet.recalled": _TIMESHEET,
    "time_entry.adjusted": {
        "entry_id": STR,
        "supersedes_entry_id": STR,
        "work_date": DATE,
        "delta_hours": NUM,
        "reason": STR,
    },
    "time_entry.post_requested": _POSTING,
    "time_entry.posted": {**_POSTING, "erp_document_id": STR},
    "time_entry.post_failed": {**_POSTING, "error_code": STR, "error_category": STR, "retryable": BOOL},
    "time_entry.written_off": {"entry_id": STR, "hours": NUM, "amount": NUM, "currency": CURRENCY, "reason": STR},
    "invoice.ready": _INVOICE,
    "invoice.released": _INVOICE,
    "invoice.posted": {**_INVOICE, "erp_invoice_number": STR},
    "invoice.post_failed": _INVOICE,
    "invoice.corrected": _INVOICE,
    "exception.opened": _EXCEPTION,
    "exception.resolved": {**_EXCEPTION, "resolution": STR, "resolved_by": STR},
    "message.dead_lettered": _MESSAGE,
    "message.replayed": {**_MESSAGE, "new_message_id": STR},
}

# Closed vocabularies inside data, checked where the catalogue names them.
ENUMS: Final[Mapping[str, frozenset[str]]] = {
    "change_type": frozenset({"hire", "termination", "leave", "org", "cost_center"}),
    "booking_type": frozenset({"soft", "hard"}),
}

# Business key kinds a record can be looked up by, and the data field that carries each.
BUSINESS_KEY_KINDS: Final[Mapping[str, str]] = {
    "entry": "entry_id",
    "timesheet": "timesheet_id",
    "invoice": "invoice_id",
    "project": "project_code",
    "consultant": "consultant_id",
    "assignment": "assignment_id",
    "exception": "exception_id",
    "message": "message_id",
    "deal": "opportunity_id",
    "change": "change_id",
    "correlation": "correlationid",
    "trace": "traceparent",
}

# Span attributes that link a span to business records (documented in docs/events.md).
SPAN_KEY_ATTRIBUTES: Final[Mapping[str, str]] = {
    "business.entry_id": "entry",
    "business.timesheet_id": "timesheet",
    "business.invoice_id": "invoice",
    "business.project_code": "project",
    "business.consultant_id": "consultant",
    "business.assignment_id": "assignment",
    "business.exception_id": "exception",
    "business.message_id": "message",
    "business.correlation_id": "correlation",
    "messaging.message.id": "message",
}

# CloudEvents extension attributes with a meaning here; any other valid extension is kept as-is.
EXTENSIONS: Final = ("correlationid", "causationid", "traceparent", "tenantid", "sourcesystem", "targetsystem")

_VERSION_SUFFIX = re.compile(r"\.v\d+$")


def canonical_type(received: str, aliases: Mapping[str, str] | None = None) -> str | None:
    """com.acme.psa.time_entry.posted.v1 -> time_entry.posted; aliases map other names; None when unknown."""
    if aliases and received in aliases:
        return aliases[received]
    name = _VERSION_SUFFIX.sub("", received)
    if name in CATALOGUE:
        return name
    parts = name.rsplit(".", 2)
    if len(parts) >= 2:
        tail = parts[-2] + "." + parts[-1]
        if tail in CATALOGUE:
            return tail
    return None
