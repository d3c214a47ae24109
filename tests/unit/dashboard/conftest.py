"""AppTest harness: the real dashboard script, its API client on an httpx.MockTransport answering documented
shapes (fake_api.FakeCollector). Each test gets its own fake base URL, so cached answers never leak between tests.

The console runs in local mode on 127.0.0.1 unless a test chooses otherwise with `console(auth=..., ...)`."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from streamlit import config
from streamlit.testing.v1 import AppTest

from dashboard.api import ApiClient
from dashboard.ui import settings
from tests.unit.dashboard.fake_api import FakeCollector, sample

APP = Path(__file__).resolve().parents[3] / "dashboard" / "app.py"
PAGE_FILES = {
    "overview": "app_pages/overview.py",
    "sli": "app_pages/sli_detail.py",
    "trace": "app_pages/record_trace.py",
    "probes": "app_pages/probes.py",
    "alerts": "app_pages/alerts.py",
    "ingest": "app_pages/ingest.py",
}

Open = Callable[..., AppTest]
Console = Callable[..., None]


@pytest.fixture(autouse=True)
def console(monkeypatch: pytest.MonkeyPatch) -> Iterator[Console]:
    """console(auth="oidc", oidc_scopes='{...}', ...): the SYNCWATCH_DASHBOARD_* settings the app reads next."""

    def choose(**values: str) -> None:
        for name in [n for n in os.environ if n.startswith("SYNCWATCH_DASHBOARD_")]:
            monkeypatch.delenv(name)
        for name, value in values.items():
            monkeypatch.setenv(f"SYNCWATCH_DASHBOARD_{name.upper()}", value)
        settings.clear()  # the app keeps its Settings per process

    choose(auth="local")
    address = config.get_option("server.address")
    config.set_option("server.address", "127.0.0.1")  # what `syncwatch dashboard` passes by default
    yield choose
    config.set_option("server.address", address)
    settings.clear()


@pytest.fixture
def fake() -> FakeCollector:
    fake = sample(500, 30)
    fake.series_points = 48  # sparklines need a few points; the benchmark uses the full size
    return fake


def client_for(handler: Callable[[httpx.Request], httpx.Response], admin: str = "admin-secret") -> ApiClient:
    return ApiClient(f"http://fake-{uuid.uuid4().hex[:10]}:4318", "read-secret", admin, 5.0,
                     httpx.MockTransport(handler))  # fmt: skip


@pytest.fixture
def open_page(fake: FakeCollector) -> Open:
    """open_page('sli', sli='x', ...) -> an AppTest that has run that page with those query parameters."""

    def run(page: str, client: ApiClient | None = None, **query: str) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=60)
        at.session_state["syncwatch_api"] = client or client_for(fake.handle)
        if page != "overview":
            at.run()  # st.navigation registers the pages on the first run
            at.switch_page(PAGE_FILES[page])
        for name, value in query.items():
            at.query_params[name] = value
        at.run()
        assert not at.exception, [e.message for e in at.exception]
        return at

    return run
