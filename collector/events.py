"""CloudEvents 1.0 -> rows of the `events` table, validated against the catalogue in syncwatch.vocabulary.

Hot path: one dict per event comes out of orjson, and its fields go straight into per-column lists; no
per-event model objects. Validation works on the raw JSON, before any SDK could fill in a missing id or time.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from collector.rejections import Rejection
from syncwatch.vocabulary import (
    BOOL,
    CATALOGUE,
    CURRENCY,
    DATE,
    DATETIME,
    ENUMS,
    INT,
    NUM,
    STR,
    STR_LIST,
    canonical_type,
)

__all__ = ["EVENT_COLUMNS", "EventColumns", "EventRules", "event_key"]

EVENT_COLUMNS = (
    "received_at", "time", "source", "id", "specversion", "type", "canonical_type", "known_type", "subject",
    "datacontenttype", "dataschema", "tenant_id", "source_system", "target_system", "correlation_id",
    "causation_id", "trace_id", "parent_span_id", "entry_id", "timesheet_id", "invoice_id", "project_code",
    "consultant_id", "assignment_id", "exception_id", "message_id", "opportunity_id", "change_id", "entry_ids",
    "hours", "amount", "currency", "extensions", "data", "token_name",
)  # fmt: skip

_CONTEXT_ATTRIBUTES = frozenset(
    {"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "dataschema", "data", "data_base64"}
)
_EXTENSION_NAME = re.compile(r"^[a-z0-9]{1,20}$")
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
# Which key column an exception's object_type points at, so an exception shows up in that record's timeline.
_OBJECT_KEY = {"time_entry": "entry_id", "entry": "entry_id", "timesheet": "timesheet_id", "invoice": "invoice_id",
               "project": "project_code", "assignment": "assignment_id", "worker": "consultant_id",
               "consultant": "consultant_id", "message": "message_id"}  # fmt: skip
_KEY_FIELDS = ("entry_id", "timesheet_id", "invoice_id", "project_code", "consultant_id", "assignment_id",
               "exception_id", "message_id", "opportunity_id", "change_id")  # fmt: skip


def event_key(source: str, event_id: str) -> int:
    """In-process identity of a CloudEvent for de-duplication (source + id, per the spec)."""
    return hash((source, event_id))


class EventRules:
    """What makes an event acceptable: the catalogue, the alias map and the time window, fixed per app."""

    def __init__(self, aliases: Mapping[str, str], max_future_skew_s: int, max_age_days: int, max_depth: int):
        unknown = sorted(v for v in aliases.values() if v not in CATALOGUE)
        if unknown:
            raise ValueError(f"type_aliases map to types not in the catalogue: {', '.join(unknown)}")
        self.aliases = dict(aliases)
        self.max_future = timedelta(seconds=max_future_skew_s)
        self.max_age = timedelta(days=max_age_days)
        self.max_depth = max_depth


class EventColumns:
    """Accepted events as column lists, ready for a column-oriented insert."""

    __slots__ = ("columns", "keys", "rows")

    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = {name: [] for name in EVENT_COLUMNS}
        self.keys: list[int] = []
        self.rows = 0

    def add(self, event: Mapping[str, Any], rules: EventRules, received_us: int, token: str) -> Rejection | str:
        """Validate one raw event; append it and return its canonical type ('' if unknown), or a Rejection."""
        checked = _check(event, rules, received_us)
        if isinstance(checked, Rejection):
            return checked
        time_us, ctype, data, data_text, extensions = checked
        cols = self.columns
        get = event.get
        cols["received_at"].append(received_us // 1000)
        cols["time"].append(time_us)
        cols["source"].append(event["source"])
        cols["id"].append(event["id"])
        cols["specversion"].append(event["specversion"])
        cols["type"].append(event["type"])
        cols["canonical_type"].append(ctype or event["type"])
        cols["known_type"].append(bool(ctype))
        cols["subject"].append(_text(get("subject")))
        cols["datacontenttype"].append(_text(get("datacontenttype")))
        cols["dataschema"].append(_text(get("dataschema")))
        cols["tenant_id"].append(extensions.pop("tenantid", ""))
        cols["source_system"].append(extensions.pop("sourcesystem", ""))
        cols["target_system"].append(extensions.pop("targetsystem", ""))
        cols["correlation_id"].append(extensions.pop("correlationid", ""))
        cols["causation_id"].append(extensions.pop("causationid", ""))
        traceparent = extensions.pop("traceparent", "")
        cols["trace_id"].append(traceparent[3:35] if traceparent else "")
        cols["parent_span_id"].append(traceparent[36:52] if traceparent else "")
        keys = _keys(data)
        for name in _KEY_FIELDS:
            cols[name].append(keys.get(name, ""))
        entry_ids = data.get("entry_ids") if isinstance(data, dict) else None
        cols["entry_ids"].append([str(e) for e in entry_ids] if isinstance(entry_ids, list) else [])
        cols["hours"].append(_number(data, ("hours", "total_hours", "delta_hours", "planned_hours")))
        cols["amount"].append(_number(data, ("amount",)))
        currency = data.get("currency") if isinstance(data, dict) else None
        cols["currency"].append(currency if isinstance(currency, str) else "")
        cols["extensions"].append(extensions)
        cols["data"].append(data_text)
        cols["token_name"].append(token)
        self.keys.append(event_key(event["source"], event["id"]))
        self.rows += 1
        return ctype or ""


def _check(
    event: Mapping[str, Any], rules: EventRules, received_us: int
) -> Rejection | tuple[int, str | None, Any, str, dict[str, str]]:
    if not isinstance(event, dict):
        return Rejection("not_an_object", "", f"an event must be a JSON object, got {type(event).__name__}")
    for name in ("specversion", "id", "source", "type"):
        value = event.get(name)
        if value is None:
            return Rejection("missing_attribute", name, "required context attribute is missing")
        if not isinstance(value, str) or not value:
            return Rejection("invalid_attribute", name, "must be a non-empty string")
    if event["specversion"] != "1.0":
        return Rejection("invalid_attribute", "specversion", f"must be '1.0', got {event['specversion']!r}")
    for name in ("subject", "datacontenttype", "dataschema"):
        value = event.get(name)
        if value is not None and not isinstance(value, str):
            return Rejection("invalid_attribute", name, "must be a string")
    raw_time = event.get("time")
    if raw_time is None:
        return Rejection("missing_attribute", "time", "required: when it happened in business terms (RFC 3339)")
    time_us = _parse_time(raw_time)
    if isinstance(time_us, Rejection):
        return time_us
    received = _EPOCH + received_us * _MICRO
    happened = _EPOCH + time_us * _MICRO
    if happened > received + rules.max_future:
        return Rejection("time_out_of_range", "time", f"{raw_time} is in the future (more than the allowed clock skew)")
    if happened < received - rules.max_age:
        return Rejection("time_out_of_range", "time", f"{raw_time} is older than {rules.max_age.days} days")

    extensions: dict[str, str] = {}
    for name, value in event.items():
        if name in _CONTEXT_ATTRIBUTES:
            continue
        if not _EXTENSION_NAME.match(name):
            return Rejection("invalid_extension", name, "extension names are 1-20 characters of a-z and 0-9")
        if isinstance(value, bool) or not isinstance(value, str | int):
            return Rejection("invalid_extension", name, "extension values must be strings or integers")
        extensions[name] = str(value)
    traceparent = extensions.get("traceparent")
    if traceparent is not None and not _TRACEPARENT.match(traceparent):
        return Rejection("invalid_extension", "traceparent", "must be W3C trace context: 00-<32 hex>-<16 hex>-<2 hex>")

    data, data_text = _data(event, rules.max_depth)
    if isinstance(data, Rejection):
        return data
    ctype = canonical_type(event["type"], rules.aliases)
    if ctype is not None:
        problem = _check_data(ctype, data)
        if problem is not None:
            return problem
    return time_us, ctype, data, data_text, extensions


def _data(event: Mapping[str, Any], max_depth: int) -> tuple[Any, str]:
    if "data" in event and "data_base64" in event:
        return Rejection("invalid_attribute", "data_base64", "an event carries data or data_base64, not both"), ""
    if "data_base64" in event:
        try:
            raw = base64.b64decode(event["data_base64"], validate=True)
        except (binascii.Error, TypeError, ValueError):
            return Rejection("invalid_attribute", "data_base64", "is not valid base64"), ""
        content_type = str(event.get("datacontenttype") or "")
        if "json" not in content_type:
            return None, raw.decode("utf-8", "replace")
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return Rejection("invalid_data", "data_base64", f"datacontenttype says JSON but it is not: {exc}"), ""
    else:
        data = event.get("data")
    if _depth(data, max_depth) > max_depth:
        return Rejection("too_deep", "data", f"nested deeper than {max_depth} levels"), ""
    return data, "" if data is None else orjson.dumps(data).decode()


def _check_data(ctype: str, data: Any) -> Rejection | None:
    if not isinstance(data, dict):
        return Rejection("invalid_data", "data", f"{ctype} needs a JSON object with its business fields")
    for name, kind in CATALOGUE[ctype].items():
        value = data.get(name)
        if value is None:
            return Rejection("missing_field", f"data.{name}", f"required for {ctype}")
        problem = _kind_problem(kind, value)
        if problem:
            return Rejection("invalid_field", f"data.{name}", problem)
        allowed = ENUMS.get(name)
        if allowed is not None and value not in allowed:
            return Rejection("invalid_field", f"data.{name}", f"must be one of {', '.join(sorted(allowed))}")
    return None


def _kind_problem(kind: str, value: Any) -> str:
    if kind == STR:
        return "" if isinstance(value, str) and value else "must be a non-empty string"
    if kind == NUM:
        return "" if isinstance(value, int | float) and not isinstance(value, bool) else "must be a number"
    if kind == INT:
        return "" if isinstance(value, int) and not isinstance(value, bool) else "must be an integer"
    if kind == BOOL:
        return "" if isinstance(value, bool) else "must be true or false"
    if kind == CURRENCY:
        ok = isinstance(value, str) and len(value) == 3 and value.isascii() and value.isupper() and value.isalpha()
        return "" if ok else "must be an ISO 4217 code such as USD"
    if kind == STR_LIST:
        ok = isinstance(value, list) and all(isinstance(v, str) and v for v in value)
        return "" if ok else "must be a list of non-empty strings"
    if kind == DATE:
        try:
            date.fromisoformat(value)
            return "" if len(value) == 10 else "must be a date YYYY-MM-DD"
        except (TypeError, ValueError):
            return "must be a date YYYY-MM-DD"
    if kind == DATETIME:
        return "" if isinstance(_parse_time(value), int) else "must be an RFC 3339 timestamp with an offset"
    raise AssertionError(f"unknown field kind {kind}")


def _parse_time(value: Any) -> int | Rejection:
    if not isinstance(value, str):
        return Rejection("invalid_time", "time", "must be an RFC 3339 string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return Rejection("invalid_time", "time", f"{value[:64]!r} is not an RFC 3339 timestamp")
    if parsed.tzinfo is None:
        return Rejection("invalid_time", "time", "must carry a UTC offset such as Z or +01:00")
    return (parsed - _EPOCH) // _MICRO


def _depth(value: Any, limit: int, level: int = 0) -> int:
    if level > limit:
        return level
    if isinstance(value, dict):
        return max(
            (_depth(v, limit, level + 1) for v in value.values() if isinstance(v, dict | list)), default=level + 1
        )
    if isinstance(value, list):
        return max((_depth(v, limit, level + 1) for v in value if isinstance(v, dict | list)), default=level + 1)
    return level


def _keys(data: Any) -> dict[str, str]:
    if not isinstance(data, dict):
        return {}
    keys = {name: str(data[name]) for name in _KEY_FIELDS if name in data and data[name] is not None}
    target = _OBJECT_KEY.get(str(data.get("object_type", "")))
    if target and target not in keys and data.get("object_id"):
        keys[target] = str(data["object_id"])
    return keys


def _number(data: Any, names: tuple[str, ...]) -> float | None:
    if not isinstance(data, dict):
        return None
    for name in names:
        value = data.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
