"""PSA -> middleware -> ERP time posting: attempts, the failure-cause mix, retries with backoff, dead letters,
exceptions with severity SLAs, fixes, replays and write-offs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simulator.calendar import DAY, HOUR, MINUTE, add_business_days, iso_date, month_period, to_date
from simulator.distributions import (
    FAILURE_CAUSES,
    business_hours_later,
    failure_cause,
    first_pass_failure_probability,
)
from simulator.model import DeadLetter, Entry, ExceptionRecord, Posting
from simulator.timesheets import TimesheetFlow

__all__ = [
    "ESCALATION_BUSINESS_DAYS",
    "EXCEPTION_SLA_BUSINESS_DAYS",
    "MAX_RETRYABLE_ATTEMPTS",
    "TRIAGE_HOURS",
    "PostingFlow",
]

MAX_RETRYABLE_ATTEMPTS = 4
EXCEPTION_SLA_BUSINESS_DAYS = {"P1": 0.5, "P2": 1.0, "P3": 3.0}  # 4 business hours = half a business day
_SEVERITY = {"invalid_project": "P2", "closed_period": "P2", "rate_card": "P2", "missing_worktag": "P3",
             "duplicate": "P3", "throttling": "P1", "erp_unavailable": "P1"}  # fmt: skip
# median, p90 in business hours: a working operations team resolves about 97-98% of each severity within its SLA
# (P1 4 business hours, P2 8, P3 24), which an exception SLA objective of 95% needs.
_FIX_HOURS = {"P1": (1.0, 2.5), "P2": (2.5, 5.0), "P3": (6.0, 14.0)}
# An exception still open this long is escalated and fixed: no line waits on its data for 5 days (blocked WIP older
# than 5 days is bad, domain.md section 4; 2.5 business days span at most 4.5 calendar days).
ESCALATION_BUSINESS_DAYS = 2.5
# Hours until the middleware's replay job hands a dead letter whose cause is in the data back to its connector,
# any day of the week (the job is scheduled); the line then waits on its exception until the data is fixed.
TRIAGE_HOURS = (0.25, 3.0)
WRITE_OFF_SHARE_OF_INVALID = 0.10
GIVE_UP_ATTEMPTS = 8  # a line that keeps failing after fixes is written off
DUPLICATE_SHARE_IN_FAULT = 0.05
SLOW_DRIFT_PER_DAY = 0.005
_ERRORS: dict[str, tuple[str, str]] = {
    "invalid_project": ("INVALID_KEY_OR_REF", "Invalid project or assignment reference"),
    "closed_period": ("PERIOD_CLOSED", "The accounting period is closed"),
    "rate_card": ("NO_EFFECTIVE_RATE", "No effective rate card for role and date"),
    "missing_worktag": ("MISSING_DEPARTMENT", "Cost centre / department is required"),
    "duplicate": ("DUP_RECORD", "A record with the same external id exists"),
    "throttling": ("SSS_REQUEST_LIMIT_EXCEEDED", "Concurrent request limit exceeded"),
    "erp_unavailable": ("HTTP_503", "Service Unavailable"),
}


class PostingFlow(TimesheetFlow):
    def posting_cause(self, e: Entry, t: float) -> str | None:
        """Why this attempt fails, or None: faults first, then the state of master data, then the base mix."""
        firm = self.firm
        p = self.project_by_psa_code(e.project_code)
        if self.fault("erp_outage", t):
            return "throttling" if self.rng.random() < 0.5 else "erp_unavailable"
        if self.fault("closed_period", t) and (e.tenant, month_period(to_date(e.work_date))) in firm.closed_periods:
            return "closed_period"
        if p is None or e.project_code not in (p.erp_code, p.code) or p.erp_status != "active":
            return "invalid_project"
        if e.billable:
            c = firm.consultants[e.consultant_id]
            rate, ok = firm.card_for(p, c.role, e.work_date)
            if not ok:
                return "rate_card"
            e.rate = rate
        rng = self.rng
        day = to_date(t).day
        p_fail = first_pass_failure_probability(day) if e.attempts == 1 else 0.01
        window = self.faults.window_at("slow_drift", t)
        if window is not None:
            p_fail += SLOW_DRIFT_PER_DAY * (t - window.start) / DAY
        if rng.random() < p_fail:
            return failure_cause(rng, day) if e.attempts == 1 else "throttling"
        return None

    def price(self, e: Entry) -> None:
        if e.rate:
            return
        firm = self.firm
        p = self.project_by_psa_code(e.project_code)
        c = firm.consultants[e.consultant_id]
        if p is not None and e.billable:
            e.rate, _ = firm.card_for(p, c.role, e.work_date)
        if not e.rate:  # cost rate for non-billable and fixed-fee work
            e.rate = firm.rate_cards[f"RC-STD-{e.tenant}"].rates[c.role] * 0.45
        e.currency = p.currency if p is not None else firm.rate_cards[f"RC-STD-{e.tenant}"].currency

    def posting_data(self, e: Entry, key: str) -> dict[str, Any]:
        return {"entry_id": e.id, "consultant_id": e.consultant_id, "project_code": e.project_code,
                "work_date": iso_date(e.work_date), "hours": e.hours, "amount": e.amount, "currency": e.currency,
                "attempt": e.attempts, "idempotency_key": key}  # fmt: skip

    def post_entry(self, entry_id: str, cause: str) -> None:
        e = self.firm.entries[entry_id]
        t = self.now
        if e.status in ("POSTED", "SUPERSEDED", "WRITTEN_OFF"):
            return
        if self.fault("silent_flow", t) and self.silent_flow_name == "psa-to-erp-time":
            self.at(self.faults.clear_at("silent_flow", t) + self.rng.uniform(1, 60) * MINUTE, self.post_entry,
                    entry_id, cause)  # fmt: skip
            return
        e.attempts += 1
        first = e.first_attempt_at is None
        if first:
            e.first_attempt_at = t
        self.price(e)
        key = f"ik-{e.id}"
        data = self.posting_data(e, key)
        req_id, tr, sp = self.emit("middleware", "time_entry.post_requested", "psa-to-erp-time", e.tenant, e.id, data,
                                   t, e.correlation_id, cause, queue="erp-time-posting")  # fmt: skip
        why = self.posting_cause(e, t)
        data = self.posting_data(e, key)  # the rate may have been settled while checking
        done = t + self.rng.uniform(0.3, 20.0)
        if why is None:
            if first:
                e.first_attempt_ok = True
            self.book(e, data, key, done, req_id, (tr, sp))
            if self.fault("duplicate_submissions", t) and self.rng.random() < DUPLICATE_SHARE_IN_FAULT:
                # The connector timed out waiting, and re-sent with a fresh key: ERP books it twice.
                e.attempts += 1
                key2 = f"ik-{e.id}-r{e.attempts}"
                data2 = self.posting_data(e, key2)
                rid2, tr2, sp2 = self.emit("middleware", "time_entry.post_requested", "psa-to-erp-time", e.tenant,
                                           e.id, data2, done + 30, e.correlation_id, cause,
                                           queue="erp-time-posting")  # fmt: skip
                self.book(e, data2, key2, done + 31, rid2, (tr2, sp2))
            self.schedule_adjustment(e)
            return
        code, message = _ERRORS[why]
        category = FAILURE_CAUSES[why][0] if why in FAILURE_CAUSES else "ERP_UNAVAILABLE"
        # The connector gives up after MAX_RETRYABLE_ATTEMPTS and says so: its last failure is not retryable.
        retryable = why in ("throttling", "erp_unavailable") and e.attempts < MAX_RETRYABLE_ATTEMPTS
        e.status = "POST_FAILED"
        fail_id, _, _ = self.emit("middleware", "time_entry.post_failed", "psa-to-erp-time", e.tenant, e.id,
                                  {**data, "error_code": code, "error_category": category, "retryable": retryable,
                                   "error_message": message}, done, e.correlation_id, req_id, (tr, sp),
                                  error=True, queue="erp-time-posting")  # fmt: skip
        if retryable:
            backoff = (2**e.attempts) * MINUTE * self.rng.uniform(1.0, 2.0)
            self.at(done + backoff, self.post_entry, e.id, fail_id)
            return
        if e.blocked_since is None:
            e.blocked_since = done
        severity = _SEVERITY[why]
        exc = self.open_exception(f"time_posting.{why}", severity, "time_entry", e.id, e.tenant, done,
                                  e.correlation_id, fail_id)  # fmt: skip
        if self.gives_up(e, why, t):
            self.at(self.fix_time(why, severity, done), self.write_off, e.id, exc.id)
            return
        fixed = self.fix_time(why, severity, done)
        # A line ERP refused for its data is handed back within hours and waits on its exception; one that ran out of
        # retries against a throttling or unavailable ERP stays dead-lettered until ERP answers again.
        technical = why in ("throttling", "erp_unavailable")
        self.dead_letter("erp-time-posting", fail_id, f"{code}: {message}", e.id, e.tenant, e.correlation_id,
                         (tr, sp), e.attempts, fixed if technical else self.triage_time(done),
                         (self.fixed_and_replay, (e.id, exc.id)), fixed_at=fixed)  # fmt: skip

    def gives_up(self, e: Entry, why: str, t: float) -> bool:
        """Write the line off instead of fixing it: some invalid-project lines, and lines that keep failing."""
        if e.attempts >= GIVE_UP_ATTEMPTS:
            return True
        if why != "invalid_project":
            return False
        if e.attempts > 1 and not (self.fault("crm_rename", t) or self.fault("master_data_drift", t)):
            return True  # fixed once and still invalid: the project really is closed
        return self.rng.random() < WRITE_OFF_SHARE_OF_INVALID

    def book(self, e: Entry, data: dict[str, Any], key: str, t: float, cause: str, parent: tuple[int, int]) -> None:
        firm = self.firm
        doc = f"JE{firm.next_id('journal'):09d}"
        posting = Posting(doc, e.id, e.consultant_id, e.project_code, e.work_date, e.hours, e.amount, e.currency,
                          e.tenant, t, key)  # fmt: skip
        firm.postings.append(posting)
        firm.postings_by_entry.setdefault(e.id, []).append(posting)
        if e.supersedes:  # a correction journal reverses what the superseded entry booked
            for earlier in firm.postings_by_entry.get(e.supersedes, ()):
                earlier.reversed = True
        e.status = "POSTED"
        first_booking = e.posted_at is None
        if first_booking:
            e.posted_at = t
        e.blocked_since = None
        if e.billable and first_booking:  # a line is billed once, however many journals ERP booked for it
            self.unbilled.setdefault(e.project_code, []).append(e.id)
        self.emit("erp", "time_entry.posted", "psa-to-erp-time", e.tenant, e.id, {**data, "erp_document_id": doc}, t,
                  e.correlation_id, cause, parent)  # fmt: skip

    def fix_time(self, why: str, severity: str, t: float) -> float:
        """When operations fix the cause: a business-hours lognormal, never before a fault behind it clears."""
        median, p90 = _FIX_HOURS[severity]
        fixed = min(business_hours_later(self.rng, t, median, p90), add_business_days(t, ESCALATION_BUSINESS_DAYS))
        blocking = {"throttling": "erp_outage", "erp_unavailable": "erp_outage", "closed_period": "closed_period",
                    "rate_card": "expired_rate_card", "invalid_project": "crm_rename"}.get(why)  # fmt: skip
        for name in (blocking, "master_data_drift" if why == "invalid_project" else None):
            if name and self.fault(name, fixed):
                fixed = self.faults.clear_at(name, fixed) + self.rng.uniform(0.5, 3) * HOUR
        return fixed

    def triage_time(self, t: float) -> float:
        return t + self.rng.uniform(*TRIAGE_HOURS) * HOUR

    def fixed_and_replay(self, entry_id: str, exception_id: str) -> None:
        e = self.firm.entries[entry_id]
        self.resolve_exception(exception_id, "fixed_and_replayed", "ops-team", e.correlation_id)
        e.attempts = max(e.attempts, 1)
        self.post_entry(entry_id, "")

    def write_off(self, entry_id: str, exception_id: str) -> None:
        e = self.firm.entries[entry_id]
        t = self.now
        e.status = "WRITTEN_OFF"
        e.written_off_at = t
        e.blocked_since = None
        self.price(e)
        self.emit("psa", "time_entry.written_off", "psa-timesheets", e.tenant, e.id,
                  {"entry_id": e.id, "hours": e.hours, "amount": e.amount, "currency": e.currency,
                   "reason": "project closed or invalid", "project_code": e.project_code,
                   "consultant_id": e.consultant_id}, t, e.correlation_id)  # fmt: skip
        self.resolve_exception(exception_id, "written_off", "billing-team", e.correlation_id)

    # -- exceptions and dead letters -------------------------------------------------------------------------
    def open_exception(
        self, category: str, severity: str, object_type: str, object_id: str, tenant: str, t: float,
        correlation: str, cause: str,
    ) -> ExceptionRecord:  # fmt: skip
        exc = ExceptionRecord(self.new_id("EXC"), category, severity, object_type, object_id, tenant, t,
                              add_business_days(t, EXCEPTION_SLA_BUSINESS_DAYS[severity]))  # fmt: skip
        self.firm.exceptions[exc.id] = exc
        self.emit("middleware", "exception.opened", "exceptions", tenant, exc.id,
                  {"exception_id": exc.id, "category": category, "severity": severity, "object_type": object_type,
                   "object_id": object_id}, t, correlation, cause)  # fmt: skip
        return exc

    def resolve_exception(self, exception_id: str, resolution: str, resolved_by: str, correlation: str) -> None:
        exc = self.firm.exceptions[exception_id]
        if exc.resolved_at is not None:
            return
        exc.resolved_at = self.now
        exc.resolution = resolution
        self.emit("middleware", "exception.resolved", "exceptions", exc.tenant, exc.id,
                  {"exception_id": exc.id, "category": exc.category, "severity": exc.severity,
                   "object_type": exc.object_type, "object_id": exc.object_id, "resolution": resolution,
                   "resolved_by": resolved_by}, self.now, correlation)  # fmt: skip

    def dead_letter(
        self, queue: str, original_event_id: str, reason: str, object_id: str, tenant: str, correlation: str,
        parent: tuple[int, int], attempts: int, replay_at: float, then: tuple[Callable[..., None], tuple[Any, ...]],
        fixed_at: float | None = None,
    ) -> DeadLetter:  # fmt: skip
        """Dead-letter a message, replayed at replay_at (or once the replay job runs again); `then` runs at the
        replay, or at fixed_at if the cause is fixed only later."""
        t = self.now
        msg = DeadLetter(self.new_id("MSG"), original_event_id, queue, reason, attempts, object_id, tenant, t)
        self.firm.dead_letters[msg.message_id] = msg
        flow = {"erp-time-posting": "psa-to-erp-time", "erp-invoice-posting": "psa-to-erp-invoices"}.get(
            queue, "hcm-to-psa-workers"
        )
        self.emit("middleware", "message.dead_lettered", flow, tenant, msg.message_id,
                  {"message_id": msg.message_id, "original_event_id": original_event_id, "queue": queue,
                   "reason": reason, "attempt_count": attempts, "object_id": object_id}, t, correlation,
                  original_event_id, parent, error=True, queue=queue)  # fmt: skip
        self.at(max(replay_at, t), self.replay, msg.message_id, flow, correlation, then, fixed_at)
        return msg

    def replay(self, message_id: str, flow: str, correlation: str,
               then: tuple[Callable[..., None], tuple[Any, ...]], fixed_at: float | None = None) -> None:  # fmt: skip
        t = self.now
        if self.fault("dead_letter_buildup", t):
            self.at(self.faults.clear_at("dead_letter_buildup", t) + self.rng.uniform(5, 120) * MINUTE, self.replay,
                    message_id, flow, correlation, then, fixed_at)  # fmt: skip
            return
        self._replayed(message_id, flow, correlation, then, fixed_at)

    def replay_on_request(self, message_id: str) -> bool:
        """An operator's replay request (the middleware's API): the message's scheduled replay runs now, without the
        replay job's fault check. False when no replay of it is pending."""
        args = self.take_scheduled(self.replay, message_id)
        if args is None:
            return False
        self._replayed(*args)
        return True

    def _replayed(self, message_id: str, flow: str, correlation: str,
                  then: tuple[Callable[..., None], tuple[Any, ...]], fixed_at: float | None) -> None:  # fmt: skip
        t = self.now
        msg = self.firm.dead_letters[message_id]
        msg.replayed_at = t
        msg.new_message_id = self.new_id("MSG")
        self.emit("middleware", "message.replayed", flow, msg.tenant, msg.message_id,
                  {"message_id": msg.message_id, "original_event_id": msg.original_event_id, "queue": msg.queue,
                   "reason": msg.reason, "attempt_count": msg.attempt_count, "new_message_id": msg.new_message_id},
                  t, correlation, msg.original_event_id, queue=msg.queue)  # fmt: skip
        fn, args = then
        if fixed_at is not None and fixed_at > t:
            self.at(fixed_at, fn, *args)
        else:
            fn(*args)
