"""The console's Exceptions page and the Overview's queue tile, in a real Chromium on the real console
(`syncwatch dashboard`, token sign-in) over the real collector, with cases from a hand-built event log:

- the queue lists the cases ranked by money x age, with the tile's counts and money per currency on the Overview;
- an operate token acknowledges and resolves a case from the page after the confirmation, and the history shows
  the token's name; the collector holds the same;
- a read token sees the cases and no action, only why; text from events (a project code with Markdown and a link)
  shows as the characters it is.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cases.model import case_id
from tests.conftest import ThreadedCollector, Tokens, auth
from tests.integration.dashboard.browser import Chromium
from tests.integration.dashboard.test_sign_in import console
from tests.integration.exceptions import test_cases_from_hand_built_logs as hand_built
from tests.integration.exceptions.test_cases_from_hand_built_logs import FRIDAY, keeper, rejection
from tests.integration.metrics.test_hand_built_logs import project, send

pytestmark = pytest.mark.integration
operate = hand_built.operate
queue_collector = hand_built.queue_collector

HOSTILE_PROJECT = "P-**bold**[x](http://127.0.0.1:9/leak)"
E1 = case_id("erp_rejection:PERIOD_CLOSED", "E1")


@pytest.fixture
def queue(queue_collector: ThreadedCollector, tokens: Tokens) -> Iterator[ThreadedCollector]:
    send(queue_collector, tokens, [
        project("P-USD", "USD"),
        project(HOSTILE_PROJECT, "EUR"),
        rejection("E1", FRIDAY, 300.0, "PERIOD_CLOSED"),
        rejection("E2", FRIDAY, 50.0, "INVALID_PROJECT_OR_ASSIGNMENT", currency="EUR", project=HOSTILE_PROJECT),
    ])  # fmt: skip
    assert keeper(queue_collector).maintain().audit == {"opened": 2}
    yield queue_collector


def sign_in(browser: Chromium, url: str, secret: str, page: str) -> None:
    browser.render(f"{url}/{page}")
    browser.type_and_enter('input[aria-label="SyncWatch API token"]', secret)


def buttons(browser: Chromium) -> list[str]:
    found: list[str] = browser.evaluate("[...document.querySelectorAll('button')].map(b => b.innerText.trim())")
    return found


def shown_case(collector: ThreadedCollector, secret: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{collector.url}/api/v1/exceptions/{E1}", headers=auth(secret),
                                     timeout=30).json()  # fmt: skip
    return body


def test_operate_works_the_queue_in_the_console(
    queue: ThreadedCollector, tokens: Tokens, operate: str, tmp_path: Path
) -> None:
    with console(queue.url, tmp_path, auth="token") as url, Chromium(tmp_path / "chromium") as browser:
        sign_in(browser, url, operate, "")  # the Overview is the default page
        browser.wait_for_text("Money at stake:")
        browser.wait_for_text("Open cases\n\n2")  # the metrics draw a moment after the line below them
        text = browser.wait_for_text("Past their SLA\n\n2")
        assert "300 USD" in text and "50.00 EUR" in text  # per currency, never added up
        browser.screenshot(tmp_path / "screenshots" / "overview-tile.png")
        browser.click("Work the exception queue")
        text = browser.wait_for_text("Act on this case")
        # ranked by money x age, the first case is open: E1 (300 USD) before E2 (50 EUR), both past due
        assert f"{E1} · erp_rejection:PERIOD_CLOSED" in text and "Record: E1 · money at stake: 300 USD" in text
        assert "Cases\n\n2" in text and "Past due\n\n2" in text and "overdue" in text
        assert browser.problems()["exceptions"] == [] and browser.problems()["errors"] == []

        # acknowledge: without the confirmation nothing happens
        browser.click("Acknowledge")
        browser.wait_for_text("Tick the confirmation first.")
        assert shown_case(queue, tokens["read"])["state"] == "open"
        browser.page.get_by_text(f"I confirm: acknowledge case {E1}").click()
        browser.click("Acknowledge")
        browser.wait_for_text("Done: acknowledge by test-operate; the case is acknowledged.")
        assert shown_case(queue, tokens["read"])["state"] == "acknowledged"

        # resolve with a code and a note; the history names the operator
        browser.page.locator('[data-testid="stSelectbox"]').filter(has_text="Action").click()
        browser.page.get_by_role("option", name="Resolve").click()
        browser.wait_for_text("Resolution code")
        browser.page.locator('input[aria-label="Resolution code"]').fill("fixed_in_erp")
        browser.page.locator('textarea[aria-label="Note"]').fill("reposted after the period reopened")
        browser.page.get_by_text(f"I confirm: resolve case {E1}").click()
        browser.click("Resolve")
        text = browser.wait_for_text("Done: resolve by test-operate; the case is resolved.")
        case = shown_case(queue, tokens["read"])
        assert (case["state"], case["resolution"], case["resolved_by"]) == ("resolved", "fixed_in_erp", "test-operate")
        assert [(h["actor"], h["action"]) for h in case["history"]][-2:] == [
            ("test-operate", "acknowledge"), ("test-operate", "resolve")]  # fmt: skip
        # the resolved case leaves the default view (cases not closed); its history on the page names the operator
        sign_in(browser, url, operate, f"exceptions?state=resolved&case={E1}")  # a new session signs in again
        text = browser.wait_for_text("note: reposted after the period reopened")
        assert "test-operate · acknowledge" in text and "test-operate · resolve" in text
        assert "syncwatch · opened" in text
        browser.screenshot(tmp_path / "screenshots" / "exceptions-operate.png")


def test_read_sees_the_queue_and_no_action(queue: ThreadedCollector, tokens: Tokens, tmp_path: Path) -> None:
    with console(queue.url, tmp_path, auth="token") as url, Chromium(tmp_path / "chromium") as browser:
        sign_in(browser, url, tokens["read"], "exceptions")
        text = browser.wait_for_text("Act on this case")
        text = browser.wait_for_text("Needs the operate scope; your token grants read.")
        assert E1 in text
        deadline = time.monotonic() + 5  # the page has finished: no action button appears later either
        while time.monotonic() < deadline:
            assert not {"Acknowledge", "Resolve", "Start work"} & set(buttons(browser))
            time.sleep(0.5)
        # the case with the hostile project code, chosen through the URL: its code as text, no link, no bold
        e2 = case_id("erp_rejection:INVALID_PROJECT_OR_ASSIGNMENT", "E2")
        sign_in(browser, url, tokens["read"], f"exceptions?case={e2}")  # a new session signs in again
        text = browser.wait_for_text("project:")
        assert HOSTILE_PROJECT in text
        assert browser.evaluate("document.querySelectorAll('a[href*=\"127.0.0.1:9\"]').length") == 0
        assert browser.problems()["exceptions"] == []
        browser.screenshot(tmp_path / "screenshots" / "exceptions-read.png")
