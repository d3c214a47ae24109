"""HCM: hires, terminations, leave, org and cost-centre moves, and their hourly sync into PSA.

A terminated consultant's open assignments are ended by PSA when the termination arrives, except in a small
share of cases (the classic defect: a leaver still planned on work).
"""

from __future__ import annotations

from simulator.calendar import DAY, HOUR, MINUTE, day_start, iso_date, iso_time, weekday
from simulator.model import ENTITIES, Consultant, WorkerChange
from simulator.pipeline import PipelineFlow

__all__ = ["CHANGE_RATES_PER_YEAR", "WorkforceFlow"]

# Changes per consultant per year.
CHANGE_RATES_PER_YEAR = {"termination": 0.15, "hire": 0.15, "leave": 0.10, "org": 0.20, "cost_center": 0.25}
SYNC_FAILURE_SHARE = 0.03  # syncs that error, dead-letter and wait for a replay
LEAVER_ASSIGNMENT_DEFECT_SHARE = 0.03


class WorkforceFlow(PipelineFlow):
    def plan_hcm_changes(self, day: float) -> None:
        if weekday(day) >= 5:
            return
        rng = self.rng
        for entity in ENTITIES:
            people = self.headcount.get(entity.tenant, 0)
            for change_type, per_year in CHANGE_RATES_PER_YEAR.items():
                expected = people * per_year / 260.0
                n = int(expected) + (1 if rng.random() < expected - int(expected) else 0)
                for _ in range(n):
                    self.at(day + rng.uniform(8, 18) * HOUR, self.hcm_change, entity.tenant, change_type)

    def hcm_change(self, tenant: str, change_type: str) -> None:
        t = self.now
        rng = self.rng
        if change_type == "hire":
            c = self.hire(tenant, t)
            effective = day_start(t) + rng.randint(3, 21) * DAY
        else:
            candidates = self.people_by_tenant[tenant]
            c = rng.choice(candidates)
            if c.status == "terminated":
                return
            effective = day_start(t) + rng.randint(-3, 14) * DAY
            if change_type == "termination":
                c.status = "terminated"
                c.terminated_at = max(effective, day_start(t))
                self.headcount[tenant] -= 1
            elif change_type == "leave":
                c.status = "leave" if c.status == "active" else "active"
            elif change_type == "cost_center":
                c.cost_center = f"{c.cost_center[:-3]}{rng.randint(1, 40):03d}"
            elif change_type == "org":
                c.approver_id = rng.choice(candidates).id
        c.hcm_updated_at = t
        change = self.new_change(c, change_type, effective, t)
        eid, tr, sp = self.emit("hcm", "worker.changed", "hcm-workers", tenant, c.id,
                                {"consultant_id": c.id, "change_id": change.change_id, "change_type": change_type,
                                 "effective_date": iso_date(effective), "entered_at": iso_time(self.stamp(t)),
                                 "status": c.status, "cost_center": c.cost_center}, t,
                                f"worker-{change.change_id}")  # fmt: skip
        # The integration runs hourly at :15; a few syncs error and wait in the dead-letter queue for a replay.
        next_run = day_start(t) + ((t - day_start(t)) // HOUR + 1) * HOUR + 15 * MINUTE
        self.at(next_run + rng.uniform(0, 8) * MINUTE, self.sync_worker, change.change_id, eid, tr, sp, 1)

    def hire(self, tenant: str, t: float) -> Consultant:
        firm = self.firm
        cid = f"C{firm.next_id('consultant'):06d}"
        peers = self.people_by_tenant[tenant]
        template = self.rng.choice(peers)
        c = Consultant(cid, tenant, self.rng.choice(("analyst", "consultant", "senior")), template.cost_center,
                       template.approver_id, t, status="active")  # fmt: skip
        c.psa_status = "not_provisioned"
        c.psa_cost_center = ""
        firm.consultants[cid] = c
        peers.append(c)
        self.headcount[tenant] += 1
        return c

    def new_change(self, c: Consultant, change_type: str, effective: float, t: float) -> WorkerChange:
        change = WorkerChange(self.new_id("CHG"), c.id, change_type, effective, t, c.tenant)
        self.firm.worker_changes[change.change_id] = change
        return change

    def sync_worker(self, change_id: str, cause: str, trace: int, span: int, attempt: int) -> None:
        t = self.now
        change = self.firm.worker_changes[change_id]
        if self.fault("hcm_sync_stall", t) or (
            self.fault("silent_flow", t) and self.silent_flow_name == "hcm-to-psa-workers"
        ):
            self.at(self.faults.clear_at("hcm_sync_stall", t) + self.rng.uniform(15, 70) * MINUTE
                    if self.fault("hcm_sync_stall", t) else self.faults.clear_at("silent_flow", t),
                    self.sync_worker, change_id, cause, trace, span, attempt)  # fmt: skip
            return
        c = self.firm.consultants[change.consultant_id]
        if attempt == 1 and self.rng.random() < SYNC_FAILURE_SHARE:
            self.dead_letter("psa-worker-sync", cause, "PSA rejected worker update: validation error", change_id,
                             c.tenant, f"worker-{change_id}", (trace, span), 3,
                             self.triage_time(t),
                             (self.sync_worker, (change_id, cause, trace, span, attempt + 1)))  # fmt: skip
            return
        # PSA takes HCM's current view of the worker.
        change.synced_at = t
        c.psa_status = c.status
        c.psa_cost_center = c.cost_center
        c.psa_updated_at = t
        self.emit("middleware", "worker.synced", "hcm-to-psa-workers", c.tenant, c.id,
                  {"consultant_id": c.id, "change_id": change_id, "target_system": "psa"}, t,
                  f"worker-{change_id}", cause, (trace, span))  # fmt: skip
        if change.change_type == "termination" and self.rng.random() >= LEAVER_ASSIGNMENT_DEFECT_SHARE:
            for a in c.assignments:
                if a.status != "ENDED":
                    a.end = min(a.end, change.effective_date)
                    self.end_assignment(a.id)
        elif change.change_type == "hire":
            open_projects = [p for p in self.projects_by_tenant[c.tenant][-40:] if p.status == "active"]
            if open_projects:
                self.assign(c, self.rng.choice(open_projects), change.effective_date)
