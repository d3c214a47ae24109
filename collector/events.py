"""CloudEvents 1.0 -> rows of the `events` table, validated against the catalogue in syncwatch.vocabulary.

Hot path: one dict per event comes out of orjson and one row dict goes to the writer; the engine parses the rows
(JSONEachRow), so no per-value serialisation happens in Python. Validation works on the raw JSON, before any SDK
could fill in a missing id or time: a well-formed event of a known type is validated in C against its type's
msgspec Struct (collector.typed_events); any event that path does not accept goes through the precise checks
here, which decide and name the field. Both paths end in the same row building.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import orjson

from collector.rejections import Rejection
from collector.storable import (
    DATE_MAX,
    DATE_MIN,
    TIME_MAX_US,
    TIME_MIN_US,
    amount_problem,
    date_problem,
    parse_time,
    time_column,
)
from collector.typed_events import TRACEPARENT, conforms, date_fields, datetime_fields
from syncwatch.vocabulary import (
    BOOL,
    CATALOGUE,
    CURRENCY,
    DATE,
    DATETIME,
    ENUMS,
    EXTENSIONS,
    INT,
    NUM,
    STR,
    STR_LIST,
    canonical_type,
)

__all__ = ["EventRows", "EventRules"]

_OPTIONAL_ATTRIBUTES = ("subject", "datacontenttype", "dataschema")
# extension attribute -> column; traceparent is split into trace_id and parent_span_id
_EXTENSION_COLUMNS = (
    ("tenantid", "tenant_id"),
    ("sourcesystem", "source_system"),
    ("targetsystem", "target_system"),
    ("correlationid", "correlation_id"),
    ("causationid", "causation_id"),
    ("traceparent", "traceparent"),
)
_HOURS_FIELDS = ("hours", "total_hours", "delta_hours", "planned_hours")

_CONTEXT_ATTRIBUTES = frozenset(
    {"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "dataschema", "data", "data_base64"}
)
_EXTENSION_NAME = re.compile(r"^[a-z0-9]{1,20}$")
_GOOD_EXTENSION_NAMES = frozenset(EXTENSIONS)
_TRACEPARENT = re.compile(TRACEPARENT)
# Which key column an exception's object_type points at, so an exception shows up in that record's timeline.
_OBJECT_KEY = {
    "time_entry": "entry_id",
    "entry": "entry_id",
    "timesheet": "timesheet_id",
    "invoice": "invoice_id",
    "project": "project_code",
    "assignment": "assignment_id",
    "worker": "consultant_id",
    "consultant": "consultant_id",
    "message": "message_id",
}
_KEY_FIELDS = (
    "entry_id",
    "timesheet_id",
    "invoice_id",
    "project_code",
    "consultant_id",
    "assignment_id",
    "exception_id",
    "message_id",
    "opportunity_id",
    "change_id",
)


_CANONICAL_CACHE_SIZE = 4096

# `source` URI prefixes -> system, for events that carry no `sourcesystem` extension (SYNCWATCH_SOURCE_SYSTEMS
# replaces it). The usual shapes: `//psa/acme/eu` (a URI reference with an authority) and `/psa/kantata/eu`.
DEFAULT_SOURCE_SYSTEMS = {
    f"{slashes}{system}/": system for system in ("psa", "erp", "crm", "hcm", "middleware") for slashes in ("//", "/")
}


class EventRules:
    """What makes an event acceptable: the catalogue, the alias map and the time window, fixed per app; and how
    an event's system is told when it does not say (its `source` prefix)."""

    def __init__(
        self,
        aliases: Mapping[str, str],
        max_future_skew_s: int,
        max_age_days: int,
        max_depth: int,
        source_systems: Mapping[str, str] | None = None,
    ):
        unknown = sorted(v for v in aliases.values() if v not in CATALOGUE)
        if unknown:
            raise ValueError(f"type_aliases map to types not in the catalogue: {', '.join(unknown)}")
        self.aliases = dict(aliases)
        # Longest prefix first, so `//erp/legacy/` can mean another system than `//erp/`.
        prefixes = DEFAULT_SOURCE_SYSTEMS if source_systems is None else source_systems
        self.source_prefixes = sorted(prefixes.items(), key=lambda item: len(item[0]), reverse=True)
        self._systems: dict[str, str] = {}
        self.max_age = timedelta(days=max_age_days)
        self.max_future_us = max_future_skew_s * 1_000_000
        self.max_age_us = max_age_days * 86_400 * 1_000_000
        self.max_depth = max_depth
        self._canonical: dict[str, str | None] = {}

    def earliest(self, received_us: int) -> int:
        """The oldest event time taken now: the age limit, and never before the warehouse's first instant."""
        return max(received_us - self.max_age_us, TIME_MIN_US)

    def latest(self, received_us: int) -> int:
        return min(received_us + self.max_future_us, TIME_MAX_US)

    def __getstate__(self) -> dict[str, Any]:
        # Rules travel to a parse worker with every large body: the memos stay behind, each process keeps its own.
        return {**self.__dict__, "_canonical": {}, "_systems": {}}

    def system_of(self, source: str) -> str:
        """The system a `source` names by its prefix ('' when none matches), remembered like canonical types."""
        try:
            return self._systems[source]
        except KeyError:
            system = next((name for prefix, name in self.source_prefixes if source.startswith(prefix)), "")
            if len(self._systems) < _CANONICAL_CACHE_SIZE:
                self._systems[source] = system
            return system

    def canonical(self, received: str) -> str | None:
        """canonical_type with these aliases, remembered: a sender uses a handful of type names over and over."""
        try:
            return self._canonical[received]
        except KeyError:
            ctype = canonical_type(received, self.aliases)
            if len(self._canonical) < _CANONICAL_CACHE_SIZE:  # type names come from clients: bound the memory
                self._canonical[received] = ctype
            return ctype


class EventRows:
    """Accepted events as row dicts in the `events` table's column names, ready for one JSONEachRow insert.

    Absent optional fields are left out (the table's defaults apply); `data` stays the parsed object and is
    stored as its JSON text by the engine (input_format_json_read_objects_as_strings), not re-serialised here.
    """

    __slots__ = ("identities", "received_at", "received_us", "rows", "rules", "token")

    def __init__(self, rules: EventRules, received_us: int, token: str) -> None:
        self.rules = rules
        self.received_us = received_us
        self.received_at = f"{received_us // 1_000_000}.{received_us % 1_000_000:06d}"
        self.token = token
        self.rows: list[dict[str, Any]] = []
        self.identities: list[tuple[str, str]] = []  # (source, id): what makes two deliveries the same event

    def add(self, event: Any) -> Rejection | str:
        """Validate one raw event; append it and return its canonical type ('' if unknown), or a Rejection."""
        checked = _check(event, self.rules, self.received_us)
        if type(checked) is Rejection:
            return checked
        ctype, data, extensions, time_us = checked  # type: ignore[misc]
        source, event_id = event["source"], event["id"]
        row: dict[str, Any] = {
            "received_at": self.received_at,
            "time": time_column(time_us),
            "source": source,
            "id": event_id,
            "specversion": "1.0",
            "type": event["type"],
            "canonical_type": ctype or event["type"],
            "known_type": ctype is not None,
            "token_name": self.token,
        }
        for name in _OPTIONAL_ATTRIBUTES:
            value = event.get(name)
            if value is not None:
                row[name] = value
        if extensions is None or extensions:
            # None is the typed path's answer: only named extensions, all strings, read from the event itself
            named = event if extensions is None else extensions
            for attribute, column in _EXTENSION_COLUMNS:
                value = named.get(attribute)
                if value is not None:
                    row[column] = value
            traceparent = row.pop("traceparent", None)
            if traceparent:
                row["trace_id"] = traceparent[3:35].lower()  # as spans store their ids, so the two meet
                row["parent_span_id"] = traceparent[36:52].lower()
            if extensions:
                others = {name: value for name, value in extensions.items() if name not in _GOOD_EXTENSION_NAMES}
                if others:
                    row["extensions"] = others
        if "source_system" not in row:
            system = self.rules.system_of(source)
            if system:
                row["source_system"] = system
        if type(data) is dict:
            for name in _KEY_FIELDS:
                value = data.get(name)
                if value is not None:
                    row[name] = value if type(value) is str else str(value)
            if "object_type" in data:
                target = _OBJECT_KEY.get(str(data["object_type"]))
                if target and target not in row and data.get("object_id"):
                    row[target] = str(data["object_id"])
            entry_ids = data.get("entry_ids")
            if type(entry_ids) is list:
                row["entry_ids"] = [e if type(e) is str else str(e) for e in entry_ids]
            for name in _HOURS_FIELDS:
                value = data.get(name)
                if type(value) is float or type(value) is int:
                    row["hours"] = value
                    break
            amount = data.get("amount")
            if type(amount) is float or type(amount) is int:
                row["amount"] = amount
            currency = data.get("currency")
            if type(currency) is str:
                row["currency"] = currency
        if data is not None:
            row["data"] = data
        self.rows.append(row)
        self.identities.append((source, event_id))
        return ctype or ""


def _check(
    event: Any, rules: EventRules, received_us: int
) -> Rejection | tuple[str | None, Any, dict[str, Any] | None, int]:
    """(canonical type, data, extensions, time in µs) of an acceptable event, or why it is not; extensions None:
    see add."""
    return _typed_check(event, rules, received_us) or _precise_check(event, rules, received_us)


def _typed_check(event: Any, rules: EventRules, received_us: int) -> tuple[str, Any, None, int] | None:
    """The common good event, validated in C; None means "not sure", never "bad": the precise checks decide."""
    if type(event) is not dict:
        return None
    kind = event.get("type")
    ctype = rules.canonical(kind) if type(kind) is str else None
    if ctype is None or not conforms(event, ctype):
        return None
    time_us = parse_time(event["time"])
    if type(time_us) is not int or not rules.earliest(received_us) <= time_us <= rules.latest(received_us):
        return None
    data = event["data"]
    for name in datetime_fields(ctype):
        if _datetime(data[name]):
            return None
    for name in date_fields(ctype):  # msgspec checked the calendar; the range is the warehouse's
        if not DATE_MIN <= data[name] <= DATE_MAX:
            return None
    if "amount" in data and amount_problem(data["amount"]):
        return None
    # Catalogue fields nest at most two levels (a list of ids); only extra fields can go deeper.
    if (len(data) > len(CATALOGUE[ctype]) or rules.max_depth < 2) and _depth(data, rules.max_depth) > rules.max_depth:
        return None
    return ctype, data, None, time_us


def _precise_check(
    event: Any, rules: EventRules, received_us: int
) -> Rejection | tuple[str | None, Any, dict[str, Any], int]:
    """Every check in order, so a rejection names the first field that is wrong and says why."""
    if type(event) is not dict:
        return Rejection("not_an_object", "", f"an event must be a JSON object, got {type(event).__name__}")
    get = event.get
    for name in ("specversion", "id", "source", "type"):
        value = get(name)
        if type(value) is not str or not value:
            if value is None:
                return Rejection("missing_attribute", name, "required context attribute is missing")
            return Rejection("invalid_attribute", name, "must be a non-empty string")
    if event["specversion"] != "1.0":
        return Rejection("invalid_attribute", "specversion", f"must be '1.0', got {event['specversion']!r}")
    for name in _OPTIONAL_ATTRIBUTES:
        value = get(name)
        if value is not None and type(value) is not str:
            return Rejection("invalid_attribute", name, "must be a string")
    raw_time = get("time")
    if raw_time is None:
        return Rejection("missing_attribute", "time", "required: when it happened in business terms (RFC 3339)")
    time_us = parse_time(raw_time)
    if type(time_us) is str:
        return Rejection("invalid_time", "time", time_us)
    assert type(time_us) is int
    if time_us > rules.latest(received_us):
        return Rejection("time_out_of_range", "time", f"{raw_time} is in the future (beyond the allowed clock skew)")
    if time_us < rules.earliest(received_us):
        if time_us < TIME_MIN_US:
            return Rejection(
                "time_out_of_range", "time", f"{raw_time} is before 1970, which the warehouse cannot store"
            )
        return Rejection(
            "time_out_of_range",
            "time",
            f"{raw_time} is older than {rules.max_age.days} days: the warehouse would delete it at once (retention)",
        )

    extensions: dict[str, Any] = {}
    if len(event) > len(_CONTEXT_ATTRIBUTES & event.keys()):
        for name, value in event.items():
            if name in _CONTEXT_ATTRIBUTES:
                continue
            if name not in _GOOD_EXTENSION_NAMES and not _EXTENSION_NAME.match(name):
                return Rejection("invalid_extension", name, "extension names are 1-20 characters of a-z and 0-9")
            if type(value) is not str:
                if type(value) is not int:
                    return Rejection("invalid_extension", name, "extension values must be strings or integers")
                value = str(value)
            extensions[name] = value
        traceparent = extensions.get("traceparent")
        if traceparent is not None and not _TRACEPARENT.match(traceparent):
            return Rejection(
                "invalid_extension", "traceparent", "must be W3C trace context: 00-<32 hex>-<16 hex>-<2 hex>"
            )

    if "data_base64" in event:
        data = _decode_base64_data(event)
        if type(data) is Rejection:
            return data
    else:
        data = get("data")
    if type(data) is dict or type(data) is list:
        if _depth(data, rules.max_depth) > rules.max_depth:
            return Rejection("too_deep", "data", f"nested deeper than {rules.max_depth} levels")
    ctype = rules.canonical(event["type"])
    if ctype is not None:
        problem = _check_data(ctype, data)
        if problem is not None:
            return problem
    if type(data) is dict and "amount" in data:  # any event's amount lands in the amount column
        too_large = amount_problem(data["amount"])
        if too_large:
            return Rejection("invalid_field", "data.amount", too_large)
    return ctype, data, extensions, time_us


def _decode_base64_data(event: dict[str, Any]) -> Any:
    if "data" in event:
        return Rejection("invalid_attribute", "data_base64", "an event carries data or data_base64, not both")
    try:
        raw = base64.b64decode(event["data_base64"], validate=True)
    except (binascii.Error, TypeError, ValueError):
        return Rejection("invalid_attribute", "data_base64", "is not valid base64")
    if "json" not in str(event.get("datacontenttype") or ""):
        return raw.decode("utf-8", "replace")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Rejection("invalid_data", "data_base64", f"datacontenttype says JSON but it is not: {exc}")


def _check_data(ctype: str, data: Any) -> Rejection | None:
    if type(data) is not dict:
        return Rejection("invalid_data", "data", f"{ctype} needs a JSON object with its business fields")
    for name, check in _CHECKS[ctype]:
        value = data.get(name)
        if value is None:
            return Rejection("missing_field", f"data.{name}", f"required for {ctype}")
        problem = check(value)
        if problem:
            return Rejection("invalid_field", f"data.{name}", problem)
    return None


def _string(value: Any) -> str:
    return "" if type(value) is str and value else "must be a non-empty string"


def _number(value: Any) -> str:
    return "" if type(value) is float or type(value) is int else "must be a number"


def _integer(value: Any) -> str:
    return "" if type(value) is int else "must be an integer"


def _boolean(value: Any) -> str:
    return "" if type(value) is bool else "must be true or false"


def _currency(value: Any) -> str:
    ok = type(value) is str and len(value) == 3 and value.isascii() and value.isupper() and value.isalpha()
    return "" if ok else "must be an ISO 4217 code such as USD"


def _string_list(value: Any) -> str:
    ok = type(value) is list and all(type(v) is str and v for v in value)
    return "" if ok else "must be a list of non-empty strings"


def _datetime(value: Any) -> str:
    problem = parse_time(value)
    return "" if type(problem) is int else str(problem)


def _enum(allowed: frozenset[str], base: Callable[[Any], str]) -> Callable[[Any], str]:
    message = f"must be one of {', '.join(sorted(allowed))}"
    return lambda value: base(value) or ("" if value in allowed else message)


_KIND_CHECKS: dict[str, Callable[[Any], str]] = {
    STR: _string,
    NUM: _number,
    INT: _integer,
    BOOL: _boolean,
    CURRENCY: _currency,
    STR_LIST: _string_list,
    DATE: date_problem,
    DATETIME: _datetime,
}
# canonical type -> ((field, check), ...), built once from the catalogue
_CHECKS: dict[str, tuple[tuple[str, Callable[[Any], str]], ...]] = {
    ctype: tuple(
        (name, _enum(ENUMS[name], _KIND_CHECKS[kind]) if name in ENUMS else _KIND_CHECKS[kind])
        for name, kind in fields.items()
    )
    for ctype, fields in CATALOGUE.items()
}


def _depth(value: Any, limit: int, level: int = 1) -> int:
    """Nesting depth of a JSON value, counting stops once past `limit`."""
    if level > limit:
        return level
    children = value.values() if type(value) is dict else value
    deepest = level
    for child in children:
        if type(child) is dict or type(child) is list:
            deepest = max(deepest, _depth(child, limit, level + 1))
    return deepest
