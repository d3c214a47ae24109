"""One action on many cases, through the real collector: a dry run lists the cases and changes nothing; the action
changes each case and writes one audit entry per case with the token's name; closed cases are refused one by one;
the scope is operate; a set over the cap is a 422 naming the filter; the CLI does the same."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from cases.model import case_id
from syncwatch.cli import app as cli
from tests.conftest import ThreadedCollector, Tokens, auth
from tests.integration.exceptions import test_cases_from_hand_built_logs as hand_built
from tests.integration.exceptions.test_cases_from_hand_built_logs import FRIDAY, keeper, listing, rejection
from tests.integration.metrics.test_hand_built_logs import send

pytestmark = pytest.mark.integration
# the hand-built log's fixtures: an operate token, a collector whose maintenance runs when a test says so
operate = hand_built.operate
queue_collector = hand_built.queue_collector

CLOSED = "erp_rejection:PERIOD_CLOSED"


def four_closed_period_cases_and_one_other(collector: ThreadedCollector, tokens: Tokens) -> None:
    log = [rejection(f"E{i}", FRIDAY, 100.0 * i, "PERIOD_CLOSED") for i in range(1, 5)]
    log.append(rejection("E9", FRIDAY, 50.0, "INVALID_PROJECT_OR_ASSIGNMENT"))
    send(collector, tokens, log)
    assert keeper(collector).maintain().audit == {"opened": 5}


def bulk(collector: ThreadedCollector, secret: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{collector.url}/api/v1/exceptions/actions", json=body, headers=auth(secret), timeout=60)


def history(collector: ThreadedCollector, secret: str, key: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{collector.url}/api/v1/exceptions/{case_id(CLOSED, key)}", headers=auth(secret), timeout=30)
    found: list[dict[str, Any]] = r.json()["history"]
    return found


def test_dry_run_then_one_audit_entry_per_case(
    queue_collector: ThreadedCollector, tokens: Tokens, operate: str
) -> None:
    four_closed_period_cases_and_one_other(queue_collector, tokens)
    finance = {"owner": "finance-ops", "state": ["open"]}

    dry = bulk(queue_collector, operate, {"action": "assign", "team": "integrations", "assignee": "dana",
                                          "filter": finance, "dry_run": True})  # fmt: skip
    assert dry.status_code == 200, dry.text
    assert dry.json()["count"] == 4
    assert sorted(dry.json()["ids"]) == sorted(case_id(CLOSED, f"E{i}") for i in range(1, 5))
    assert listing(queue_collector, tokens["read"], owner="finance-ops")["total"] == 4  # nothing changed
    assert [h["action"] for h in history(queue_collector, tokens["read"], "E1")] == ["opened"]

    done = bulk(queue_collector, operate, {"action": "assign", "team": "integrations", "assignee": "dana",
                                           "filter": finance})  # fmt: skip
    assert done.status_code == 200, done.text
    assert sorted(done.json()["applied"]) == sorted(dry.json()["ids"]) and done.json()["refused"] == []
    assert listing(queue_collector, tokens["read"], owner="finance-ops")["total"] == 0
    moved = listing(queue_collector, tokens["read"], owner="integrations")["cases"]
    assert {c["assignee"] for c in moved} == {"dana"} and len(moved) == 4
    for i in range(1, 5):
        last = history(queue_collector, tokens["read"], f"E{i}")[-1]
        assert (last["actor"], last["action"]) == ("test-operate", "assign")
        assert last["after"] == {"owner_team": "integrations", "assignee": "dana"}

    # by ids: two resolved; again, each is refused on its own (closed) and the unknown id is named
    ids = [case_id(CLOSED, "E1"), case_id(CLOSED, "E2")]
    resolved = bulk(queue_collector, tokens["admin"], {"action": "resolve", "code": "period_reopened",
                                                       "note": "month-end clean-up", "ids": ids})  # fmt: skip
    assert sorted(resolved.json()["applied"]) == sorted(ids)
    again = bulk(queue_collector, operate, {"action": "resolve", "code": "x", "ids": [*ids, "EX-nope"]})
    assert again.status_code == 200 and again.json()["applied"] == [] and again.json()["unknown"] == ["EX-nope"]
    assert sorted(r["case_id"] for r in again.json()["refused"]) == sorted(ids)
    assert "reopen it first" in again.json()["refused"][0]["error"]
    last = history(queue_collector, tokens["read"], "E1")[-1]
    assert (last["actor"], last["action"], last["detail"]) == ("test-admin", "resolve", {
        "code": "period_reopened", "note": "month-end clean-up"})  # fmt: skip
    assert [h["action"] for h in history(queue_collector, tokens["read"], "E1")].count("resolve") == 1


def test_scope_shape_and_cap(
    queue_collector: ThreadedCollector, tokens: Tokens, operate: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    four_closed_period_cases_and_one_other(queue_collector, tokens)
    body = {"action": "acknowledge", "filter": {"owner": "finance-ops"}}
    refused = bulk(queue_collector, tokens["read"], body)
    assert refused.status_code == 403 and "operate" in refused.json()["error"]
    assert httpx.post(f"{queue_collector.url}/api/v1/exceptions/actions", json=body, timeout=30).status_code == 401
    assert listing(queue_collector, tokens["read"], state="acknowledged")["total"] == 0

    both = bulk(queue_collector, operate, {**body, "ids": [case_id(CLOSED, "E1")]})
    assert both.status_code == 422 and both.json()["error"].startswith("ids, filter:")
    neither = bulk(queue_collector, operate, {"action": "acknowledge"})
    assert neither.status_code == 422 and neither.json()["error"].startswith("ids, filter:")
    no_code = bulk(queue_collector, operate, {"action": "resolve", "ids": [case_id(CLOSED, "E1")]})
    assert no_code.status_code == 422 and no_code.json()["error"].startswith("code:")
    start = bulk(queue_collector, operate, {"action": "start", "ids": [case_id(CLOSED, "E1")]})
    assert start.status_code == 422 and "action" in start.json()["error"]
    too_many = bulk(queue_collector, operate, {"action": "acknowledge", "ids": [f"EX-{i}" for i in range(501)]})
    assert too_many.status_code == 422 and "ids" in too_many.json()["error"]

    # breaching soon: due by a time (the E cases are due Monday 2026-11-09), and past due now
    early = {"action": "acknowledge", "dry_run": True, "filter": {"due_before": "2026-11-08T00:00:00Z"}}
    assert bulk(queue_collector, operate, early).json()["count"] == 0
    late = {"action": "acknowledge", "dry_run": True, "filter": {"due_before": "2026-11-10T00:00:00Z"}}
    assert bulk(queue_collector, operate, late).json()["count"] == 5
    assert listing(queue_collector, tokens["read"], overdue="true", state="open,acknowledged")["total"] == 5

    monkeypatch.setattr("cases.api.BULK_MAX", 3)
    capped = bulk(queue_collector, operate, body)
    assert capped.status_code == 422
    assert capped.json()["error"].startswith("filter: matches 4 cases, more than the 3 one bulk action may change")
    assert listing(queue_collector, tokens["read"], state="acknowledged")["total"] == 0


def test_cli_bulk(queue_collector: ThreadedCollector, tokens: Tokens, operate: str) -> None:
    four_closed_period_cases_and_one_other(queue_collector, tokens)
    common = ["--url", queue_collector.url, "--token", operate]
    runner = CliRunner()
    dry = runner.invoke(cli, ["exceptions", "bulk", "acknowledge", "--owner", "finance-ops", "--dry-run", *common])
    assert dry.exit_code == 0, dry.output
    assert "4 case(s) would be changed by acknowledge (dry run)" in dry.stdout
    assert case_id(CLOSED, "E3") in dry.stdout
    assert listing(queue_collector, tokens["read"], state="acknowledged")["total"] == 0

    done = runner.invoke(cli, ["exceptions", "bulk", "resolve", "--id", case_id(CLOSED, "E3"), "--code",
                               "written_off", *common])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "resolve: 1 case(s) changed, 0 refused" in done.stdout
    assert listing(queue_collector, tokens["read"], state="resolved")["cases"][0]["business_key"] == "E3"

    read_only = ["--url", queue_collector.url, "--token", tokens["read"]]
    refused = runner.invoke(cli, ["exceptions", "bulk", "acknowledge", "--owner", "finance-ops", *read_only])
    assert refused.exit_code != 0 and "operate" in refused.output
    unnamed = runner.invoke(cli, ["exceptions", "bulk", "acknowledge", *common])
    assert unnamed.exit_code != 0 and "--id" in unnamed.output
