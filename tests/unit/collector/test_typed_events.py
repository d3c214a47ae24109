"""The typed (msgspec) fast path changes nothing: whatever it accepts, the precise checks accept with the same
result, and whole bodies give byte-identical rows, results and rejections with or without it."""

from __future__ import annotations

import importlib.util
import json
import pickle
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as note
from hypothesis import strategies as st

from collector import events
from collector.events import EventRows, EventRules
from collector.parsing import ParsedEvents, parse_events
from syncwatch.vocabulary import BOOL, CATALOGUE, CURRENCY, DATE, DATETIME, ENUMS, EXTENSIONS, INT, NUM, STR, STR_LIST
from tests.factories import event as factory_event
from tests.factories import valid_data

RULES = EventRules({"TimeCardPosted": "time_entry.posted"}, max_future_skew_s=300, max_age_days=3650, max_depth=6)
NOW_US = time.time_ns() // 1000
NOW = datetime.fromtimestamp(NOW_US / 1e6, UTC)


def event(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """Events stamped 5 minutes before NOW, the receive time every check here uses: the factory's default is the
    wall clock at the call, and in a full suite a test can run long after this module was imported (an event then
    looks more than 300 s ahead of NOW and takes the precise path)."""
    kwargs.setdefault("when", NOW - timedelta(minutes=5))
    return factory_event(*args, **kwargs)


# Values on the edges where msgspec's parsers and the precise checks could disagree, per field kind.
EDGES: dict[str, list[Any]] = {
    STR: ["", " ", None, 1, ["X"]],
    NUM: [True, "7.5", None, 0, -1.5, 2**63, 2**64, 1e300],
    INT: [1.0, True, "1", 2**63, -(2**63)],
    BOOL: [0, 1, "true", None],
    CURRENCY: ["USD\n", "usd", "US", "USDX", "ÄBC", "ＵＳＤ", 840],
    STR_LIST: [[], ["E-1", ""], [1], ["E-1", None], "E-1", None],
    DATE: ["2026-02-29", "2024-02-29", "0000-01-01", "0001-01-01", "2026-W47-1", "20261120", "2026-11-20\n", "2026-1"],
    DATETIME: [
        "2026-11-20T09:00:00z", "2026-11-20t09:00:00Z", "2026-11-20 09:00:00Z", "2026-11-20T09:00Z",
        "2026-11-20T09:00:00+01", "2026-11-20T09:00:00,5Z", "2026-11-20T09:00:00.1234567Z", "2026-11-20T09:00:00",
        "2026-11-20T23:59:60Z", "2026-11-20",
    ],
    "enum": ["promotion", "Hire", "hire\n", "HARD", ""],
}  # fmt: skip
TRICKY = [value for edges in EDGES.values() for value in edges]
TRACEPARENTS = [
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\n",
    "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01",
    "",
]
TYPES = [*sorted(CATALOGUE), "com.kantata.psa.time_entry.posted.v1", "TimeCardPosted", "x.y.z", "time_entry"]

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)
values = st.sampled_from(TRICKY) | json_values


@st.composite
def times(draw: st.DrawFn) -> str:
    """Event times near the edges of the accepted window, in the spellings clients use."""
    offset = draw(
        st.sampled_from([timedelta(minutes=-5), timedelta(seconds=299), timedelta(seconds=301), timedelta(days=-3651)])
        | st.timedeltas(timedelta(days=-4000), timedelta(days=1))
    )
    text = (NOW + offset).isoformat()
    return draw(st.sampled_from([text, text.replace("+00:00", "Z"), text.replace("+00:00", "z"), text[:19]]))


@st.composite
def raw_events(draw: st.DrawFn) -> Any:
    """A well-formed event of some type with none, one or a few things changed: one tricky value at a time is
    what finds a field where the typed path is more lenient than the precise checks."""
    base = event(draw(st.sampled_from(TYPES)), when=NOW - timedelta(minutes=5))
    if base["type"] in TYPES[-4:-2]:
        base["data"] = valid_data(RULES.canonical(base["type"]) or "")
    for name in draw(st.lists(st.sampled_from(EXTENSIONS), max_size=3)):
        base[name] = draw(st.sampled_from(TRACEPARENTS)) if name == "traceparent" else f"{name}-1"
    data = base.get("data")
    for change in draw(st.lists(st.sampled_from(CHANGES), max_size=3)):
        if change == "time":
            base["time"] = draw(times())
        elif change == "attribute":
            name = draw(st.sampled_from(["specversion", "id", "source", "type", "time", "subject", "dataschema"]))
            if draw(st.booleans()):
                base.pop(name, None)
            else:
                base[name] = draw(values)
        elif change == "extension":
            name = draw(st.sampled_from([*EXTENSIONS, "region", "Bad", "x" * 21, "data_base64", "datacontenttype"]))
            base[name] = draw(st.sampled_from(TRACEPARENTS) | values)
        elif change == "data" and isinstance(data, dict):
            key = draw(st.sampled_from([*sorted(data), "extra", "timesheet_id", "object_type"]))
            if draw(st.integers(0, 4)) == 0:
                data.pop(key, None)
            else:
                data[key] = draw(values)
        elif change == "data":
            base["data"] = draw(values)
    return base


CHANGES = ["time", "attribute", "extension", "data", "data", "data"]


def _edges(name: str, kind: str) -> list[Any]:
    return EDGES["enum"] + EDGES[STR] if name in ENUMS else EDGES[kind]


def outcome(raw: Any, *, typed: bool = True) -> tuple[Any, str]:
    """What EventRows.add answers for one event, and its row as ordered JSON text."""
    rows = EventRows(RULES, NOW_US, "tok")
    with mock.patch.object(events, "_typed_check", events._typed_check if typed else lambda *_: None):
        answer = rows.add(raw)
    return answer, json.dumps(rows.rows)


def parse(body: bytes, batch: bool = True, *, typed: bool = True, received_us: int = NOW_US) -> ParsedEvents:
    if typed:
        return parse_events(body, batch, None, RULES, received_us, "tok")
    with mock.patch.object(events, "_typed_check", return_value=None):
        return parse_events(body, batch, None, RULES, received_us, "tok")


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_events())
def test_one_event_gets_the_same_answer_and_row_either_way(raw: Any) -> None:
    note("typed path" if events._typed_check(raw, RULES, NOW_US) is not None else "precise path")
    assert outcome(raw) == outcome(raw, typed=False)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(raw_events(), max_size=8))
def test_bodies_give_the_same_rows_results_and_rejections_either_way(batch: list[Any]) -> None:
    body = json.dumps(batch).encode()  # stdlib: it also writes integers past 64 bits, which a client may send
    assert parse(body) == parse(body, typed=False)


@pytest.mark.parametrize("name", TYPES[:-2])
def test_the_typed_path_takes_every_well_formed_known_event(name: str) -> None:
    ctype = RULES.canonical(name)
    assert ctype is not None
    raw = event(name, data=valid_data(ctype), traceparent=TRACEPARENTS[0], correlationid="c-1", tenantid="t-1")
    assert events._typed_check(raw, RULES, NOW_US) is not None


def test_the_typed_path_leaves_unknown_types_and_bad_events_to_the_precise_checks() -> None:
    assert events._typed_check(event("x.y.z"), RULES, NOW_US) is None
    assert events._typed_check(event(data={"entry_id": "E-1"}), RULES, NOW_US) is None
    assert events._typed_check(event(region="emea"), RULES, NOW_US) is None  # a valid extension it does not name


def test_every_edge_value_of_every_field_gets_the_precise_answer() -> None:
    """One edge at a time, every field of every type, every envelope attribute: deterministic, unlike the above."""
    cases: list[dict[str, Any]] = []
    for ctype, fields in CATALOGUE.items():
        for name, kind in fields.items():
            for value in _edges(name, kind):
                raw = event(ctype)
                raw["data"][name] = value
                cases.append(raw)
    for name in ("specversion", "id", "source", "type", "subject", "datacontenttype", "dataschema"):
        cases += [event(**{name: value}) for value in [*EDGES[STR], "1.0", 1.0]]
    for text in [*EDGES[DATETIME], (NOW + timedelta(seconds=301)).isoformat(), "1970-01-01T00:00:00Z"]:
        cases.append(event(time=text))
    for name in (*EXTENSIONS, "region", "Bad", "x" * 21, "data_base64"):
        cases += [event(**{name: value}) for value in [*TRACEPARENTS, *EDGES[STR], 7, True]]
    typed = 0
    for raw in cases:
        typed += events._typed_check(raw, RULES, NOW_US) is not None
        assert outcome(raw) == outcome(raw, typed=False), raw
    assert typed  # some edges are fine (0 hours, 2024-02-29): the typed path must have taken them


def test_type_names_are_remembered_per_process_not_shipped_with_each_body() -> None:
    rules = EventRules({"TimeCardPosted": "time_entry.posted"}, 300, 3650, 6)
    for n in range(100):
        rules.canonical(f"com.acme.psa.time_entry.posted.v{n}")
    shipped = pickle.loads(pickle.dumps(rules))
    assert len(pickle.dumps(rules)) == len(
        pickle.dumps(EventRules({"TimeCardPosted": "time_entry.posted"}, 300, 3650, 6))
    )
    assert shipped.canonical("TimeCardPosted") == "time_entry.posted"
    assert shipped.canonical("x.y.z") is None and shipped.max_depth == 6


def _bench_bodies() -> list[bytes]:
    path = Path(__file__).resolve().parents[3] / "bench" / "ingest.py"
    spec = importlib.util.spec_from_file_location("bench_ingest", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    bodies: list[bytes] = module.event_batches(3000, 1000)
    return bodies


def test_the_benchmark_bodies_give_byte_identical_rows() -> None:
    bodies = _bench_bodies()
    received = time.time_ns() // 1000  # the bodies are stamped up to the wall clock at their making
    for body in bodies:
        fast, precise = parse(body, received_us=received), parse(body, typed=False, received_us=received)
        assert fast == precise
        assert len(fast.rows) == 1000
