"""Due times on tenants' calendars, through the keeper and the warehouse: a case in Bavaria over Christmas (an
extra closed day, two public holidays, a weekend) in Berlin working hours, waiting that pauses only working time,
one in New York across the end of DST, and a tenant without a calendar on UTC Monday-Friday as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from clickhouse_connect.driver.client import Client

from cases.keeper import CaseKeeper
from cases.model import Action, Case
from cases.routing import parse_policy
from cases.store import load_cases
from probes.model import Finding, Outcome, ProbeRun
from probes.store import write_run

pytestmark = pytest.mark.integration

BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
POLICY = """
sla: {P1: 4h, P2: 8h, P3: 3d}
route:
  owner_team: integrations
calendars:
  acme-de: {time_zone: Europe/Berlin, hours: "09:00-17:00", country: DE, subdivision: BY, closed: [2026-12-24]}
  acme-ny: {time_zone: America/New_York, hours: "09:00-17:00", country: US, subdivision: NY}
"""


def finding(entry: str, tenant: str) -> Finding:
    return Finding("approved_not_posted", "time_entry", entry, "erp", tenant, "P-1", "C-1", 0.0, Decimal("80"), "EUR")


def cases(warehouse: Client) -> dict[str, Case]:
    return {c.business_key: c for c in load_cases(warehouse).values()}


def test_due_times_follow_each_tenants_calendar(warehouse: Client) -> None:
    keeper = CaseKeeper(lambda: warehouse, parse_policy(POLICY, source="test.yaml"))
    wednesday = datetime(2026, 12, 23, 15, 0, tzinfo=BERLIN)
    write_run(warehouse, ProbeRun("r1", "time_posting", "erp", wednesday.timestamp(), Outcome.MISMATCH, 10.0, 2,
                                  findings=(finding("E-DE", "acme-de"), finding("E-UK", "acme-uk"))))  # fmt: skip
    friday_ny = datetime(2026, 10, 30, 16, 0, tzinfo=NEW_YORK)
    write_run(
        warehouse,
        ProbeRun(
            "r0",
            "project_master_data",
            "erp",
            friday_ny.timestamp(),
            Outcome.MISMATCH,
            10.0,
            2,
            findings=(Finding("project_mismatch", "project", "P-NY", "erp", "acme-ny"),),
        ),
    )
    keeper.maintain(wednesday + timedelta(minutes=1))
    found = cases(warehouse)
    # 2 h on Wednesday; the 24th closed, the 25th and 26th holidays, the 27th a Sunday; 6 h on Monday the 28th
    assert found["E-DE"].due_at == datetime(2026, 12, 28, 15, 0, tzinfo=BERLIN)
    # New York leaves DST on 1 November: Friday 16:00 EDT + 1 h, Monday 09:00 EST + 7 h = 16:00 EST (21:00Z)
    assert found["P-NY"].due_at == datetime(2026, 11, 2, 21, 0, tzinfo=UTC)
    # no calendar for acme-uk: UTC, Monday to Friday, all day (Wednesday 14:00Z + 8 h)
    assert found["E-UK"].due_at == datetime(2026, 12, 23, 22, 0, tzinfo=UTC)

    # Waiting from Monday 10:00 to Tuesday 10:00 (Berlin) pauses 8 working hours: due Tuesday 15:00.
    case = found["E-DE"]
    keeper.act(case.case_id, Action("wait", reason="waiting on the client"), "dana",
               datetime(2026, 12, 28, 10, 0, tzinfo=BERLIN))  # fmt: skip
    started, _ = keeper.act(case.case_id, Action("start"), "dana", datetime(2026, 12, 29, 10, 0, tzinfo=BERLIN))
    assert started.due_at == datetime(2026, 12, 29, 15, 0, tzinfo=BERLIN)
    assert cases(warehouse)["E-DE"].due_at == datetime(2026, 12, 29, 15, 0, tzinfo=BERLIN)
