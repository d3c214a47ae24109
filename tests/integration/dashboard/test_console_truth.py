"""In a real browser, against the real collector fed by the simulator: the Overview says what the API says. A flow
is called silent on the flow map exactly when flow_silence says so (not every flow, as when each flow's seconds
were judged against an objective of 0 silent flows), "Every SLI meets its objective" only when every SLI has
data, and money at risk carries its currency."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from dashboard.flows import HOPS
from tests.conftest import ThreadedCollector, Tokens, auth
from tests.integration.dashboard.browser import Chromium
from tests.integration.dashboard.test_browser import dashboard, fed_collector  # noqa: F401 -- fixtures

pytestmark = pytest.mark.integration


def test_the_overview_says_what_the_api_says(
    dashboard: str,  # noqa: F811 -- the fixture imported above
    fed_collector: ThreadedCollector,  # noqa: F811
    tokens: Tokens,
    tmp_path: Path,
) -> None:
    read = auth(tokens["read"])
    rows = httpx.get(f"{fed_collector.url}/api/v1/slis/flow_silence/breakdown", params={"by": "flow"}, headers=read,
                     timeout=60).json()["rows"]  # fmt: skip
    assert rows and all(r["status"] == ("breach" if r["details"]["silent"] else "ok") for r in rows), rows
    # a backfill that ends now: the hourly flows delivered within their cadence
    assert not next(r for r in rows if r["key"] == "psa-to-erp-time")["details"]["silent"]
    slis = httpx.get(f"{fed_collector.url}/api/v1/slis", headers=read, timeout=60).json()["slis"]
    with Chromium(tmp_path / "chromium") as browser:
        browser.render(f"{dashboard}/")
        browser.screenshot(tmp_path / "overview.png")
        text = browser.text().replace("\u2060", "")
    on_the_map = {flow for hop in HOPS for flow in hop.flows}
    for row in rows:
        if row["key"] in on_the_map:
            assert (f"{row['key']}: silent" in text) == row["details"]["silent"], row
    if any(s["status"] == "no_data" for s in slis):
        assert "Every SLI meets its objective" not in text
    assert re.search(r"Unbilled WIP at risk: (none at risk|[\d,.]+ [A-Z]{3})", text), text[:2000]
    assert "spent (-" not in text  # an overspent budget says by how much it is over, not a negative share
