"""A real headless Chromium loads the running dashboard (`syncwatch dashboard`) against the real collector fed by
the simulator: every page and a record trace render with no Streamlit exception, no error message and no
traceback; screenshots are kept under the test's tmp dir."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from tests.conftest import ThreadedCollector, Tokens, free_port
from tests.integration.dashboard.browser import Chromium
from tests.waiting import serving

SYNCWATCH = str(Path(sys.executable).parent / "syncwatch")
PAGES = ("overview", "sli", "probes", "alerts", "ingest", "trace")
pytestmark = pytest.mark.integration


@pytest.fixture
def fed_collector(collector: ThreadedCollector, tokens: Tokens, tmp_path: Path) -> ThreadedCollector:
    done = subprocess.run(
        [SYNCWATCH, "simulate", "backfill", "--consultants", "40", "--days", "5", "--base-url", collector.url,
         "--token", tokens["ingest"], "--fault", "erp_outage@3+1"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return collector


@pytest.fixture
def dashboard(fed_collector: ThreadedCollector, tokens: Tokens, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCWATCH_")}
    env.update(SYNCWATCH_DASHBOARD_TOKEN=tokens["read"], SYNCWATCH_DASHBOARD_REFRESH_SECONDS="300",
               SYNCWATCH_DASHBOARD_AUTH="local")  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with serving(
        [SYNCWATCH, "dashboard", "--port", str(port), "--api-url", fed_collector.url], f"{url}/_stcore/health",
        what="the dashboard", cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    ):  # fmt: skip
        yield url


def test_every_page_and_a_record_trace_render_in_chromium(dashboard: str, warehouse: Client, tmp_path: Path) -> None:
    entry = warehouse.query(
        "SELECT entry_id FROM events WHERE canonical_type = 'time_entry.posted' ORDER BY time LIMIT 1"
    ).result_rows[0][0]
    shots = tmp_path / "screenshots"
    timings: dict[str, float] = {}
    with Chromium(tmp_path / "chromium") as browser:
        for page in PAGES:
            path = "" if page == "overview" else page  # the default page lives at /
            url = f"{dashboard}/{path}" + (f"?key={entry}" if page == "trace" else "")
            timings[page] = browser.render(url)
            browser.screenshot(shots / f"{page}.png")
            found = browser.problems()
            assert found["exceptions"] == [], (page, found["exceptions"])
            assert found["errors"] == [], (page, found["errors"])
            assert not found["traceback"], page
            assert not found["page_not_found"], page
            if page == "trace":
                assert entry in found["text"] and "Journey" in found["text"]
                assert any(w in found["text"] for w in ("Reached ", "Waiting for ", "Stopped after ")), found["text"][
                    -600:
                ]
            if page == "ingest":
                assert "Events received per minute" in found["text"]
            # no sign-in here, so every page says so
            assert "Local mode: no login, bound to 127.0.0.1" in found["text"], page
        # the same console in the dark theme (Streamlit follows the system setting)
        browser.color_scheme("dark")
        for page in ("overview", "sli"):
            browser.render(f"{dashboard}/{'' if page == 'overview' else page}")
            browser.screenshot(shots / "dark" / f"{page}.png")
            found = browser.problems()
            assert found["exceptions"] == [] and found["errors"] == [], (page, found)
            assert browser.background_luminance() < 0.3, page
        browser.color_scheme("light")
        browser.render(f"{dashboard}/")
        assert browser.background_luminance() > 0.7
    assert sorted(p.name for p in shots.glob("*.png")) == sorted(f"{p}.png" for p in PAGES)
    assert all((shots / f"{p}.png").stat().st_size > 10_000 for p in PAGES)
    print("first render (s):", {k: round(v, 2) for k, v in timings.items()})


def test_collector_down_is_a_message_not_a_crash(tmp_path: Path) -> None:
    port, dead = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCWATCH_")}
    env.update(SYNCWATCH_DASHBOARD_TOKEN="any-token", SYNCWATCH_DASHBOARD_TIMEOUT_SECONDS="2",
               SYNCWATCH_DASHBOARD_AUTH="local")  # fmt: skip
    with serving(
        [SYNCWATCH, "dashboard", "--port", str(port), "--api-url", f"http://127.0.0.1:{dead}"],
        f"http://127.0.0.1:{port}/_stcore/health", what="the dashboard",
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    ):  # fmt: skip
        with Chromium(tmp_path / "chromium") as browser:
            browser.render(f"http://127.0.0.1:{port}/")
            browser.screenshot(tmp_path / "screenshots" / "collector-down.png")
            found = browser.problems()
    assert found["exceptions"] == [] and not found["traceback"]
    assert any("unreachable" in e for e in found["errors"]), found["errors"]
