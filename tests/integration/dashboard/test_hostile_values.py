"""Text from events, spans, probes and URLs is text in the browser.

The real console (`syncwatch dashboard`) reads a collector whose every answer is full of hostile values: Markdown
images and links pointing at a listener on loopback, HTML tags, backticks, `javascript:` links, colour directives.
A real Chromium visits every page (and the record trace by a crafted ?key= link); no request may reach the
listener and no injected element (image, link to it, HTML element, code span) may exist in the DOM, while the
hostile text itself is shown, character for character."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from dashboard.format import WORD_JOINER
from tests.conftest import free_port, http_server_running
from tests.integration.dashboard.browser import Chromium
from tests.unit.dashboard.fake_api import FakeCollector, journey, sample, serve
from tests.waiting import serving

SYNCWATCH = str(Path(sys.executable).parent / "syncwatch")
pytestmark = pytest.mark.integration

# Elements the hostile values would create if they were read as Markdown or HTML, or that point at the listener.
INJECTED_JS = """
((listener) => {
  const main = document.querySelector('[data-testid="stApp"]');
  const bad = (url) => !!url && (url.includes(listener) || /^\\s*javascript:/i.test(url));
  return {
    images: [...main.querySelectorAll('img, image, source, video, audio, iframe, object, embed')]
      .map(e => e.getAttribute('src') || e.getAttribute('href') || e.getAttribute('data') || '').filter(bad),
    links: [...main.querySelectorAll('a')].map(a => a.getAttribute('href') || '').filter(bad),
    elements: main.querySelectorAll('#injected, [data-injected], marquee, script:not([src])').length,
    code: [...main.querySelectorAll('code')].map(c => c.innerText).filter(t => t.includes('tick')),
    styled: [...main.querySelectorAll('*')].filter(e => bad(getComputedStyle(e).backgroundImage)).length,
  };
})
"""


class Listener:
    """An HTTP server on loopback that records every request: the address the hostile values point at."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        seen = self.seen

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                seen.append(self.path)
                self.send_response(200)
                self.send_header("content-type", "image/gif")
                self.send_header("content-length", "0")
                self.end_headers()

            do_POST = do_GET  # noqa: N815

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.url = f"http://{self.address}"

    @contextmanager
    def running(self) -> Iterator[Listener]:
        with http_server_running(self.server):
            yield self


def hostile(url: str, tag: str) -> str:
    """One value with every trick at once; `tag` says where it was put, so a failure names the field."""
    return (
        f"{tag} ![pixel]({url}/md-image/{tag}.png) [Session expired - sign in]({url}/phish/{tag}) "
        f'<img id="injected" src="{url}/html-image/{tag}.png"> <b data-injected>bold</b> '
        f"`tick` [run](javascript:fetch('{url}/js/{tag}')) <{url}/autolink/{tag}> {url}/bare/{tag} "
        f":red[red] **strong** $x^2$"
    )


def poison(fake: FakeCollector, url: str) -> tuple[str, str]:
    """Hostile values in every field a page shows; returns the traced key that exists and one that does not."""
    for n, sli in enumerate(fake.slis):
        sli["title"] = hostile(url, f"sli-title-{n}")
        sli["objective"]["comparison"] = hostile(url, "comparison")
        if sli["unit"] == "money":
            sli["details"] = {"currency": hostile(url, "currency")}
    fake.slis[0]["status"] = hostile(url, "status")
    for record in fake.records[:50]:
        record.update(key=hostile(url, "record-key"), detail=hostile(url, "record-detail"),
                      currency=hostile(url, "record-currency"), tenant=hostile(url, "tenant"))  # fmt: skip
    fake.probes[0].update(name=hostile(url, "probe-name"), system=hostile(url, "probe-system"), stale=True)
    fake.probes[0]["last_run"]["error"] = hostile(url, "probe-error")
    for finding in fake.findings:
        finding.update(object_id=hostile(url, "finding-object"), kind=hostile(url, "finding-kind"),
                       currency=hostile(url, "finding-currency"), detail=hostile(url, "finding-detail"))  # fmt: skip
    for alert in fake.alerts:
        alert["annotations"].update(summary=hostile(url, "alert-summary"), runbook_url=f"javascript:fetch('{url}/rb')")
        alert.update(severity=hostile(url, "severity"), active_since=hostile(url, "active-since"))
        alert["labels"] = {"flow": hostile(url, "label")}
    for item in fake.history:
        item.update(summary=hostile(url, "history-summary"), rule=hostile(url, "history-rule"))
    for silence in fake.silences:
        silence.update(id="s-0`) ![x](" + url + "/silence-id.png) (`", comment=hostile(url, "silence-comment"),
                       created_by=hostile(url, "silence-author"))  # fmt: skip
    # the quarantine: an event whose id breaks out of a code span
    for item in fake.quarantine["items"]:
        item.update(id=f"ev-1` ![quarantine]({url}/quarantine-id.png) `x", reason=hostile(url, "reason"),
                    detail=hostile(url, "detail"), source=hostile(url, "source"))  # fmt: skip
    fake.quarantine["counts_by_reason"] = {hostile(url, "reason"): 3}
    assert fake.ingest is not None
    fake.ingest.update(warehouse_up=False, warehouse_error=hostile(url, "warehouse-error"))
    fake.ingest["queue_rows"] = {hostile(url, "table"): 3}
    # a traced record whose events carry hostile keys and messages (the consultant id is a known exploit)
    found = "TE-000000777"
    trail = journey(found)
    for item in trail["items"]:
        if item["signal"] == "event":
            item["data"].update(consultant_id=f"![consultant]({url}/consultant.png)",
                                project_code=hostile(url, "project"),
                                error_code=hostile(url, "error-code"))  # fmt: skip
            item["correlation_id"] = hostile(url, "correlation")
        else:
            item["status_message"] = hostile(url, "span-status")
    trail["summary"].update(systems=[hostile(url, "system")], first_seen=hostile(url, "first-seen"),
                            events=hostile(url, "event-count"))  # fmt: skip
    fake.journeys[found] = trail
    return found, f"[Session expired - sign in]({url}/phish-key)![key]({url}/key-image.png)<b data-injected>b</b>"


def test_no_hostile_value_becomes_markup_in_a_real_browser(tmp_path: Path) -> None:
    listener = Listener()
    fake = sample(60, 3)
    fake.series_points = 24
    found, crafted = poison(fake, listener.url)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCWATCH_")}
    env.update(SYNCWATCH_DASHBOARD_TOKEN="read-secret", SYNCWATCH_DASHBOARD_REFRESH_SECONDS="600")
    console = f"http://127.0.0.1:{port}"
    pages = {
        "overview": "/",
        "sli": "/sli",
        "trace (crafted ?key=)": f"/trace?key={quote(crafted, safe='')}",
        "trace (hostile events)": f"/trace?key={found}",
        "probes": "/probes",
        "alerts": "/alerts?tab=active",
        "alert history": "/alerts?tab=history",
        "silences": "/alerts?tab=silences",
        "ingest": "/ingest",
    }
    shown: dict[str, str] = {}
    with (
        listener.running(),
        serve(fake) as collector,
        serving(
            [SYNCWATCH, "dashboard", "--auth", "local", "--port", str(port), "--api-url", collector],
            f"{console}/_stcore/health", what="the dashboard", cwd=tmp_path, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ),
        Chromium(tmp_path / "chromium") as browser,
    ):  # fmt: skip
        for name, path in pages.items():
            browser.render(console + path)
            browser.screenshot(tmp_path / "screenshots" / f"{name}.png")
            found_problems = browser.problems()
            assert found_problems["exceptions"] == [] and not found_problems["traceback"], name
            injected = browser.evaluate(f"{INJECTED_JS}({listener.address!r})")
            assert injected == {"images": [], "links": [], "elements": 0, "code": [], "styled": 0}, name
            shown[name] = found_problems["text"].replace(WORD_JOINER, "")  # invisible, see format.esc
        time.sleep(1.0)  # anything the pages made the browser load lazily has arrived by now
    assert listener.seen == [], listener.seen
    # the hostile text is there, as the characters it is (the pages did show the values checked above)
    literal = f"[Session expired - sign in]({listener.url}/phish-key)![key]({listener.url}/key-image.png)"
    assert literal in shown["trace (crafted ?key=)"]
    assert f"![consultant]({listener.url}/consultant.png)" in shown["trace (hostile events)"]
    assert f"Payload of ev-1` ![quarantine]({listener.url}/quarantine-id.png) `x" in shown["ingest"]
    assert "sli-title-0 ![pixel](" in shown["overview"] and ":red[red] **strong**" in shown["overview"]
    assert "probe-error" in shown["probes"] or "probe-name" in shown["probes"]
    assert "alert-summary ![pixel](" in shown["overview"] and "<b data-injected>bold</b>" in shown["overview"]
