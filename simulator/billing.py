"""Invoicing per project billing cycle (daily, weekly, monthly milestones), release to ERP, ERP posting,
post failures, credit notes after retro adjustments, and write-offs at billing review."""

from __future__ import annotations

from simulator.calendar import DAY, HOUR, MINUTE, add_business_days, day_start, month_period, to_date, to_epoch, weekday
from simulator.model import Entry, Invoice
from simulator.posting import PostingFlow

__all__ = ["BillingFlow", "INVOICE_POST_FAILURE_SHARE", "WEEKLY_RUN_WEEKDAY", "WRITE_OFF_AT_BILLING_SHARE"]

INVOICE_POST_FAILURE_SHARE = 0.01
WRITE_OFF_AT_BILLING_SHARE = 0.005
_BILLING_HOUR = 18.0
WEEKLY_RUN_WEEKDAY = 1  # Tuesday: weekly invoices bill the week before


class BillingFlow(PostingFlow):
    def billing_run(self, day: float) -> None:
        """Business days at 18:00: each project whose cycle is due turns its posted, unbilled lines into an invoice."""
        if weekday(day) >= 5:
            return
        first_run_of_month = (
            to_date(day).month != to_date(self.last_billing_day).month
            if self.last_billing_day
            else (to_date(day).day <= 3)
        )
        self.last_billing_day = day
        t = self.now
        firm = self.firm
        rng = self.rng
        for code in list(self.unbilled):
            p = self.project_by_psa_code(code)
            if p is None:
                continue
            due = (p.billing_cycle == "daily" or (p.billing_cycle == "weekly" and weekday(day) == WEEKLY_RUN_WEEKDAY)
                   or (p.billing_cycle == "monthly" and first_run_of_month))  # fmt: skip
            if not due:
                continue
            # A weekly or monthly invoice bills the time approved up to the cycle's cut-off (the week's or month's
            # end, UTC); what was approved since waits for the next one.
            cutoff = {"weekly": day_start(day) - weekday(day) * DAY,
                      "monthly": to_epoch(to_date(day).replace(day=1))}.get(p.billing_cycle, t)  # fmt: skip
            ids = self.unbilled.pop(code)
            lines: list[Entry] = []
            for i in ids:
                e = firm.entries[i]
                if e.status != "POSTED" or e.invoice_id:
                    continue
                if e.approved_at is not None and e.approved_at >= cutoff:
                    self.unbilled.setdefault(code, []).append(i)
                    continue
                if rng.random() < WRITE_OFF_AT_BILLING_SHARE:
                    self.billing_write_off(e)
                    continue
                lines.append(e)
            if lines:
                self.make_invoice(code, p.tenant, lines, t + rng.uniform(0, 40) * MINUTE, month_period(to_date(day)))
        if first_run_of_month:
            previous = month_period(to_date(day - 5 * DAY))
            for p in list(self.fixed_fee_projects()):
                if p.status == "active":
                    self.milestone_invoice(p, previous, t)

    def fixed_fee_projects(self):  # noqa: ANN201 - a generator over the live fixed-fee projects
        return (p for p in self.firm.projects.values() if p.billing_type == "fixed_fee")

    def make_invoice(self, code: str, tenant: str, lines: list[Entry], t: float, period: str) -> None:
        firm = self.firm
        inv = Invoice(f"INV-{firm.next_id('invoice'):08d}", code, tenant, lines[0].currency, [e.id for e in lines],
                      round(sum(e.amount for e in lines), 2), period, t)  # fmt: skip
        inv.correlation_id = f"invoice-{inv.id}"
        firm.invoices[inv.id] = inv
        for e in lines:
            e.invoice_id = inv.id
            e.invoice_ready_at = t
        self.at(t, self.invoice_ready, inv.id)

    def milestone_invoice(self, p, period: str, t: float) -> None:  # noqa: ANN001
        firm = self.firm
        inv = Invoice(f"INV-{firm.next_id('invoice'):08d}", p.psa_code, p.tenant, p.currency,
                      [f"MS-{p.code}-{period}"], p.monthly_fee, period, t)  # fmt: skip
        inv.correlation_id = f"invoice-{inv.id}"
        firm.invoices[inv.id] = inv
        self.at(t + self.rng.uniform(0, 60) * MINUTE, self.invoice_ready, inv.id)

    def invoice_data(self, inv: Invoice) -> dict[str, object]:
        return {"invoice_id": inv.id, "project_code": inv.project_code, "amount": inv.amount, "currency": inv.currency,
                "entry_ids": list(inv.entry_ids), "period": inv.period}  # fmt: skip

    def invoice_ready(self, invoice_id: str) -> None:
        inv = self.firm.invoices[invoice_id]
        inv.ready_at = self.now
        eid, _, _ = self.emit("psa", "invoice.ready", "psa-to-erp-invoices", inv.tenant, inv.id, self.invoice_data(inv),
                              self.now, inv.correlation_id)  # fmt: skip
        # Billing review releases the next business morning.
        release = add_business_days(self.now, 0.5) + self.rng.uniform(0, 3) * HOUR
        self.at(release, self.release_invoice, invoice_id, eid)

    def release_invoice(self, invoice_id: str, cause: str) -> None:
        inv = self.firm.invoices[invoice_id]
        t = self.now
        if self.fault("silent_flow", t) and self.silent_flow_name == "psa-to-erp-invoices":
            self.at(self.faults.clear_at("silent_flow", t), self.release_invoice, invoice_id, cause)
            return
        inv.status = "RELEASED"
        if inv.released_at is None:
            inv.released_at = t
        eid, tr, sp = self.emit("middleware", "invoice.released", "psa-to-erp-invoices", inv.tenant, inv.id,
                                self.invoice_data(inv), t, inv.correlation_id, cause,
                                queue="erp-invoice-posting")  # fmt: skip
        done = t + self.rng.uniform(20, 900)
        if self.fault("erp_outage", t) or self.rng.random() < INVOICE_POST_FAILURE_SHARE:
            inv.status = "POST_FAILED"
            fid, _, _ = self.emit("middleware", "invoice.post_failed", "psa-to-erp-invoices", inv.tenant, inv.id,
                                  {**self.invoice_data(inv), "error_code": "INVALID_FLD_VALUE"}, done,
                                  inv.correlation_id, eid, (tr, sp), error=True)  # fmt: skip
            exc = self.open_exception("invoice_posting", "P1", "invoice", inv.id, inv.tenant, done,
                                      inv.correlation_id, fid)  # fmt: skip
            outage = self.fault("erp_outage", t)
            retry = self.fix_time("erp_unavailable" if outage else "throttling", "P1", done)
            # A field ERP refused is handed back within hours and fixed on the exception; an outage waits for ERP.
            self.dead_letter("erp-invoice-posting", fid, "INVALID_FLD_VALUE", inv.id, inv.tenant, inv.correlation_id,
                             (tr, sp), 1, retry if outage else self.triage_time(done),
                             (self.retry_invoice, (invoice_id, exc.id, fid)), fixed_at=retry)  # fmt: skip
            return
        self.at(done, self.post_invoice, invoice_id, eid, tr, sp)

    def retry_invoice(self, invoice_id: str, exception_id: str, cause: str) -> None:
        self.resolve_exception(exception_id, "fixed_and_replayed", "billing-team", f"invoice-{invoice_id}")
        self.release_invoice(invoice_id, cause)

    def post_invoice(self, invoice_id: str, cause: str, trace: int, span: int) -> None:
        inv = self.firm.invoices[invoice_id]
        inv.status = "POSTED"
        inv.posted_at = self.now
        inv.erp_number = f"INV{self.firm.next_id('erp_invoice'):08d}"
        self.emit("erp", "invoice.posted", "psa-to-erp-invoices", inv.tenant, inv.id,
                  {**self.invoice_data(inv), "erp_invoice_number": inv.erp_number}, self.now, inv.correlation_id,
                  cause, (trace, span))  # fmt: skip

    def credit_entry(self, e: Entry, cause: str) -> None:
        """A retro adjustment to an invoiced line: a credit note against the original invoice."""
        inv = self.firm.invoices[e.invoice_id]
        self.emit("psa", "invoice.corrected", "psa-to-erp-invoices", inv.tenant, inv.id,
                  {"invoice_id": inv.id, "project_code": inv.project_code, "amount": -e.amount,
                   "currency": inv.currency, "entry_ids": [e.id], "period": inv.period,
                   "credit_note_id": f"CN-{inv.id[4:]}-{e.id[3:]}"}, self.now, inv.correlation_id, cause)  # fmt: skip

    def billing_write_off(self, e: Entry) -> None:
        e.status = "WRITTEN_OFF"
        e.written_off_at = self.now
        self.emit("psa", "time_entry.written_off", "psa-timesheets", e.tenant, e.id,
                  {"entry_id": e.id, "hours": e.hours, "amount": e.amount, "currency": e.currency,
                   "reason": "billing review: not chargeable", "project_code": e.project_code,
                   "consultant_id": e.consultant_id}, self.now, e.correlation_id)  # fmt: skip
