"""Replaying a dead letter end to end: the simulated firm's replay job is stopped, its dead letters become cases in
the real collector; `request_replay` asks the simulated middleware's API over loopback, the request and its answer
are audited, the middleware emits `message.replayed` into the collector the way its other events flow (its HTTP
sink), and the maintenance job auto-resolves the case. The middleware's own replay rate limit comes back as a 429
with Retry-After, audited too; a message already replayed is refused; only dead letters are replayed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from simulator.apis.app import create_app as create_estate
from simulator.apis.auth import Credentials
from simulator.apis.limits import SystemLimits
from simulator.calendar import DAY
from simulator.emit import HttpSink, MemorySink
from simulator.faults import FaultSchedule
from simulator.simulation import Simulation
from syncwatch.cli import app as cli
from syncwatch.settings import Settings
from syncwatch.tokens import create_token
from tests.conftest import ThreadedCollector, Tokens, auth, serve
from tests.integration.exceptions.test_cases_from_hand_built_logs import keeper, listing, rejection
from tests.integration.metrics.test_hand_built_logs import send

pytestmark = pytest.mark.integration
CREDS = Credentials()


@pytest.fixture
def firm() -> Simulation:
    """Three weeks up to yesterday, the replay job stopped from the fifth day on: dead letters stay unreplayed."""
    start = (datetime.now(UTC) - timedelta(days=22)).timestamp()
    faults = FaultSchedule()
    sim = Simulation(60, 13, start, MemorySink(), faults, spans=False)
    faults.add("dead_letter_buildup", sim.start + 5 * DAY, None)
    sim.begin()
    sim.run_until(sim.start + 20 * DAY)
    return sim


@pytest.fixture
def running(firm: Simulation, tokens: Tokens, settings: Settings) -> Iterator[tuple[ThreadedCollector, str, str]]:
    # three replays at once, then one every ~17 minutes: the fourth request meets the middleware's limit
    estate = create_estate(firm, limits=SystemLimits(replay_rate=0.001, replay_burst=3))
    with serve(estate) as base:
        values = {**settings.model_dump(), "exceptions_maintenance_seconds": 0, "middleware_url": base,
                  "middleware_api_key": CREDS.api_key}  # fmt: skip
        operate = create_token_for(settings)
        with ThreadedCollector(Settings(**values)) as collector:
            yield collector, base, operate


def create_token_for(settings: Settings) -> str:
    from syncwatch.warehouse import connect

    return create_token(connect(settings), "test-operate", ["operate"])[1]


def act(collector: ThreadedCollector, secret: str, case_id: str) -> httpx.Response:
    return httpx.post(f"{collector.url}/api/v1/exceptions/{case_id}/actions", json={"action": "request_replay"},
                      headers=auth(secret), timeout=60)  # fmt: skip


def shown(collector: ThreadedCollector, secret: str, case_id: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{collector.url}/api/v1/exceptions/{case_id}", headers=auth(secret),
                                     timeout=30).json()  # fmt: skip
    return body


def test_replay_through_the_middleware_resolves_the_case(
    running: tuple[ThreadedCollector, str, str], firm: Simulation, tokens: Tokens
) -> None:
    collector, base, operate = running
    pending = [m for m in firm.firm.dead_letters.values() if m.replayed_at is None]
    assert len(pending) >= 3, "the stopped replay job leaves dead letters"
    # what the middleware said so far about its messages, through the real ingest path
    send(collector, tokens, [e for e in firm.sink.events if "message_id" in e["data"]])  # type: ignore[attr-defined]
    send(collector, tokens, [rejection("E-REJ", datetime.now(UTC) - timedelta(hours=2), 80.0, "PERIOD_CLOSED")])
    keeper(collector).maintain()
    letters = listing(collector, tokens["read"], cause="dead_letter", state="open", limit=500)
    assert letters["total"] == len(pending)
    first, second, third = letters["cases"][:3]

    # from here on the middleware's events go to the collector as a live run's do
    firm.sink = HttpSink(collector.url, tokens["ingest"], concurrency=1, spans=False)
    try:
        asked = act(collector, operate, first["case_id"])
        assert asked.status_code == 200, asked.text
        answer = asked.json()
        assert answer["replay"]["outcome"] == "accepted" and answer["replay"]["status"] == 202
        assert answer["audit"]["action"] == "request_replay" and answer["audit"]["actor"] == "test-operate"
        new_id = answer["audit"]["detail"]["new_message_id"]
        assert new_id == firm.firm.dead_letters[first["business_key"]].new_message_id
        assert answer["state"] == "open"  # closed by the evidence, not by the request

        deadline = time.monotonic() + 60
        while shown(collector, tokens["read"], first["case_id"])["state"] != "auto_resolved":
            assert time.monotonic() < deadline, "message.replayed never resolved the case"
            time.sleep(0.5)
            keeper(collector).maintain()
        closed = shown(collector, tokens["read"], first["case_id"])
        assert closed["resolution_note"].startswith("message.replayed at ")
        actions = [h["action"] for h in closed["history"]]
        assert actions[:2] == ["opened", "request_replay"] and actions[-1] == "auto_resolved"
        assert closed["history"][1]["detail"]["outcome"] == "accepted"

        # the middleware refuses a message replayed already (this spends the second of its three replays)
        again = httpx.post(f"{base}/api/v1/dead-letters/{first['business_key']}/replay",
                           headers={"X-API-Key": CREDS.api_key}, timeout=30)  # fmt: skip
        assert again.status_code == 409 and again.json()["new_message_id"] == new_id
        # and the queue refuses a closed case before asking
        refused = act(collector, operate, first["case_id"])
        assert refused.status_code == 409 and "reopen" in refused.json()["error"]

        # the CLI asks too (the third replay)
        result = CliRunner().invoke(cli, ["exceptions", "replay", second["case_id"], "--url", collector.url,
                                          "--token", operate])  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "the middleware replays it (HTTP 202)" in result.stdout

        # the fourth within the minute meets the middleware's rate limit: a 429 with Retry-After, audited
        limited = act(collector, operate, third["case_id"])
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
        assert "replay rate limited" in limited.json()["error"]
        log = shown(collector, tokens["read"], third["case_id"])["history"]
        assert (log[-1]["action"], log[-1]["detail"]["outcome"], log[-1]["detail"]["status"]) == (
            "request_replay", "throttled", 429)  # fmt: skip
        assert firm.firm.dead_letters[third["business_key"]].replayed_at is None
    finally:
        firm.sink.close()

    # read cannot ask; only a dead letter is replayed
    assert act(collector, tokens["read"], third["case_id"]).status_code == 403
    (rejected,) = listing(collector, tokens["read"], cause="erp_rejection:PERIOD_CLOSED")["cases"]
    other = act(collector, operate, rejected["case_id"])
    assert other.status_code == 409 and "only a dead letter" in other.json()["error"]


def test_replay_without_a_middleware_is_refused_and_audited(
    settings: Settings, tokens: Tokens, firm: Simulation
) -> None:
    operate = create_token_for(settings)
    with ThreadedCollector(Settings(**{**settings.model_dump(), "exceptions_maintenance_seconds": 0})) as collector:
        letter = next(e for e in firm.sink.events if e["type"] == "message.dead_lettered")  # type: ignore[attr-defined]
        send(collector, tokens, [letter])
        keeper(collector).maintain()
        (case,) = listing(collector, tokens["read"], cause="dead_letter")["cases"]
        asked = act(collector, operate, case["case_id"])
        assert asked.status_code == 503 and "SYNCWATCH_MIDDLEWARE_URL" in asked.json()["error"]
        assert shown(collector, tokens["read"], case["case_id"])["history"][-1]["detail"]["outcome"] == "not_configured"
