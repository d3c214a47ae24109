"""The exception queue on a hand-built event log sent through the real ingest path: each cause opens exactly one case
with the right owner, money and due time (across a weekend); repeats append; healing auto-resolves; a manual
resolve is reopened by new evidence; read cannot act, operate can, and every action is in the audit log."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from clickhouse_connect.driver.client import Client
from typer.testing import CliRunner

from cases.keeper import CaseKeeper
from cases.model import case_id
from syncwatch.cli import app as cli
from syncwatch.settings import Settings
from syncwatch.tokens import create_token
from tests.conftest import ThreadedCollector, Tokens, auth, make_settings
from tests.integration.metrics.test_hand_built_logs import approved, ce, posting, project, send

pytestmark = pytest.mark.integration

FRIDAY = datetime(2026, 11, 6, 15, 0, tzinfo=UTC)
WEDNESDAY = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)


def z(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def rejection(entry: str, when: datetime, amount: float, category: str, **extra: Any) -> dict[str, Any]:
    event = posting("time_entry.post_failed", entry, when, amount, retryable=False, **extra)
    event["data"]["error_category"] = category
    event["data"]["error_code"] = f"{category}_CODE"
    return event


def dead_letter(message: str, when: datetime, entry: str) -> dict[str, Any]:
    data = {"message_id": message, "original_event_id": f"ev-{message}", "queue": "erp-time-posting",
            "reason": "schema mismatch", "attempt_count": 5, "object_id": entry}  # fmt: skip
    return ce("message.dead_lettered", when, data)


RATE_CARD_EXCEPTION = {"exception_id": "X1", "category": "time_posting.rate_card", "severity": "P3",
                       "object_type": "time_entry", "object_id": "E2"}  # fmt: skip


def first_log() -> list[dict[str, Any]]:
    return [
        project("P-USD", "USD"),
        approved(["E1", "E2", "E5"], FRIDAY - timedelta(hours=5)),
        # E1: the ERP's period is closed, Friday 15:00 -> finance-ops, due Monday 15:00 (one business day)
        posting("time_entry.post_requested", "E1", FRIDAY - timedelta(seconds=5), 300.0),
        rejection("E1", FRIDAY, 300.0, "PERIOD_CLOSED"),
        # E2: an invalid project, Friday 12:00 -> project-operations, due Monday 12:00, in EUR
        posting("time_entry.post_requested", "E2", FRIDAY - timedelta(hours=3), 50.0, currency="EUR"),
        rejection("E2", FRIDAY - timedelta(hours=3), 50.0, "INVALID_PROJECT_OR_ASSIGNMENT", currency="EUR"),
        # a retryable failure opens nothing
        posting("time_entry.post_failed", "E5", FRIDAY, 70.0),
        # a dead letter about E1's posting, Friday 21:00 -> integrations, P1: 3 h on Friday + 1 h: Monday 01:00
        dead_letter("M1", FRIDAY + timedelta(hours=6), "E1"),
        # the middleware's own exception, P3, Wednesday 10:00 -> due three business days later: Monday 10:00
        ce("exception.opened", WEDNESDAY, RATE_CARD_EXCEPTION),
        # entries on P-NEW, which no PSA project event classifies: first approved Thursday 09:00, P3 -> Tuesday 09:00
        approved(["E7"], datetime(2026, 11, 5, 9, 0, tzinfo=UTC)),
        posting("time_entry.post_requested", "E7", datetime(2026, 11, 5, 10, 0, tzinfo=UTC), 400.0, project="P-NEW"),
    ]


@pytest.fixture
def operate(warehouse: Client, tokens: Tokens) -> str:
    return create_token(warehouse, "test-operate", ["operate"])[1]


@pytest.fixture
def queue_collector(tokens: Tokens, operate: str, settings: Settings) -> Iterator[ThreadedCollector]:
    # the job runs when the test says so: no scheduled run in between; every token exists before the start
    quiet = Settings(**{**settings.model_dump(), "exceptions_maintenance_seconds": 0})
    with ThreadedCollector(quiet) as running:
        yield running


def keeper(collector: ThreadedCollector) -> CaseKeeper:
    found = collector.app.state.exceptions.keeper
    assert isinstance(found, CaseKeeper)
    return found


def listing(collector: ThreadedCollector, secret: str, **query: Any) -> dict[str, Any]:
    r = httpx.get(f"{collector.url}/api/v1/exceptions", params=query, headers=auth(secret), timeout=30)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def by_key(page: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(c["cause"], c["business_key"]): c for c in page["cases"]}


def test_each_cause_opens_one_case_repeats_append_and_healing_resolves(
    queue_collector: ThreadedCollector, tokens: Tokens
) -> None:
    send(queue_collector, tokens, first_log(), deliveries=2)
    first = keeper(queue_collector).maintain()
    assert first.audit == {"opened": 5}
    cases = by_key(listing(queue_collector, tokens["read"]))
    assert sorted(cases) == sorted([
        ("erp_rejection:PERIOD_CLOSED", "E1"), ("erp_rejection:INVALID_PROJECT_OR_ASSIGNMENT", "E2"),
        ("dead_letter", "M1"), ("exception:time_posting.rate_card", "X1"), ("unknown_billing_type", "P-NEW"),
    ])  # fmt: skip
    closed = cases[("erp_rejection:PERIOD_CLOSED", "E1")]
    assert (closed["owner_team"], closed["severity"], closed["state"]) == ("finance-ops", "P2", "open")
    assert closed["money"] == {"USD": 300.0} and closed["tenant"] == "acme-us" and closed["project"] == "P-USD"
    assert closed["due_at"] == z(datetime(2026, 11, 9, 15, 0, tzinfo=UTC)) and closed["occurrences"] == 1
    assert closed["case_id"] == case_id("erp_rejection:PERIOD_CLOSED", "E1") and closed["journey"].endswith("/E1")
    invalid = cases[("erp_rejection:INVALID_PROJECT_OR_ASSIGNMENT", "E2")]
    assert (invalid["owner_team"], invalid["money"]) == ("project-operations", {"EUR": 50.0})
    assert invalid["due_at"] == z(datetime(2026, 11, 9, 12, 0, tzinfo=UTC))
    letter = cases[("dead_letter", "M1")]
    assert (letter["owner_team"], letter["severity"], letter["money"]) == ("integrations", "P1", {"USD": 300.0})
    assert letter["due_at"] == z(datetime(2026, 11, 9, 1, 0, tzinfo=UTC))
    raised = cases[("exception:time_posting.rate_card", "X1")]
    assert (raised["owner_team"], raised["severity"]) == ("project-operations", "P3")
    assert raised["due_at"] == z(datetime(2026, 11, 9, 10, 0, tzinfo=UTC))
    unknown = cases[("unknown_billing_type", "P-NEW")]
    assert (unknown["owner_team"], unknown["money"], unknown["occurrences"]) == ("project-operations",
                                                                                 {"USD": 400.0}, 1)  # fmt: skip
    assert unknown["due_at"] == z(datetime(2026, 11, 10, 9, 0, tzinfo=UTC))

    # a rerun over the same evidence changes nothing
    again = keeper(queue_collector).maintain()
    assert (again.changed, again.audit) == (0, {})
    assert by_key(listing(queue_collector, tokens["read"])) == {
        k: {**v, "age_seconds": pytest.approx(v["age_seconds"], abs=60), "money_x_age": pytest.approx(
            v["money_x_age"], rel=1e-3)} for k, v in cases.items()
    }  # fmt: skip

    # repeats append to the same cases
    send(queue_collector, tokens, [
        rejection("E1", FRIDAY + timedelta(hours=1), 300.0, "PERIOD_CLOSED", attempt=2),
        dead_letter("M1", FRIDAY + timedelta(hours=7), "E1"),
        approved(["E8"], datetime(2026, 11, 6, 9, 0, tzinfo=UTC)),
        posting("time_entry.post_requested", "E8", datetime(2026, 11, 6, 10, 0, tzinfo=UTC), 25.0, project="P-NEW"),
    ])  # fmt: skip
    repeated = keeper(queue_collector).maintain()
    assert repeated.audit == {"repeated": 3}
    page = listing(queue_collector, tokens["read"])
    assert page["total"] == 5
    cases = by_key(page)
    assert cases[("erp_rejection:PERIOD_CLOSED", "E1")]["occurrences"] == 2
    assert cases[("erp_rejection:PERIOD_CLOSED", "E1")]["last_seen"] == z(FRIDAY + timedelta(hours=1))
    assert cases[("dead_letter", "M1")]["occurrences"] == 2
    assert cases[("unknown_billing_type", "P-NEW")]["money"] == {"USD": 425.0}
    assert cases[("unknown_billing_type", "P-NEW")]["occurrences"] == 2

    # the records heal: each case closes by itself, naming the evidence
    monday = datetime(2026, 11, 9, 8, 0, tzinfo=UTC)
    send(queue_collector, tokens, [
        posting("time_entry.posted", "E1", monday, 300.0, attempt=3),
        ce("message.replayed", monday, {"message_id": "M1", "original_event_id": "ev-M1", "queue": "erp-time-posting",
                                        "reason": "fixed", "attempt_count": 6, "new_message_id": "M1b"}),
        ce("exception.resolved", monday, {**RATE_CARD_EXCEPTION, "resolution": "renewed", "resolved_by": "ops"}),
        project("P-NEW", "USD", billing="fixed_fee"),
    ])  # fmt: skip
    healed = keeper(queue_collector).maintain()
    assert healed.audit == {"auto_resolved": 4}
    cases = by_key(listing(queue_collector, tokens["read"], state="auto_resolved"))
    assert len(cases) == 4
    posted = cases[("erp_rejection:PERIOD_CLOSED", "E1")]
    assert posted["resolution_note"] == "time_entry.posted at 2026-11-09 08:00:00Z"
    assert cases[("dead_letter", "M1")]["resolution_note"].startswith("message.replayed at 2026-11-09")
    assert cases[("exception:time_posting.rate_card", "X1")]["resolution_note"].startswith("exception.resolved")
    assert "billing type fixed_fee" in cases[("unknown_billing_type", "P-NEW")]["resolution_note"]
    still = listing(queue_collector, tokens["read"], state="open")
    assert [c["business_key"] for c in still["cases"]] == ["E2"]


def test_actions_need_operate_are_audited_and_new_evidence_reopens(
    queue_collector: ThreadedCollector, tokens: Tokens, operate: str
) -> None:
    send(queue_collector, tokens, [rejection("E9", FRIDAY, 120.0, "PERIOD_CLOSED")])
    keeper(queue_collector).maintain()
    (case,) = listing(queue_collector, operate)["cases"]  # operate can view too
    url = f"{queue_collector.url}/api/v1/exceptions/{case['case_id']}"

    refused = httpx.post(f"{url}/actions", json={"action": "acknowledge"}, headers=auth(tokens["read"]), timeout=30)
    assert refused.status_code == 403 and "operate" in refused.json()["error"]
    assert httpx.post(f"{url}/actions", json={"action": "acknowledge"}, timeout=30).status_code == 401

    steps = [
        ({"action": "acknowledge"}, operate, "acknowledged"),
        ({"action": "assign", "team": "finance-ops", "assignee": "dana"}, operate, "acknowledged"),
        ({"action": "start"}, operate, "in_progress"),
        ({"action": "wait", "reason": "waiting on the <controller>"}, operate, "waiting"),
        ({"action": "comment", "note": "period reopens Monday"}, tokens["admin"], "waiting"),
        ({"action": "resolve", "code": "period_reopened", "note": "reposted"}, operate, "resolved"),
    ]
    for body, secret, state in steps:
        r = httpx.post(f"{url}/actions", json=body, headers=auth(secret), timeout=30)
        assert r.status_code == 200, r.text
        assert r.json()["state"] == state
    conflict = httpx.post(f"{url}/actions", json={"action": "start"}, headers=auth(operate), timeout=30)
    assert conflict.status_code == 409
    bad = httpx.post(f"{url}/actions", json={"action": "delete"}, headers=auth(operate), timeout=30)
    assert bad.status_code == 422
    missing = httpx.post(f"{url}X/actions", json={"action": "start"}, headers=auth(operate), timeout=30)
    assert missing.status_code == 404

    shown = httpx.get(url, headers=auth(tokens["read"]), timeout=30).json()
    assert (shown["assignee"], shown["resolution"], shown["resolved_by"]) == ("dana", "period_reopened", "test-operate")
    history = shown["history"]
    assert [(h["actor"], h["action"]) for h in history] == [
        ("syncwatch", "opened"),
        ("test-operate", "acknowledge"),
        ("test-operate", "assign"),
        ("test-operate", "start"),
        ("test-operate", "wait"),
        ("test-admin", "comment"),
        ("test-operate", "resolve"),
    ]
    assert history[1]["before"] == {"state": "open"} and history[1]["after"] == {"state": "acknowledged"}
    assert history[4]["detail"] == {"reason": "waiting on the <controller>"}  # text stays text

    # the same problem again: the case comes back, and says why
    send(queue_collector, tokens, [rejection("E9", FRIDAY + timedelta(days=3), 120.0, "PERIOD_CLOSED", attempt=2)])
    assert keeper(queue_collector).maintain().audit == {"reopened": 1}
    shown = httpx.get(url, headers=auth(tokens["read"]), timeout=30).json()
    assert shown["state"] == "open" and shown["occurrences"] == 2
    assert [h["action"] for h in shown["history"]][-1] == "reopened"


def test_listing_ranks_by_money_times_age_filters_and_pages(queue_collector: ThreadedCollector, tokens: Tokens) -> None:
    send(queue_collector, tokens, [
        rejection("A", FRIDAY, 100.0, "PERIOD_CLOSED"),
        rejection("B", FRIDAY - timedelta(days=2), 100.0, "PERIOD_CLOSED"),  # as much money, older: first
        rejection("C", FRIDAY, 1000.0, "INVALID_PROJECT_OR_ASSIGNMENT"),  # ten times the money: before both
        dead_letter("M9", FRIDAY, ""),  # no money: last
    ])  # fmt: skip
    keeper(queue_collector).maintain()
    page = listing(queue_collector, tokens["read"], limit=2)
    assert [c["business_key"] for c in page["cases"]] == ["C", "B"]
    assert (page["total"], page["next_offset"]) == (4, 2)
    rest = listing(queue_collector, tokens["read"], limit=2, offset=2)
    assert [c["business_key"] for c in rest["cases"]] == ["A", "M9"] and rest["next_offset"] is None
    finance = listing(queue_collector, tokens["read"], owner="finance-ops")
    assert sorted(c["business_key"] for c in finance["cases"]) == ["A", "B"]
    assert listing(queue_collector, tokens["read"], cause="dead_letter")["total"] == 1
    assert listing(queue_collector, tokens["read"], tenant="nobody")["total"] == 0
    r = httpx.get(f"{queue_collector.url}/api/v1/exceptions", params={"state": "closed"},
                  headers=auth(tokens["read"]), timeout=30)  # fmt: skip
    assert r.status_code == 422 and "state" in r.json()["error"]
    assert httpx.get(f"{queue_collector.url}/api/v1/exceptions", timeout=30).status_code == 401


def test_cli_lists_shows_assigns_and_resolves(queue_collector: ThreadedCollector, tokens: Tokens, operate: str) -> None:
    send(queue_collector, tokens, [rejection("E3", FRIDAY, 300.0, "PERIOD_CLOSED")])
    keeper(queue_collector).maintain()
    runner = CliRunner()
    common = ["--url", queue_collector.url, "--token", operate]
    listed = runner.invoke(cli, ["exceptions", "list", *common], env={"COLUMNS": "250"})
    assert listed.exit_code == 0, listed.output
    wanted = case_id("erp_rejection:PERIOD_CLOSED", "E3")
    assert wanted in listed.stdout and "finance-ops" in listed.stdout and "300.00 USD" in listed.stdout
    assigned = runner.invoke(cli, ["exceptions", "assign", wanted, "--to", "dana", *common])
    assert assigned.exit_code == 0 and "assignee dana" in assigned.stdout
    resolved = runner.invoke(cli, ["exceptions", "resolve", wanted, "--code", "period_reopened", *common])
    assert resolved.exit_code == 0 and "resolved (period_reopened)" in resolved.stdout
    note = {"action": "comment", "note": "[bold]see [link=http://x.example]here[/link][/bold]"}
    url = f"{queue_collector.url}/api/v1/exceptions/{wanted}/actions"
    assert httpx.post(url, json=note, headers=auth(operate), timeout=30).status_code == 200
    shown = runner.invoke(cli, ["exceptions", "show", wanted, *common], env={"COLUMNS": "250"})
    assert shown.exit_code == 0 and "test-operate" in shown.stdout and "resolve" in shown.stdout
    assert "[bold]see [link=http://x.example]here[/link][/bold]" in shown.stdout  # text stays text
    read_only = ["--url", queue_collector.url, "--token", tokens["read"]]
    refused = runner.invoke(cli, ["exceptions", "assign", wanted, "--team", "x", *read_only])
    assert refused.exit_code == 2 and "HTTP 403" in refused.output


def test_the_scheduled_job_maintains_cases(
    tmp_path: Path, warehouse: Client, tokens: Tokens, settings: Settings
) -> None:
    fast = make_settings(tmp_path, database=settings.database, exceptions_maintenance_seconds=0.5)
    with ThreadedCollector(fast) as running:
        send(running, tokens, [rejection("E4", FRIDAY, 10.0, "PERIOD_CLOSED")])
        deadline = datetime.now(UTC) + timedelta(seconds=30)
        while listing(running, tokens["read"])["total"] == 0:
            assert datetime.now(UTC) < deadline, "no case opened by the scheduled job"
            time.sleep(0.2)
