"""The console's Weekly report page when the collector cannot answer (AppTest, the collector on an
httpx.MockTransport): a message naming the problem, never a traceback. The page with a real report is driven in
Chromium by tests/integration/reports/test_weekly_report_page.py."""

from __future__ import annotations

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from tests.unit.dashboard.conftest import APP, Console, client_for, console  # noqa: F401 - the local-mode fixture

PAGE = "app_pages/weekly_report.py"


def _open(handler: httpx.MockTransport | None = None, **query: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state["syncwatch_api"] = client_for(handler.handle_request if handler else _refuse)
    at.run()  # st.navigation registers the pages on the first run
    at.switch_page(PAGE)
    for name, value in query.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def _answer(status: int, body: object, *, only: str = "/api/v1/reports/weekly") -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/readyz":
            return httpx.Response(200, json={"status": "ready", "problems": []})
        if request.url.path == only:
            return httpx.Response(status, json=body)
        return httpx.Response(503, json={"error": "busy", "status": 503})

    return httpx.MockTransport(handle)


def test_collector_down_is_a_message() -> None:
    at = _open()
    assert at.title[0].value == "Weekly report"
    assert any("unreachable" in e.value for e in at.error), [e.value for e in at.error]


@pytest.mark.parametrize(("status", "words"), [(401, "token"), (403, "scope")])
def test_a_refused_token_is_a_message(status: int, words: str) -> None:
    at = _open(_answer(status, {"error": "no", "status": status}))
    assert any(words in e.value for e in at.error), [e.value for e in at.error]


def test_a_collector_without_reports_says_so() -> None:
    at = _open(_answer(404, {"detail": "Not Found"}))
    assert any("not available yet" in i.value for i in at.info), [i.value for i in at.info]


def test_a_week_not_archived_whose_report_cannot_be_computed_is_a_message() -> None:
    at = _open(_answer(200, {"reports": []}), week="2026-W45")
    assert any("is not archived" in i.value for i in at.info), [i.value for i in at.info]
    assert any("busy" in e.value for e in at.error), [e.value for e in at.error]
