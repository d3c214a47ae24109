"""Request body -> rows ready for the warehouse: the per-item Python work of ingest, in one picklable function
per signal, so large bodies run in a worker process (the second core) while the event loop keeps serving.

Nothing here touches the warehouse or shared state: de-duplication and writing stay in the server process.
Each accepted row leaves as its JSON text (JSONEachRow), with the identity used to de-duplicate it.
"""

from __future__ import annotations

import functools
import gc
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

import orjson

from collector.events import EventRows, EventRules
from collector.rejections import Rejection
from collector.traces import SpanRows, TraceDecodeError

__all__ = ["ParsedEvents", "ParsedSpans", "exit_with_parent", "parse_events", "parse_spans"]


@dataclass
class ParsedEvents:
    total: int = 0
    rows: list[bytes] = field(default_factory=list)
    identities: list[tuple[str, str]] = field(default_factory=list)  # (source, id) of each row
    accepted_index: list[int] = field(default_factory=list)  # input position of each row
    unknown_index: list[int] = field(default_factory=list)  # input positions stored with an unknown type
    rejected: list[tuple[int, Rejection, bytes]] = field(default_factory=list)  # position, why, raw event
    ids: list[Any] = field(default_factory=list)  # the `id` attribute of every input event, for the answer
    body_error: Rejection | None = None  # the body as a whole is unusable


@dataclass
class ParsedSpans:
    rows: list[bytes] = field(default_factory=list)
    identities: list[tuple[str, str]] = field(default_factory=list)  # (trace id, span id) of each row
    rejected: list[tuple[Rejection, bytes]] = field(default_factory=list)
    body_error: str | None = None
    near_misses: dict[tuple[str, str], int] = field(default_factory=dict)  # (attribute, service) -> spans


P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Parsing builds tens of thousands of small acyclic dicts; the cyclic collector would scan them over and over
    for nothing (measured: ~15% of parse time). Reference counting still frees everything."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _without_gc(fn: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with _no_cyclic_gc():
            return fn(*args, **kwargs)

    return wrapper


@_without_gc
def parse_events(
    body: bytes | None, batch: bool, event: dict[str, Any] | None, rules: EventRules, received_us: int, token: str
) -> ParsedEvents:
    """`body` holds one structured event or a batch; `event` is a binary-mode event already built from headers."""
    out = ParsedEvents()
    if event is not None:
        events: list[Any] = [event]
    else:
        assert body is not None
        try:
            decoded = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            out.body_error = _undecodable(body, exc)
            return out
        if not batch:
            events = [decoded]
        elif type(decoded) is list:
            events = decoded
        else:
            out.body_error = Rejection("not_a_list", "", "a batch body must be a JSON array of events")
            return out
    rows = EventRows(rules, received_us, token)
    dumps = orjson.dumps
    out.total = len(events)
    for index, raw in enumerate(events):
        out.ids.append(raw.get("id") if type(raw) is dict else None)
        outcome = rows.add(raw)
        if type(outcome) is Rejection:
            out.rejected.append((index, outcome, _dump(raw)))
            continue
        out.accepted_index.append(index)
        if outcome == "":
            out.unknown_index.append(index)
    out.rows = [dumps(row) for row in rows.rows]
    out.identities = rows.identities
    return out


@_without_gc
def parse_spans(body: bytes, is_json: bool, window: tuple[int, int]) -> ParsedSpans:
    out = ParsedSpans()
    spans = SpanRows()
    try:
        if is_json:
            spans.add_json(body, window)
        else:
            spans.add_protobuf(body, window)
    except TraceDecodeError as exc:
        out.body_error = str(exc)
        return out
    out.rows = [orjson.dumps(row) for row in spans.rows]
    out.identities = spans.identities
    out.rejected = [(rejection, _dump(payload)) for rejection, payload in spans.rejections]
    out.near_misses = spans.near_misses
    return out


def exit_with_parent(parent_pid: int, poll_s: float = 1.0) -> None:
    """Worker initializer: leave when the server process is gone. A killed server (kill -9, or a shutdown that
    does not wait for its pool) would otherwise leave its workers blocked on the task queue for ever, holding the
    server's stdout open, so a shell pipeline or supervisor waiting on that output never finishes.

    Ctrl-C reaches the whole foreground process group; the server shuts its pool down, so a worker ignores SIGINT
    rather than dying mid-task with a KeyboardInterrupt traceback in the collector's log."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(poll_s)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _undecodable(body: bytes, exc: orjson.JSONDecodeError) -> Rejection:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as bad:
        return Rejection("invalid_utf8", "", f"body is not valid UTF-8 at byte {bad.start}")
    text = str(exc)
    if "depth" in text.lower() or "recursion" in text.lower():
        return Rejection("too_deep", "", f"body nests too deeply: {text}")
    return Rejection("invalid_json", "", f"body is not valid JSON: {text}")


def _dump(payload: Any) -> bytes:
    try:
        return orjson.dumps(payload)
    except TypeError:
        return repr(payload).encode()
