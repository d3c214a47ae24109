"""Incidents from alert transitions on fixed times: time to detect from the pending move, time to resolve from the
page, and the week's means against the four weeks before."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from metrics.windows import Window
from reports.incidents import incidents, lookback, summary

WEEK = Window(datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC))


def move(time: str, fp: str, to: str, severity: str = "page") -> dict[str, Any]:
    return {"time": time, "fingerprint": fp, "rule": f"R-{fp}", "to_state": to, "severity": severity,
            "labels": {"flow": "psa-to-erp-time"}, "summary": ""}  # fmt: skip


HISTORY = [
    # this week: pending 10 min before the page, resolved 45 min after it
    move("2026-03-03T09:50:00Z", "a", "pending"),
    move("2026-03-03T10:00:00Z", "a", "firing"),
    move("2026-03-03T10:45:00Z", "a", "resolved"),
    # this week: a ticket with no `for` (fired at its first breach), still open
    move("2026-03-07T23:00:00Z", "b", "firing", "ticket"),
    # a pending that never fired is no incident
    move("2026-03-04T08:00:00Z", "c", "pending"),
    move("2026-03-04T08:05:00Z", "c", "resolved"),
    # two weeks before: pending 30 min, resolved after 3 h
    move("2026-02-16T11:30:00Z", "d", "pending"),
    move("2026-02-16T12:00:00Z", "d", "firing"),
    move("2026-02-16T15:00:00Z", "d", "resolved"),
    # five weeks before: outside the compared weeks
    move("2026-01-26T12:00:00Z", "e", "firing"),
]


def test_each_incident_has_its_time_to_detect_and_to_resolve() -> None:
    found = incidents(HISTORY, WEEK)
    assert [(i["rule"], i["minutes_to_detect"], i["minutes_to_resolve"]) for i in found] == [
        ("R-a", 10.0, 45.0),
        ("R-b", 0.0, None),
    ]
    assert found[0]["started_at"] == "2026-03-03T09:50:00Z" and found[0]["flow"] == "psa-to-erp-time"


def test_the_weeks_means_against_the_four_weeks_before() -> None:
    found = summary(HISTORY, WEEK)
    assert found["week"] == {"count": 2, "pages": 1, "tickets": 1, "open": 1, "mttd_minutes": 5.0,
                             "mttr_minutes": 45.0}  # fmt: skip
    assert found["previous"] == {"count": 1, "pages": 1, "tickets": 0, "open": 0, "mttd_minutes": 30.0,
                                 "mttr_minutes": 180.0, "weeks": 4}  # fmt: skip
    assert lookback(WEEK).start == datetime(2026, 2, 1, tzinfo=UTC) and lookback(WEEK).end == WEEK.end
