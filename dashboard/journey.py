"""A record's journey (GET /api/v1/records/{key}) read as a story: a waterfall, where it stopped, and why.

Pure functions over the collector's answer, so the rules are tested without a browser.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dashboard.format import duration, parse_time

__all__ = ["KEY_KINDS", "NEXT_STEP", "Verdict", "guess_kind", "systems", "verdict", "waterfall_rows"]

# Business key kinds the collector indexes (syncwatch.vocabulary.BUSINESS_KEY_KINDS), labelled for people.
KEY_KINDS: Mapping[str, str] = {
    "": "any kind",
    "entry": "time entry",
    "timesheet": "timesheet",
    "invoice": "invoice",
    "project": "project",
    "consultant": "consultant",
    "assignment": "assignment",
    "deal": "deal (opportunity)",
    "change": "HCM change",
    "exception": "exception",
    "message": "middleware message",
    "correlation": "correlation id",
    "trace": "trace id",
}

# The canonical lifecycles (domain.md section 2): what should follow each event if the record is healthy.
NEXT_STEP: Mapping[str, str] = {
    "timesheet.submitted": "timesheet.approved",
    "timesheet.approved": "time_entry.post_requested",
    "time_entry.post_requested": "time_entry.posted",
    "time_entry.post_failed": "time_entry.posted (a retry)",
    "time_entry.adjusted": "time_entry.post_requested",
    "time_entry.posted": "invoice.ready",
    "invoice.ready": "invoice.released",
    "invoice.released": "invoice.posted",
    "invoice.post_failed": "invoice.posted (a retry)",
    "deal.closed_won": "project.created",
    "project.created": "project.updated in ERP and PSA",
    "worker.changed": "worker.synced",
    "assignment.changed": "assignment.synced",
    "message.dead_lettered": "message.replayed",
    "exception.opened": "exception.resolved",
}
_PREFIXES = (
    ("TE-", "entry"),
    ("TS-", "timesheet"),
    ("INV-", "invoice"),
    ("PRJ-", "project"),
    ("ASG-", "assignment"),
    ("CHG-", "change"),
    ("EXC-", "exception"),
    ("MSG-", "message"),
)


@dataclass(frozen=True)
class Verdict:
    state: str  # "not_found" | "complete" | "waiting" | "failed"
    headline: str
    reasons: tuple[str, ...]
    last_event: str | None
    expected_next: str | None
    # since the record last moved: its latest event or span, whichever came last (a span is activity too)
    stalled_for_seconds: float | None


def guess_kind(key: str) -> str:
    """The simulator's and typical id prefixes, so a pasted key finds its kind; '' searches every kind."""
    upper = key.upper()
    for prefix, kind in _PREFIXES:
        if upper.startswith(prefix):
            return kind
    if re.fullmatch(r"C\d{6,}", upper):
        return "consultant"
    if re.fullmatch(r"006\d{12}", key):
        return "deal"
    if re.fullmatch(r"[0-9a-f]{32}", key.lower()):
        return "trace"
    return ""


def _failure_reason(item: Mapping[str, Any]) -> str | None:
    if item.get("signal") == "span":
        if item.get("status") == "Error":
            message = item.get("status_message") or "no status message"
            return f"span {item.get('service', '?')} / {item.get('name', '?')} failed: {message}"
        return None
    kind = str(item.get("type", ""))
    data = item.get("data") if isinstance(item.get("data"), Mapping) else {}
    assert isinstance(data, Mapping)
    if kind.endswith("post_failed"):
        code = data.get("error_code") or "unknown error"
        category = data.get("error_category")
        retry = data.get("retryable")
        text = f"{kind}: {code}" + (f" ({category})" if category else "")
        if retry is not None:
            text += ", retryable" if retry else ", not retryable"
        return text
    if kind == "message.dead_lettered":
        return f"dead-lettered on {data.get('queue', '?')}: {data.get('reason', 'no reason')}"
    if kind == "exception.opened":
        return f"exception {data.get('category', '?')} ({data.get('severity', '?')}) opened"
    return None


def verdict(journey: Mapping[str, Any], now: datetime) -> Verdict:
    items: Sequence[Mapping[str, Any]] = journey.get("items") or []
    if not journey.get("found") or not items:
        return Verdict("not_found", "No event or span mentions this key.", (), None, None, None)
    events = [i for i in items if i.get("signal") == "event"]
    last = events[-1] if events else None
    last_type = str(last.get("type")) if last else None
    last_event_at = parse_time(last.get("at")) if last else None
    # Idle since the latest item of any signal: measured from the last event only, a record whose newest step was
    # a span (a retry, a hop with no business event yet, a record known only from spans) read as idle for as long
    # as its last event was old, days after a span had just arrived.
    moved = [t for i in items if (t := _finished(i)) is not None]
    stalled = max(0.0, (now - max(moved)).total_seconds()) if moved else None
    waited = max(0.0, (now - last_event_at).total_seconds()) if last_event_at else stalled
    reasons = []
    resolved = {str(e.get("type")) for e in events}
    # a failed span followed by a successful business event was retried and got through: history, not a cause
    progressed_at = max((str(e.get("at")) for e in events if _failure_reason(e) is None), default="")
    for item in items:
        reason = _failure_reason(item)
        if reason is None:
            continue
        if item.get("signal") == "span" and str(item.get("at")) < progressed_at:
            continue
        # a failure later healed (posted after post_failed, replayed after dead-letter) is history, not a cause
        healed = (
            (item.get("type") == "time_entry.post_failed" and "time_entry.posted" in resolved)
            or (item.get("type") == "invoice.post_failed" and "invoice.posted" in resolved)
            or (item.get("type") == "message.dead_lettered" and "message.replayed" in resolved)
            or (item.get("type") == "exception.opened" and "exception.resolved" in resolved)
        )
        if not healed:
            reasons.append(reason)
    expected = NEXT_STEP.get(last_type or "")
    if reasons:
        state = "failed"
        headline = f"Stopped after {last_type or 'its last span'}: {reasons[-1]}"
    elif expected:
        state = "waiting"
        headline = f"Waiting for {expected} since {last_type} ({duration(waited)} ago)"
    else:
        state = "complete"
        headline = f"Reached {last_type or 'its last span'}; nothing further expected"
    return Verdict(state, headline, tuple(dict.fromkeys(reasons)), last_type, expected, stalled)


def _finished(item: Mapping[str, Any]) -> datetime | None:
    at = parse_time(item.get("at"))
    if at is None or item.get("signal") != "span":
        return at
    ms = item.get("duration_ms")
    return at + timedelta(milliseconds=float(ms)) if isinstance(ms, int | float) and ms > 0 else at


def systems(journey: Mapping[str, Any]) -> list[str]:
    """Every system the record went through: the events' source and target systems, and the services of its
    spans (a record known only from spans has no event to name a system, and showed none)."""
    found = {str(s) for s in (journey.get("summary") or {}).get("systems") or [] if s}
    for item in journey.get("items") or []:
        names = (
            (item.get("service"),)
            if item.get("signal") == "span"
            else (item.get("source_system"), item.get("target_system"))
        )
        found.update(str(n) for n in names if n)
    return sorted(found)


def waterfall_rows(journey: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per item in time order; each bar runs from the end of the previous item to the end of this one,
    so long bars are where the record waited (a journey spans days while its spans last milliseconds: bars of
    the spans alone would be invisible on the days-long axis)."""
    rows: list[dict[str, Any]] = []
    previous_end: datetime | None = None
    for item in journey.get("items") or []:
        at = parse_time(item.get("at"))
        if at is None:
            continue
        if item.get("signal") == "span":
            ms = float(item.get("duration_ms") or 0.0)
            what = str(item.get("name") or "span")
            system = str(item.get("service") or "?")
            status = "error" if item.get("status") == "Error" else "ok"
            detail = str(item.get("status_message") or "")
        else:
            ms = 0.0
            what = str(item.get("type") or "event")
            system = str(item.get("source_system") or item.get("source") or "?")
            failed = _failure_reason(item)
            status = "error" if failed else "ok"
            detail = failed or ""
        end = at + timedelta(milliseconds=ms)
        start = previous_end if previous_end is not None and previous_end < at else at
        rows.append(
            {
                "step": f"{len(rows) + 1:>3}. {what} ({system})",
                "what": what,
                "system": system,
                "signal": str(item.get("signal")),
                "at": at,
                "start": start,
                # at least a microsecond, not a millisecond: a floor of 1 ms stretched sub-millisecond spans
                # to look several times longer than they were, and the axis with them
                "end": max(end, start + timedelta(microseconds=1)),
                "waited": duration((at - start).total_seconds()),
                "duration_ms": ms,
                "status": status,
                "detail": detail,
            }
        )
        previous_end = max(end, previous_end) if previous_end is not None else end
    return rows
