"""Each way an event can be wrong gets its own reason and names the field; good events fill the columns."""

from __future__ import annotations

import base64
import time
from typing import Any

import orjson
import pytest

from collector.events import EventRows, EventRules
from collector.rejections import Rejection
from collector.storable import parse_time, time_column
from syncwatch.vocabulary import CATALOGUE
from tests.factories import event, valid_data

RULES = EventRules({"TimeCardPosted": "time_entry.posted"}, max_future_skew_s=300, max_age_days=3650, max_depth=8)


def add(raw: Any) -> tuple[EventRows, Rejection | str]:
    rows = EventRows(RULES, time.time_ns() // 1000, "tok")
    return rows, rows.add(raw)


@pytest.mark.parametrize("ctype", sorted(CATALOGUE))
def test_every_canonical_type_accepts_its_required_fields(ctype: str) -> None:
    rows, outcome = add(event(ctype))
    assert outcome == ctype
    assert len(rows.rows) == 1


def test_columns_carry_keys_money_and_trace_context() -> None:
    raw = event(
        "com.acme.psa.time_entry.post_failed.v1",
        data=valid_data("time_entry.post_failed", entry_id="E-9", project_code="P-7", hours=6, amount=900.25),
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        correlationid="corr-1",
        causationid="cause-1",
        tenantid="acme-uk",
        sourcesystem="psa",
        targetsystem="erp",
        region="emea",
    )
    rows, outcome = add(raw)
    assert outcome == "time_entry.post_failed"
    c = rows.rows[0]
    assert c["canonical_type"] == "time_entry.post_failed" and c["type"] == raw["type"] and c["known_type"]
    assert c["entry_id"] == "E-9" and c["project_code"] == "P-7" and c["hours"] == 6.0 and c["amount"] == 900.25
    assert c["trace_id"] == "0af7651916cd43dd8448eb211c80319c" and c["parent_span_id"] == "b7ad6b7169203331"
    assert (c["correlation_id"], c["causation_id"], c["tenant_id"]) == ("corr-1", "cause-1", "acme-uk")
    assert (c["source_system"], c["target_system"]) == ("psa", "erp")
    assert c["extensions"] == {"region": "emea"}
    assert c["data"]["entry_id"] == "E-9" and c["time"] == time_column(parse_time(raw["time"]))  # type: ignore[arg-type]


def test_alias_and_exception_object_links() -> None:
    rows, outcome = add(event("TimeCardPosted", data=valid_data("time_entry.posted")))
    assert outcome == "time_entry.posted"
    rows, _ = add(
        event("exception.opened", data=valid_data("exception.opened", object_type="time_entry", object_id="E-5"))
    )
    assert rows.rows[0]["entry_id"] == "E-5"


def test_unknown_types_are_stored_and_flagged() -> None:
    rows, outcome = add(event("com.acme.crm.lead.scored", data={"anything": 1}))
    assert outcome == ""
    assert rows.rows[0]["known_type"] is False


@pytest.mark.parametrize(
    ("mutate", "reason", "field"),
    [
        (lambda e: e.pop("id"), "missing_attribute", "id"),
        (lambda e: e.pop("source"), "missing_attribute", "source"),
        (lambda e: e.pop("type"), "missing_attribute", "type"),
        (lambda e: e.pop("specversion"), "missing_attribute", "specversion"),
        (lambda e: e.update(specversion="0.3"), "invalid_attribute", "specversion"),
        (lambda e: e.update(id=""), "invalid_attribute", "id"),
        (lambda e: e.update(source=5), "invalid_attribute", "source"),
        (lambda e: e.pop("time"), "missing_attribute", "time"),
        (lambda e: e.update(time="yesterday"), "invalid_time", "time"),
        (lambda e: e.update(time="2026-11-20T10:00:00"), "invalid_time", "time"),
        (lambda e: e.update(time="1970-01-01T00:00:00Z"), "time_out_of_range", "time"),
        (lambda e: e.update(time="2999-01-01T00:00:00Z"), "time_out_of_range", "time"),
        (lambda e: e.update(BadName="x"), "invalid_extension", "BadName"),
        (lambda e: e.update(waytoolongextensionname="x"), "invalid_extension", "waytoolongextensionname"),
        (lambda e: e.update(traceparent="nope"), "invalid_extension", "traceparent"),
        (lambda e: e.update(region={"nested": 1}), "invalid_extension", "region"),
        (lambda e: e["data"].pop("hours"), "missing_field", "data.hours"),
        (lambda e: e["data"].update(hours="7.5"), "invalid_field", "data.hours"),
        (lambda e: e["data"].update(attempt=1.5), "invalid_field", "data.attempt"),
        (lambda e: e["data"].update(currency="usd"), "invalid_field", "data.currency"),
        (lambda e: e["data"].update(work_date="20/11/2026"), "invalid_field", "data.work_date"),
        (lambda e: e["data"].update(entry_id=""), "invalid_field", "data.entry_id"),
        (lambda e: e.update(data=[1, 2]), "invalid_data", "data"),
        (lambda e: e.update(data_base64="!!!"), "invalid_attribute", "data_base64"),
        (
            lambda e: e["data"].update(extra={"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": 1}}}}}}}}}),
            "too_deep",
            "data",
        ),
    ],
)
def test_rejections_name_the_field_and_the_reason(mutate: Any, reason: str, field: str) -> None:
    raw = event("time_entry.posted")
    mutate(raw)
    rows, outcome = add(raw)
    assert isinstance(outcome, Rejection), outcome
    assert (outcome.reason, outcome.field) == (reason, field)
    assert outcome.detail
    assert rows.rows == [] and rows.identities == []


def test_enum_fields_are_checked() -> None:
    raw = event("worker.changed", data=valid_data("worker.changed", change_type="promotion"))
    _, outcome = add(raw)
    assert isinstance(outcome, Rejection) and outcome.field == "data.change_type"


def test_data_base64_with_json_content_is_validated() -> None:
    data = valid_data("worker.synced")
    raw = event("worker.synced", data=None)
    raw.pop("data")
    raw.update(datacontenttype="application/json", data_base64=base64.b64encode(orjson.dumps(data)).decode())
    rows, outcome = add(raw)
    assert outcome == "worker.synced"
    assert rows.rows[0]["change_id"] == data["change_id"]


def test_non_object_event() -> None:
    _, outcome = add(["not", "an", "event"])
    assert isinstance(outcome, Rejection) and outcome.reason == "not_an_object"


def test_aliases_must_point_into_the_catalogue() -> None:
    with pytest.raises(ValueError, match="not in the catalogue"):
        EventRules({"X": "nothing.here"}, 1, 1, 1)
