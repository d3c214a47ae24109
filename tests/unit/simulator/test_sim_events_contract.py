"""Every emitted event satisfies the catalogue and the envelope contract, and its traceparent names a span."""

from __future__ import annotations

import re
from datetime import date, datetime

from sim_unit_support import run_sim

from syncwatch.vocabulary import CATALOGUE, EXTENSIONS, canonical_type

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-01$")
_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _kind_ok(kind: str, value: object) -> bool:
    if kind == "string":
        return isinstance(value, str) and value != ""
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "date":
        return isinstance(value, str) and len(value) == 10 and date.fromisoformat(value) is not None
    if kind == "datetime":
        return isinstance(value, str) and datetime.fromisoformat(value).tzinfo is not None
    if kind == "currency":
        return isinstance(value, str) and re.fullmatch(r"[A-Z]{3}", value) is not None
    if kind == "string[]":
        return isinstance(value, list) and all(isinstance(v, str) and v for v in value)
    raise AssertionError(kind)


def test_every_event_matches_the_catalogue() -> None:
    sim, sink = run_sim(150, 35, seed=5, faults={"erp_outage": (20, 21), "duplicate_submissions": (10, 30)})
    spans = {(s[0], s[1]) for s in sink.spans}
    seen_types = set()
    ids = set()
    for ev in sink.events:
        assert ev["specversion"] == "1.0"
        assert (ev["source"], ev["id"]) not in ids
        ids.add((ev["source"], ev["id"]))
        canonical = canonical_type(ev["type"])
        assert canonical is not None, ev["type"]
        seen_types.add(canonical)
        assert _TIME.match(ev["time"]), ev["time"]
        assert ev["subject"]
        for ext in ("correlationid", "traceparent", "tenantid", "sourcesystem", "targetsystem"):
            assert ext in EXTENSIONS and ev[ext], ext
        assert ev["sourcesystem"] in {"psa", "erp", "crm", "hcm", "middleware"}
        m = _TRACEPARENT.match(ev["traceparent"])
        assert m, ev["traceparent"]
        assert (int(m[1], 16), int(m[2], 16)) in spans
        for field, kind in CATALOGUE[canonical].items():
            assert field in ev["data"], (canonical, field)
            assert _kind_ok(kind, ev["data"][field]), (canonical, field, ev["data"][field])
    # The run covers nearly the whole catalogue.
    missing = set(CATALOGUE) - seen_types
    assert missing <= {"project.updated", "project.closed", "timesheet.recalled"}, missing


def test_causation_links_hops() -> None:
    _, sink = run_sim(80, 21, seed=2)
    by_id = {e["id"]: e for e in sink.events}
    posted = [e for e in sink.events if e["type"].endswith("time_entry.posted")]
    assert posted
    for ev in posted[:200]:
        cause = by_id[ev["causationid"]]
        assert cause["type"] == "time_entry.post_requested"
        assert cause["data"]["entry_id"] == ev["data"]["entry_id"]
        assert cause["correlationid"] == ev["correlationid"]
        assert cause["traceparent"][3:35] == ev["traceparent"][3:35]  # same trace, child span
