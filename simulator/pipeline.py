"""CRM to PSA to ERP master data: closed-won deals becoming projects, project closes, rate cards with validity
windows, and assignments (the resource plan) with their sync to ERP."""

from __future__ import annotations

from typing import Any

from simulator.calendar import DAY, HOUR, MINUTE, day_start, iso_date, weekday
from simulator.distributions import lognormal_from_median_p90
from simulator.engine import Core
from simulator.model import ENTITIES, Assignment, Consultant, Deal, Project, RateCard, new_assignment, new_project

__all__ = ["PipelineFlow"]

_ENTITY = {e.tenant: e for e in ENTITIES}
PROJECT_CREATION_LATE_SHARE = 0.015  # deals whose project appears after more than 24 h


class PipelineFlow(Core):
    def project_data(self, p: Project, view: str) -> dict[str, Any]:
        if view == "erp":
            data = {"project_code": p.erp_code, "customer_id": p.erp_customer_id, "status": p.erp_status,
                    "billing_type": p.erp_billing_type, "currency": p.erp_currency,
                    "erp_project_id": p.erp_id}  # fmt: skip
        else:
            data = {"project_code": p.psa_code, "customer_id": p.customer_id, "status": p.status,
                    "billing_type": p.billing_type, "currency": p.currency, "psa_project_id": p.psa_id,
                    "billing_cycle": p.billing_cycle}  # fmt: skip
        data["crm_opportunity_id"] = p.opportunity_id
        return data

    # -- the estate as it stands when the run starts ---------------------------------------------------------
    def emit_snapshot(self) -> None:
        t = self.start
        firm = self.firm
        for p in firm.projects.values():
            corr = f"project-{p.code}"
            eid, tr, sp = self.emit("psa", "project.created", "crm-to-psa-projects", p.tenant, p.code,
                                    self.project_data(p, "psa"), t, corr)  # fmt: skip
            self.emit("erp", "project.created", "psa-to-erp-projects", p.tenant, p.code, self.project_data(p, "erp"),
                      t + 1, corr, eid, (tr, sp))  # fmt: skip
            self.at(p.end + 21 * DAY + 17 * HOUR, self.close_project, p.code)
        for card in firm.rate_cards.values():
            self.emit_rate_card(card, t + 2)
            self.at(card.end - self.rng.uniform(5, 30) * DAY, self.renew_rate_card, card.id)
        for a in firm.assignments.values():
            self.emit_assignment(a, t + 3)
            self.at(a.end + 18 * HOUR, self.end_assignment, a.id)

    # -- deals and projects -----------------------------------------------------------------------------------
    def plan_deals(self, day: float) -> None:
        """Closed-won deals of a business day: about one new project per 180 consultant-days of capacity."""
        if weekday(day) >= 5:
            return
        rng = self.rng
        for entity in ENTITIES:
            people = self.headcount.get(entity.tenant, 0)
            expected = people / 180.0 * 1.4
            n = int(expected) + (1 if rng.random() < expected - int(expected) else 0)
            for _ in range(n):
                self.at(day + rng.uniform(13, 23) * HOUR, self.close_deal, entity.tenant)

    def close_deal(self, tenant: str) -> None:
        t = self.now
        rng = self.rng
        entity = _ENTITY[tenant]
        customers = [c for c in self.customers_by_tenant[tenant]]
        cust = rng.choices(customers, weights=[6.0 if c.large else 1.0 for c in customers])[0]
        number = self.firm.next_id("deal")
        deal = Deal(f"006D{number:011d}", cust.id, tenant, round(rng.uniform(40_000, 900_000) * entity.fx, -2),
                    entity.currency, t)  # fmt: skip
        self.firm.deals[deal.opportunity_id] = deal
        corr = f"deal-{deal.opportunity_id}"
        eid, tr, sp = self.emit("crm", "deal.closed_won", "crm-deals", tenant, deal.opportunity_id,
                                {"opportunity_id": deal.opportunity_id, "account_id": deal.account_id,
                                 "amount": deal.amount, "currency": deal.currency, "close_date": iso_date(t)},
                                t, corr)  # fmt: skip
        if rng.random() < PROJECT_CREATION_LATE_SHARE:
            delay = rng.uniform(30, 96) * HOUR
        else:
            delay = min(20 * HOUR, lognormal_from_median_p90(rng, 3 * HOUR, 12 * HOUR))
        self.at(t + delay, self.create_project, deal.opportunity_id, eid, tr, sp)

    def create_project(self, opportunity_id: str, cause: str, trace: int, span: int) -> None:
        t = self.now
        if self.fault("silent_flow", t) and self.silent_flow_name == "crm-to-psa-projects":
            self.at(self.faults.clear_at("silent_flow", t), self.create_project, opportunity_id, cause, trace, span)
            return
        deal = self.firm.deals[opportunity_id]
        entity = _ENTITY[deal.tenant]
        cust = self.firm.customers[deal.account_id]
        p = new_project(self.firm, self.rng, entity, cust, t)
        p.opportunity_id = deal.opportunity_id
        p.end = day_start(t) + self.rng.uniform(45, 300) * DAY
        p.erp_created_at = None
        deal.project_code = p.code
        self.projects_by_tenant[p.tenant].append(p)
        self.psa_codes[p.code] = p
        corr = f"deal-{opportunity_id}"
        eid, tr, sp = self.emit("psa", "project.created", "crm-to-psa-projects", p.tenant, p.code,
                                self.project_data(p, "psa"), t, corr, cause, (trace, span))  # fmt: skip
        self.at(t + self.rng.uniform(5, 60) * MINUTE, self.create_erp_project, p.code, eid, tr, sp)
        self.at(p.end + 21 * DAY + 17 * HOUR, self.close_project, p.code)
        # Staff it: people whose plan has room move onto the new work.
        pool = self.people_by_tenant[p.tenant]
        for _ in range(self.rng.randint(1, 5)):
            c = self.rng.choice(pool)
            if c.status == "active" and len([a for a in c.assignments if a.status != "ENDED"]) < 2:
                self.assign(c, p, t + self.rng.uniform(1, 10) * DAY)

    def create_erp_project(self, code: str, cause: str, trace: int, span: int) -> None:
        p = self.firm.projects[code]
        p.erp_created_at = self.now
        p.erp_updated_at = self.now
        self.emit("erp", "project.created", "psa-to-erp-projects", p.tenant, p.erp_code, self.project_data(p, "erp"),
                  self.now, f"deal-{p.opportunity_id}", cause, (trace, span))  # fmt: skip

    def close_project(self, code: str) -> None:
        p = self.firm.projects[code]
        if p.status == "closed":
            return
        t = self.now
        p.end = day_start(t)
        p.status = p.crm_status = "closed"
        p.updated_at = t
        corr = f"project-{code}"
        eid, tr, sp = self.emit("psa", "project.closed", "crm-to-psa-projects", p.tenant, p.psa_code,
                                self.project_data(p, "psa"), t, corr)  # fmt: skip
        # The PSA-to-ERP project sync is event-driven: ERP takes the close within a minute or so.
        self.at(t + self.rng.uniform(10, 90), self.close_erp_project, code, eid, tr, sp)

    def close_erp_project(self, code: str, cause: str, trace: int, span: int) -> None:
        p = self.firm.projects[code]
        p.erp_status = "closed"
        p.erp_updated_at = self.now
        self.emit("erp", "project.closed", "psa-to-erp-projects", p.tenant, p.erp_code, self.project_data(p, "erp"),
                  self.now, f"project-{code}", cause, (trace, span))  # fmt: skip

    def emit_project_update(self, p: Project, view: str, t: float) -> None:
        system, flow = ("erp", "psa-to-erp-projects") if view == "erp" else ("psa", "crm-to-psa-projects")
        self.emit(system, "project.updated", flow, p.tenant, p.erp_code if view == "erp" else p.psa_code,
                  self.project_data(p, view), t, f"project-{p.code}")  # fmt: skip

    # -- rate cards -------------------------------------------------------------------------------------------
    def emit_rate_card(self, card: RateCard, t: float) -> None:
        for role, rate in card.rates.items():
            self.emit("psa", "rate_card.changed", "psa-rate-cards", card.tenant, card.id,
                      {"rate_card_id": card.id, "role": role, "bill_rate": rate, "currency": card.currency,
                       "start_date": iso_date(card.start), "end_date": iso_date(card.end),
                       "customer_id": card.customer_id}, t, f"rate-card-{card.id}")  # fmt: skip

    def renew_rate_card(self, card_id: str) -> None:
        card = self.firm.rate_cards[card_id]
        t = self.now
        if card_id == self.expired_card_id and self.fault("expired_rate_card", t):
            self.at(self.faults.clear_at("expired_rate_card", t), self.renew_rate_card, card_id)
            return
        if card.end > t + 45 * DAY:  # already renewed (e.g. after a fault was cleared)
            return
        uplift = 1.0 + self.rng.uniform(0.0, 0.05)
        card.rates = {role: round(rate * uplift, 2) for role, rate in card.rates.items()}
        card.start = min(card.start, day_start(t))
        card.end = max(card.end, day_start(t)) + 365 * DAY
        card.updated_at = t
        self.emit_rate_card(card, t)
        self.at(card.end - self.rng.uniform(5, 30) * DAY, self.renew_rate_card, card_id)

    # -- assignments ------------------------------------------------------------------------------------------
    def emit_assignment(self, a: Assignment, t: float, cause: str = "") -> None:
        p = self.firm.projects[a.project_code]
        weeks = max(1.0, (a.end - a.start) / (7 * DAY))
        c = self.firm.consultants[a.consultant_id]
        eid, tr, sp = self.emit("psa", "assignment.changed", "psa-to-erp-assignments", c.tenant, a.id,
                                {"assignment_id": a.id, "consultant_id": a.consultant_id, "project_code": p.psa_code,
                                 "role": a.role, "start_date": iso_date(a.start), "end_date": iso_date(a.end),
                                 "planned_hours": round(a.weekly_hours * weeks, 1), "booking_type": a.booking_type,
                                 "status": a.status}, t, f"assignment-{a.id}", cause)  # fmt: skip
        a.synced_at = None
        self.at(t + self.rng.uniform(2, 40) * MINUTE, self.sync_assignment, a.id, eid, tr, sp)

    def sync_assignment(self, assignment_id: str, cause: str, trace: int, span: int) -> None:
        a = self.firm.assignments[assignment_id]
        a.synced_at = self.now
        c = self.firm.consultants[a.consultant_id]
        self.emit("middleware", "assignment.synced", "psa-to-erp-assignments", c.tenant, a.id,
                  {"assignment_id": a.id, "target_system": "erp"}, self.now, f"assignment-{a.id}", cause,
                  (trace, span))  # fmt: skip

    def assign(self, c: Consultant, p: Project, start: float) -> Assignment:
        a = new_assignment(self.firm, self.rng, c, p, start)
        a.updated_at = self.now
        self.emit_assignment(a, self.now)
        self.at(a.end + 18 * HOUR, self.end_assignment, a.id)
        return a

    def end_assignment(self, assignment_id: str) -> None:
        a = self.firm.assignments[assignment_id]
        if a.status == "ENDED":
            return
        a.status = "ENDED"
        a.updated_at = self.now
        self.emit_assignment(a, self.now)
        c = self.firm.consultants[a.consultant_id]
        if c.status != "terminated":  # roll onto the newest open work in the entity
            recent = self.projects_by_tenant[c.tenant][-40:]
            open_projects = [p for p in recent if p.status == "active" and p.end > self.now + 14 * DAY]
            if open_projects:
                self.assign(c, self.rng.choice(open_projects), self.now + self.rng.uniform(0, 5) * DAY)
