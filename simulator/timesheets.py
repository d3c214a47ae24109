"""Time capture in PSA: daily lines, weekly timesheets with the submission pattern, approvals with lognormal
delay, rejections, recalls, and retro adjustments (new linked entries, never edits in place)."""

from __future__ import annotations

from simulator.calendar import DAY, HOUR, MINUTE, add_business_days, day_start, iso_date, to_date
from simulator.distributions import approval_delay_days, submission_time
from simulator.model import ENTITIES, Consultant, Entry, Timesheet
from simulator.workforce import WorkforceFlow

__all__ = ["ADJUSTMENT_SHARE", "PICKUP_MEAN", "RECALL_SHARE", "REJECTION_SHARE", "TimesheetFlow"]

REJECTION_SHARE = 0.035
RECALL_SHARE = 0.01
ADJUSTMENT_SHARE = 0.02
# An event-driven connector takes an approved timesheet in a couple of minutes (mean; exponential).
PICKUP_MEAN = 2 * MINUTE
TWO_LINE_DAY_SHARE = 0.6  # 5 days x (1 + 0.6) = 8 lines a week on average
_SPLIT = {e.tenant: e.month_end_split for e in ENTITIES}
_ADJUST_REASONS = ("client_correction", "wrong_work_date", "hours_understated", "hours_overstated")


class TimesheetFlow(WorkforceFlow):
    def plan_week(self, week_start: float) -> None:
        """Monday 00:00: every working consultant gets the week's lines and a submission time."""
        for c in list(self.firm.consultants.values()):
            if c.status != "active" or c.hired_at > week_start + 4 * DAY:
                continue
            if c.terminated_at is not None and c.terminated_at <= week_start:
                continue
            self.plan_consultant_week(c, week_start)

    def plan_consultant_week(self, c: Consultant, week_start: float) -> None:
        rng = self.rng
        firm = self.firm
        internal = firm.internal_projects[c.tenant]
        lines: list[Entry] = []
        for d in range(5):
            day = week_start + d * DAY
            if c.terminated_at is not None and day >= c.terminated_at:
                break
            live = [a for a in c.assignments if a.start <= day <= a.end and a.status != "ENDED"]
            day_hours = rng.choice((7.5, 8.0, 8.0, 8.0, 8.5, 9.0))
            n = 2 if rng.random() < TWO_LINE_DAY_SHARE else 1
            split = (day_hours,) if n == 1 else (day_hours - (h := rng.choice((1.0, 2.0, 3.0, 4.0))), h)
            for hours in split:
                if live and rng.random() > 0.08:
                    code = rng.choice(live).project_code
                else:
                    code = internal
                p = firm.projects[code]
                entry = Entry(f"TE-{firm.next_id('entry'):09d}", c.id, c.tenant, p.psa_code, day, hours, "",
                              billable=p.billing_type == "time_and_materials")  # fmt: skip
                lines.append(entry)
        if not lines:
            return
        month_end = self.month_end_in_week(week_start)
        parts: list[tuple[list[Entry], float, float, bool]]
        if month_end is not None and _SPLIT[c.tenant]:
            first = [e for e in lines if e.work_date <= month_end]
            rest = [e for e in lines if e.work_date > month_end]
            parts = [(first, week_start, month_end, False)]
            if rest:
                parts.append((rest, month_end + DAY, week_start + 6 * DAY, True))
        else:
            parts = [(lines, week_start, week_start + 6 * DAY, True)]
        for part_lines, p_start, p_end, regular in parts:
            if not part_lines:
                continue
            ts = Timesheet(self.new_id("TS"), c.id, c.tenant, p_start, p_end, [e.id for e in part_lines], regular)
            ts.correlation_id = f"ts-{ts.id}"
            firm.timesheets[ts.id] = ts
            for e in part_lines:
                e.timesheet_id = ts.id
                e.correlation_id = ts.correlation_id
                firm.entries[e.id] = e
            if regular:
                when, ts.late = submission_time(rng, week_start)
            else:  # the month-end spike: the part up to month end goes in on its last day
                when = month_end + rng.uniform(14, 21) * HOUR
            self.at(max(when, self.now), self.submit, ts.id)

    @staticmethod
    def month_end_in_week(week_start: float) -> float | None:
        """The last day of a month when it falls Monday-Thursday of this week (Friday ends the week anyway)."""
        for d in range(4):
            day = week_start + d * DAY
            if to_date(day + DAY).day == 1:
                return day
        return None

    def timesheet_data(self, ts: Timesheet) -> dict[str, object]:
        hours = sum(self.firm.entries[i].hours for i in ts.entry_ids)
        return {"timesheet_id": ts.id, "consultant_id": ts.consultant_id, "period_start": iso_date(ts.period_start),
                "period_end": iso_date(ts.period_end), "entry_ids": list(ts.entry_ids),
                "total_hours": round(hours, 2)}  # fmt: skip

    def set_lines(self, ts: Timesheet, status: str) -> None:
        entries = self.firm.entries
        for i in ts.entry_ids:
            entries[i].status = status

    def submit(self, ts_id: str) -> None:
        ts = self.firm.timesheets[ts_id]
        t = self.now
        rng = self.rng
        ts.status = "SUBMITTED"
        ts.submitted_at = t
        if ts.first_submitted_at is None:
            ts.first_submitted_at = t
        self.set_lines(ts, "SUBMITTED")
        eid, _, _ = self.emit("psa", "timesheet.submitted", "psa-timesheets", ts.tenant, ts.id, self.timesheet_data(ts),
                              t, ts.correlation_id)  # fmt: skip
        if ts.rejections == 0 and rng.random() < RECALL_SHARE:
            self.at(t + rng.uniform(0.5, 6) * HOUR, self.recall, ts_id, eid)
            return
        decided = add_business_days(t, approval_delay_days(rng))
        if ts.rejections == 0 and rng.random() < REJECTION_SHARE:
            self.at(decided, self.reject, ts_id, eid)
        else:
            self.at(decided, self.approve, ts_id, eid)

    def recall(self, ts_id: str, cause: str) -> None:
        ts = self.firm.timesheets[ts_id]
        if ts.status != "SUBMITTED":
            return
        ts.status = "DRAFT"
        ts.rejections += 1  # a resubmission is not recalled again
        self.set_lines(ts, "DRAFT")
        self.emit("psa", "timesheet.recalled", "psa-timesheets", ts.tenant, ts.id, self.timesheet_data(ts), self.now,
                  ts.correlation_id, cause)  # fmt: skip
        self.at(self.now + self.rng.uniform(2, 24) * HOUR, self.submit, ts_id)

    def reject(self, ts_id: str, cause: str) -> None:
        ts = self.firm.timesheets[ts_id]
        ts.status = "REJECTED"
        ts.rejections += 1
        self.set_lines(ts, "DRAFT")
        self.emit("psa", "timesheet.rejected", "psa-timesheets", ts.tenant, ts.id, self.timesheet_data(ts), self.now,
                  ts.correlation_id, cause)  # fmt: skip
        # The consultant corrects a line and resubmits.
        first = self.firm.entries[ts.entry_ids[0]]
        first.hours = max(0.5, first.hours + self.rng.choice((-1.0, -0.5, 0.5, 1.0)))
        self.at(add_business_days(self.now, self.rng.uniform(0.3, 2.0)), self.submit, ts_id)

    def approve(self, ts_id: str, cause: str) -> None:
        ts = self.firm.timesheets[ts_id]
        t = self.now
        ts.status = "APPROVED"
        ts.approved_at = t
        eid, tr, sp = self.emit("psa", "timesheet.approved", "psa-timesheets", ts.tenant, ts.id,
                                self.timesheet_data(ts), t, ts.correlation_id, cause)  # fmt: skip
        # The connector picks approved lines up within minutes (event-driven).
        when = t + self.rng.expovariate(1 / PICKUP_MEAN)
        for i in ts.entry_ids:
            e = self.firm.entries[i]
            e.status = "APPROVED"
            e.approved_at = t
            when += self.rng.uniform(0.2, 3.0)
            self.at(when, self.post_entry, e.id, eid)

    def schedule_adjustment(self, e: Entry) -> None:
        if not e.supersedes and self.rng.random() < ADJUSTMENT_SHARE:
            self.at(self.now + self.rng.uniform(1, 20) * DAY, self.adjust, e.id)

    def adjust(self, entry_id: str) -> None:
        firm = self.firm
        old = firm.entries[entry_id]
        if old.superseded_by or old.written_off_at is not None or old.status != "POSTED":
            return
        t = self.now
        delta = self.rng.choice((-2.0, -1.0, -0.5, 0.5, 1.0, 2.0, 4.0))
        new = Entry(f"TE-{firm.next_id('entry'):09d}", old.consultant_id, old.tenant, old.project_code,
                    old.work_date, max(0.25, old.hours + delta), old.timesheet_id, old.billable,
                    supersedes=old.id, correlation_id=old.correlation_id)  # fmt: skip
        firm.entries[new.id] = new
        old.superseded_by = new.id
        old.status = "SUPERSEDED"
        new.status = "APPROVED"
        new.approved_at = t
        eid, _, _ = self.emit("psa", "time_entry.adjusted", "psa-timesheets", old.tenant, new.id,
                              {"entry_id": new.id, "supersedes_entry_id": old.id, "work_date": iso_date(old.work_date),
                               "delta_hours": round(new.hours - old.hours, 2),
                               "reason": self.rng.choice(_ADJUST_REASONS), "consultant_id": old.consultant_id,
                               "project_code": old.project_code}, t, old.correlation_id)  # fmt: skip
        if old.invoice_id:
            self.credit_entry(old, eid)
        self.at(t + self.rng.uniform(1, 15) * MINUTE, self.post_entry, new.id, eid)

    @staticmethod
    def week_start_of(t: float) -> float:
        d = day_start(t)
        return d - ((int(d // DAY) + 3) % 7) * DAY
