"""Debian's headless Chromium driven over the Chrome DevTools protocol (websockets' sync client), enough to load a
Streamlit page, wait until its script has rendered, read the DOM and take a screenshot.

Used by the dashboard browser test and by bench/dashboard.py (first render per page in a real browser).
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

# What the page shows once Streamlit has finished running the page's script. The stApp element carries the
# script state; the main block container has content; no spinner of ours is left.
_READY_JS = """
(() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app) return {ready: false, state: 'no app'};
  const state = app.getAttribute('data-test-script-state');
  const main = document.querySelector('[data-testid="stMainBlockContainer"]');
  const heading = main && main.querySelector('h1');
  const stale = document.querySelectorAll('[data-stale="true"]').length;
  const skeletons = document.querySelectorAll(
    '[data-testid="stSkeleton"], [data-testid="stSkeletonElement"], [data-testid="stAppSkeleton"]').length;
  // charts count as rendered once they have drawn something (Vega draws into a canvas or an svg)
  const charts = [...document.querySelectorAll('[data-testid="stVegaLiteChart"], [data-testid="stGraphVizChart"]')];
  const undrawn = charts.filter(c => !c.querySelector('canvas, svg')).length;
  const ready = state === 'notRunning' && !!heading && stale === 0 && skeletons === 0 && undrawn === 0;
  return {ready: ready, state: state, skeletons: skeletons, undrawn: undrawn, stale: stale};
})()
"""
PROBLEMS_JS = """
(() => {
  const text = document.body ? document.body.innerText : '';
  return {
    exceptions: [...document.querySelectorAll('[data-testid="stException"]')].map(e => e.innerText.slice(0, 500)),
    errors: [...document.querySelectorAll('[data-testid="stAlertContentError"]')].map(e => e.innerText.slice(0, 500)),
    traceback: text.includes('Traceback'),
    page_not_found: text.includes('Page not found'),
    title: (document.querySelector('h1') || {}).innerText || '',
    text: text,
  };
})()
"""


class Chromium:
    def __init__(self, user_data_dir: Path, width: int = 1440, height: int = 1800):
        self.user_data_dir = user_data_dir
        self.width, self.height = width, height
        self.process: subprocess.Popen[bytes] | None = None
        self.ws: ClientConnection | None = None
        self._ids = itertools.count(1)

    def __enter__(self) -> Chromium:
        self.user_data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check", "--mute-audio",
             f"--user-data-dir={self.user_data_dir}", "--remote-debugging-port=0",
             f"--window-size={self.width},{self.height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        port_file = self.user_data_dir / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("chromium did not start")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        page = next(t for t in targets if t.get("type") == "page")
        self.ws = connect(page["webSocketDebuggerUrl"], max_size=64 * 1024 * 1024, open_timeout=10)
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Emulation.setDeviceMetricsOverride",
                  width=self.width, height=self.height, deviceScaleFactor=1, mobile=False)  # fmt: skip
        return self

    def __exit__(self, *exc: object) -> None:
        if self.ws is not None:
            self.ws.close()
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        assert self.ws is not None
        message_id = next(self._ids)
        self.ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.ws.recv(timeout=60))
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result

    def evaluate(self, expression: str) -> Any:
        answer = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return answer.get("result", {}).get("value")

    def render(self, url: str, timeout: float = 60.0, settle: float = 0.4) -> float:
        """Navigate and wait until the page's script has run to the end and the page stays rendered; returns
        the seconds from navigation to the first complete render."""
        # leave the previous page first, so its finished DOM is never mistaken for the new one's
        self.call("Page.navigate", url="about:blank")
        while self.evaluate("location.href") != "about:blank":
            time.sleep(0.01)
        started = time.perf_counter()
        self.call("Page.navigate", url=url)
        deadline = started + timeout
        first_ready: float | None = None
        while True:
            state = self.evaluate(_READY_JS) or {}
            if state.get("ready"):
                if first_ready is None:
                    first_ready = time.perf_counter() - started
                    settled_at = time.perf_counter() + settle
                elif time.perf_counter() >= settled_at:
                    return first_ready
            else:
                first_ready = None
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{url} did not finish rendering in {timeout:g} s (state {state})")
            time.sleep(0.03)

    def wait_for_text(self, text: str, timeout: float = 60.0) -> str:
        """The page's text once it contains `text` (the script may still be running elsewhere on the page). Word
        joiners are left out: invisible, the console puts them into addresses shown as text (format.esc)."""
        deadline = time.monotonic() + timeout
        while True:
            found = str(self.evaluate("document.body ? document.body.innerText : ''") or "").replace("\u2060", "")
            if text in found:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"{text!r} did not appear within {timeout:g} s; the page shows {found[-800:]!r}")
            time.sleep(0.05)

    def click(self, label: str, selector: str = "button, a, [role=tab]") -> None:
        """Click the first visible element of `selector` whose text ends with the line `label` (waits for it)."""
        script = f"""
(() => {{
  const found = [...document.querySelectorAll({json.dumps(selector)})]
    // an icon's ligature name comes first in the text of a navigation link: compare the last line
    .find(e => e.innerText.trim().split('\\n').pop().trim() === {json.dumps(label)} && e.offsetParent !== null);
  if (!found) return false;
  found.click();
  return true;
}})()"""
        deadline = time.monotonic() + 30
        while not self.evaluate(script):
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing to click labelled {label!r}")
            time.sleep(0.05)

    def type_and_enter(self, selector: str, text: str) -> None:
        """Type into the element as a person would (React sees real input events), then press Enter."""
        deadline = time.monotonic() + 30
        while not self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); "
            "if (!e) return false; e.focus(); e.select && e.select(); return true; })()"
        ):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {selector} to type into")
            time.sleep(0.05)
        self.call("Input.insertText", text=text)
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter", windowsVirtualKeyCode=13,
                      nativeVirtualKeyCode=13, text="\r" if kind == "keyDown" else "")  # fmt: skip

    def color_scheme(self, scheme: str) -> None:
        """Emulate the viewer's system theme ("light" or "dark"); Streamlit follows it by default."""
        self.call("Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": scheme}])

    def background_luminance(self) -> float:
        """0 (black) .. 1 (white): the app's background, to check which theme is showing."""
        rgb = self.evaluate("getComputedStyle(document.querySelector('[data-testid=\"stApp\"]')).backgroundColor")
        r, g, b = (int(x) for x in str(rgb)[str(rgb).index("(") + 1 : str(rgb).index(")")].split(",")[:3])
        return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255

    def problems(self) -> dict[str, Any]:
        found: dict[str, Any] = self.evaluate(PROBLEMS_JS) or {}
        return found

    def screenshot(self, path: Path) -> Path:
        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path
