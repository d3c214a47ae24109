"""What every page shares: the API client, cached fetches, messages for failed calls, shareable query parameters.

Pages get the signed-in viewer's client (`api()`, see dashboard/access.py). The console's own client (`service()`)
comes from `st.session_state["syncwatch_api"]` when something put one there (tests inject a client on an
httpx.MockTransport), else it is built once per process from Settings (SYNCWATCH_DASHBOARD_* variables).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import streamlit as st

from dashboard.access import current
from dashboard.api import ApiClient, Failed, Ok, Outcome, Request, Unavailable
from dashboard.format import esc
from syncwatch.settings import Settings

__all__ = [
    "CACHE_SECONDS",
    "WINDOWS",
    "answer_cache",
    "api",
    "data",
    "fetch",
    "finding",
    "now",
    "param",
    "refresh_seconds",
    "service",
    "set_params",
    "settings",
    "show_problem",
    "window_start",
]

CACHE_SECONDS = 10
SESSION_KEY = "syncwatch_api"
# Selectable windows: label -> length. Shareable as ?window=<label>.
WINDOWS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
}
T = TypeVar("T", bound=str)


@st.cache_resource(show_spinner=False)
def settings() -> Settings:
    return Settings()


@st.cache_resource(show_spinner=False)
def _client_from_settings() -> ApiClient:
    return ApiClient.from_settings(settings())


def service() -> ApiClient:
    """The console's own client: what sign-in checks tokens with, and what local mode and single sign-on read with."""
    injected = st.session_state.get(SESSION_KEY)
    if isinstance(injected, ApiClient):
        return injected
    return _client_from_settings()


def api() -> ApiClient:
    """The signed-in viewer's client; without a viewer the page stops here, before any data is asked for."""
    return current().client


def refresh_seconds() -> int:
    return settings().dashboard_refresh_seconds


def now() -> datetime:
    return datetime.now(UTC)


def window_start(label: str, end: datetime) -> datetime:
    """Start of a window, rounded down to the minute so repeated renders share one cached answer."""
    start = end - WINDOWS.get(label, WINDOWS["24h"])
    return start.replace(second=0, microsecond=0)


class _AnswerCache:
    """Answers per (collector and token, request) for CACHE_SECONDS, shared by every session of this process.

    Not st.cache_data: that pickles every answer in and out on each hit, which for a 50,000-row breakdown costs
    more than asking again. Pages never mutate answers (they sort into new lists, build new frames). Failures
    are not kept, so the next render retries."""

    def __init__(self, ttl: float, max_entries: int = 512):
        self.ttl, self.max_entries = ttl, max_entries
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, Request], tuple[float, Outcome]] = {}

    def get_many(self, client: ApiClient, requests: Sequence[Request]) -> list[Outcome]:
        now_s = time.monotonic()
        found: dict[Request, Outcome] = {}
        with self._lock:
            for r in requests:
                entry = self._entries.get((client.identity, r))
                if entry is not None and now_s - entry[0] < self.ttl:
                    found[r] = entry[1]
        missing = [r for r in dict.fromkeys(requests) if r not in found]
        if missing:
            answers = client.get_many(missing)
            found.update(answers)
            with self._lock:
                for r, outcome in answers.items():
                    if not isinstance(outcome, Failed):
                        self._entries[(client.identity, r)] = (now_s, outcome)
                if len(self._entries) > self.max_entries:
                    for key, _ in sorted(self._entries.items(), key=lambda kv: kv[1][0])[: len(self._entries) // 2]:
                        del self._entries[key]
        return [found[r] for r in requests]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


@st.cache_resource(show_spinner=False)
def answer_cache() -> _AnswerCache:
    return _AnswerCache(CACHE_SECONDS)


def fetch(requests: Sequence[Request]) -> list[Outcome]:
    """The answers to several GETs, fetched in parallel, cached for CACHE_SECONDS unless one of them failed."""
    return answer_cache().get_many(api(), requests)


def show_problem(outcome: Outcome, what: str, empty_hint: str = "") -> None:
    """Turn a failed or missing answer into a message; collector down is a message, never a traceback."""
    # the message may carry the collector's words and thereby the URL's or an event's: text, never Markdown
    if isinstance(outcome, Unavailable):
        st.info(f"**{what}: not available yet.** {esc(outcome.message)}. {empty_hint}".strip(), icon=":material/info:")
    elif isinstance(outcome, Failed):
        own_token = current().method != "token"
        advice = {
            "unreachable": "Is `syncwatch serve` running, and does SYNCWATCH_DASHBOARD_API_URL point at it?",
            "unauthorized": "Set SYNCWATCH_DASHBOARD_TOKEN (or _TOKEN_FILE) to a valid read-scope token."
            if own_token
            else "Sign out and sign in with a valid token.",
            "forbidden": "The token needs the read scope (admin for changes).",
            "throttled": "The page retries on the next refresh.",
        }.get(outcome.kind, "")
        st.error(f"**{what}: {esc(outcome.message)}.** {advice}", icon=":material/error:")


def finding(level: str, text: str) -> None:
    """A statement about the integrations (a breached SLI, a failed record), in colour. `text` is Markdown: values
    from the API inside it go through dashboard.format.esc.

    st.error is kept for the console failing to get data, so "the tool is broken" never looks like "the
    integration is broken" (and the browser test can fail on any st.error)."""
    colour, icon = {"bad": ("red", "report"), "warn": ("orange", "warning"), "good": ("green", "check_circle")}[level]
    with st.container(border=True):
        st.markdown(f":{colour}[:material/{icon}: {text}]")


def data(outcome: Outcome) -> Any:
    return outcome.data if isinstance(outcome, Ok) else None


def param(name: str, default: T, allowed: Iterable[str] | None = None) -> T | str:
    """A query parameter, or the default when absent or not one of `allowed` (URLs are user input)."""
    value = st.query_params.get(name)
    if value is None or value == "":
        return default
    if allowed is not None and value not in set(allowed):
        return default
    return value


def set_params(**values: str | None) -> None:
    """Write filters into the URL so the page can be shared as it is seen; None or '' removes a parameter."""
    for name, value in values.items():
        if value is None or value == "":
            if name in st.query_params:
                del st.query_params[name]
        elif st.query_params.get(name) != value:
            st.query_params[name] = value
