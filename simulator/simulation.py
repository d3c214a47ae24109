"""The whole firm as one simulation: the flows composed, the daily driver, and the fault hooks that change
master data when a scenario starts or ends."""

from __future__ import annotations

from simulator.billing import BillingFlow
from simulator.calendar import DAY, HOUR, day_start, month_period, to_date, weekday
from simulator.engine import Sink
from simulator.faults import FaultSchedule
from simulator.model import Project

__all__ = ["Simulation"]

RENAME_SHARE = 0.05
DRIFT_SHARE = 0.03


class Simulation(BillingFlow):
    """Build, then `begin()` once; then `run_until(t)` as far as wanted (backfill) or in small steps (live)."""

    def __init__(
        self,
        consultants: int,
        seed: int,
        start: float,
        sink: Sink,
        faults: FaultSchedule | None = None,
        spans: bool = True,
        run_tag: str | None = None,
        silent_flow: str = "psa-to-erp-time",
    ) -> None:
        # Runs start on a Monday so the first week is whole.
        start = day_start(start)
        start -= weekday(start) * DAY
        super().__init__(consultants, seed, start, sink, faults, spans, run_tag)
        firm = self.firm
        self.silent_flow_name = silent_flow
        self.unbilled: dict[str, list[str]] = {}
        self.last_billing_day = 0.0
        self.people_by_tenant = {}
        self.headcount: dict[str, int] = {}
        for c in firm.consultants.values():
            self.people_by_tenant.setdefault(c.tenant, []).append(c)
            self.headcount[c.tenant] = self.headcount.get(c.tenant, 0) + (c.status == "active")
        self.customers_by_tenant = {}
        for cust in firm.customers.values():
            self.customers_by_tenant.setdefault(cust.tenant, []).append(cust)
        self.projects_by_tenant: dict[str, list[Project]] = {}
        self.psa_codes: dict[str, Project] = {}
        for p in firm.projects.values():
            self.psa_codes[p.code] = p
            if p.billing_type != "non_billable":
                self.projects_by_tenant.setdefault(p.tenant, []).append(p)
        # The largest account: the one with the most projects among those with a negotiated card.
        large = [c for c in firm.customers.values() if c.large]
        counts = {c.id: 0 for c in large}
        for p in firm.projects.values():
            if p.customer_id in counts:
                counts[p.customer_id] += 1
        self.expired_card_id = f"RC-{max(large, key=lambda c: (counts[c.id], c.id)).id}"
        self._fault_changed: dict[str, list[object]] = {}
        self._begun = False

    def project_by_psa_code(self, code: str) -> Project | None:
        return self.psa_codes.get(code)

    def begin(self) -> None:
        """Emit the estate as it stands, and start the daily driver and any scheduled fault windows."""
        if self._begun:
            return
        self._begun = True
        self.emit_snapshot()
        self.at(self.start, self.day_tick, self.start)
        for name, windows in self.faults.windows.items():
            for w in windows:
                self.at(w.start, self.on_fault_change, name, True, w.start)
                if w.end is not None:
                    self.at(w.end, self.on_fault_change, name, False, w.end)

    def day_tick(self, day: float) -> None:
        self.plan_deals(day)
        self.plan_hcm_changes(day)
        if weekday(day) == 0:
            self.plan_week(day)
        self.at(day + 18 * HOUR, self.billing_run, day)
        d = to_date(day)
        if d.day == 6:  # the previous month's books close on the 6th
            prev = month_period(to_date(day - 10 * DAY))
            for tenant in self.headcount:
                self.firm.closed_periods.add((tenant, prev))
        self.at(day + DAY, self.day_tick, day + DAY)

    # -- what a scenario changes in master data when it starts or ends ---------------------------------------
    def on_fault_change(self, name: str, on: bool, t: float) -> None:
        firm = self.firm
        if name == "closed_period":
            if on:
                # The period being closed: this month, and before the 6th (when the previous month's books close
                # in the normal course) the previous month too, which is where most time in flight then belongs.
                periods = {month_period(to_date(t))}
                if to_date(t).day < 6:
                    periods.add(month_period(to_date(t - 10 * DAY)))
                added = []
                for tenant in self.headcount:
                    for key in ((tenant, period) for period in sorted(periods)):
                        if key not in firm.closed_periods:
                            firm.closed_periods.add(key)
                            added.append(key)
                self._fault_changed[name] = list(added)
            else:
                for key in self._fault_changed.pop(name, []):
                    firm.closed_periods.discard(key)  # type: ignore[arg-type]
        elif name == "expired_rate_card":
            card = firm.rate_cards[self.expired_card_id]
            if on:
                card.end = day_start(t) - DAY
                card.updated_at = t
                self.emit_rate_card(card, t)
            else:
                self.renew_rate_card(card.id)
        elif name == "crm_rename":
            if on:
                active = [p for ps in self.projects_by_tenant.values() for p in ps if p.status == "active"]
                chosen = self.rng.sample(active, max(1, int(len(active) * RENAME_SHARE)))
                for p in chosen:
                    p.psa_code = p.crm_code = f"{p.code}-R"
                    p.updated_at = t
                    self.psa_codes[p.psa_code] = p
                    self.emit_project_update(p, "psa", t)
                self._fault_changed[name] = list(chosen)
            else:
                for p in self._fault_changed.pop(name, []):
                    assert isinstance(p, Project)
                    p.erp_code = p.psa_code
                    p.erp_updated_at = t
                    self.emit_project_update(p, "erp", t)
        elif name == "master_data_drift":
            if on:
                active = [p for ps in self.projects_by_tenant.values() for p in ps if p.status == "active"]
                chosen = self.rng.sample(active, max(1, int(len(active) * DRIFT_SHARE)))
                for p in chosen:
                    p.erp_status = "closed"
                    p.erp_updated_at = t
                    self.emit_project_update(p, "erp", t)
                self._fault_changed[name] = list(chosen)
            else:
                for p in self._fault_changed.pop(name, []):
                    assert isinstance(p, Project)
                    p.erp_status = p.status
                    p.erp_updated_at = t
                    self.emit_project_update(p, "erp", t)
