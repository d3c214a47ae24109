"""Debian's headless Chromium driven by Playwright, with what the console's browser tests need: load a Streamlit
page and wait until its script has rendered, read the DOM, type, click and take a screenshot.

Used by the dashboard browser tests and by bench/dashboard.py (first render per page in a real browser). The
browser is the system's (`/usr/bin/chromium`, from scripts/system-deps.sh): `playwright install` downloads browsers
of its own, which these machines cannot and need not do.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from pathlib import Path
from typing import Any, Literal

from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

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
# Word joiners are left out: invisible, the console puts them into addresses shown as text (format.esc).
_HAS_TEXT_JS = "text => !!document.body && document.body.innerText.replaceAll('\\u2060', '').includes(text)"
# The first visible element of a selector whose text ends with the line `label`: an icon's ligature name comes
# first in the text of a navigation link, so the last line is compared.
_LABELLED_JS = """
([selector, label]) => [...document.querySelectorAll(selector)]
  .find(e => e.innerText.trim().split('\\n').pop().trim() === label && e.offsetParent !== null) || null
"""


class Chromium:
    """One headless Chromium with one page, for the length of a `with` block. If the block fails, the page as it
    was is kept as `failure.png` in `workdir`, to see what the browser showed."""

    def __init__(self, workdir: Path, width: int = 1440, height: int = 1800):
        self.workdir = workdir
        self.width, self.height = width, height
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._page: Page | None = None

    @property
    def page(self) -> Page:
        """The Playwright page, for what the helpers below do not cover."""
        if self._page is None:
            raise RuntimeError("the browser runs only inside its with block")
        return self._page

    def __enter__(self) -> Chromium:
        self._playwright = sync_playwright().start()
        try:
            self._browser = self._playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True,
                args=["--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--mute-audio"],
            )  # fmt: skip
            context = self._browser.new_context(viewport={"width": self.width, "height": self.height})
            self._page = context.new_page()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        try:
            if kind is not None and self._page is not None:
                self.workdir.mkdir(parents=True, exist_ok=True)
                # the failure being reported matters more than its screenshot
                with contextlib.suppress(Exception):
                    self._page.screenshot(path=self.workdir / "failure.png", timeout=10_000)
        finally:
            if self._browser is not None:
                self._browser.close()
            if self._playwright is not None:
                self._playwright.stop()
            self._page = self._browser = self._playwright = None

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (a function expression is called)."""
        return self.page.evaluate(expression)

    def render(self, url: str, timeout: float = 60.0, settle: float = 0.4) -> float:
        """Navigate and wait until the page's script has run to the end and the page stays rendered; returns
        the seconds from navigation to the first complete render."""
        # leave the previous page first, so its finished DOM is never mistaken for the new one's
        self.page.goto("about:blank")
        started = time.perf_counter()
        self.page.goto(url, wait_until="commit", timeout=timeout * 1000)
        deadline = started + timeout
        first_ready: float | None = None
        settled_at = 0.0
        while True:
            state = self.page.evaluate(_READY_JS) or {}
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

    def text(self) -> str:
        """The page's text as a person reads it, word joiners left out."""
        return str(self.page.evaluate("document.body ? document.body.innerText : ''") or "").replace("\u2060", "")

    def wait_for_text(self, text: str, timeout: float = 60.0) -> str:
        """The page's text once it contains `text` (the script may still be running elsewhere on the page)."""
        try:
            self.page.wait_for_function(_HAS_TEXT_JS, arg=text, timeout=timeout * 1000, polling=50)
        except PlaywrightTimeout as exc:
            shown = self.text()[-800:]
            raise TimeoutError(f"{text!r} did not appear within {timeout:g} s; the page shows {shown!r}") from exc
        return self.text()

    def click(self, label: str, selector: str = "button, a, [role=tab]", timeout: float = 30.0) -> None:
        """Click, with the mouse, the first visible element of `selector` whose text ends with the line `label`
        (waits for it)."""
        try:
            found = self.page.wait_for_function(_LABELLED_JS, arg=[selector, label], timeout=timeout * 1000)
        except PlaywrightTimeout as exc:
            raise TimeoutError(f"nothing to click labelled {label!r}") from exc
        element = found.as_element()
        assert element is not None
        element.click(timeout=timeout * 1000)

    def type_and_enter(self, selector: str, text: str, timeout: float = 30.0) -> None:
        """Type into the element as a person would (React sees real input events), then press Enter."""
        field = self.page.locator(selector).first
        field.fill(text, timeout=timeout * 1000)
        field.press("Enter", timeout=timeout * 1000)

    def color_scheme(self, scheme: Literal["light", "dark"]) -> None:
        """Emulate the viewer's system theme; Streamlit follows it by default."""
        self.page.emulate_media(color_scheme=scheme)

    def background_luminance(self) -> float:
        """0 (black) .. 1 (white): the app's background, to check which theme is showing."""
        rgb = str(self.evaluate("getComputedStyle(document.querySelector('[data-testid=\"stApp\"]')).backgroundColor"))
        r, g, b = (int(x) for x in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3])
        return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255

    def problems(self) -> dict[str, Any]:
        found: dict[str, Any] = self.evaluate(PROBLEMS_JS) or {}
        return found

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=path, full_page=True)
        return path
