"""The fast path of event validation: one msgspec Struct per canonical type, checked in C by one convert call.

A well-formed event of a known type passes with no per-field Python; anything else (a wrong or missing field, an
unknown type, an extension this schema does not name, an integer extension value, data_base64) fails here and
goes to the precise checker in collector.events, which finds and names the reason. So these types may be
stricter than the precise checks, never more lenient: tests/unit/collector/test_typed_events.py holds them to it.

Where msgspec's own parser accepts more than the precise check, the field stays a plain string and the precise
check runs on it: RFC 3339 timestamps, whose range is the warehouse's (collector.storable). Dates are checked
here for the calendar, then by the caller for the warehouse's range, as amounts are.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec

from syncwatch.vocabulary import BOOL, CATALOGUE, CURRENCY, DATE, DATETIME, ENUMS, EXTENSIONS, INT, NUM, STR, STR_LIST

__all__ = ["TRACEPARENT", "conforms", "date_fields", "datetime_fields"]

# W3C trace context, the precise check's pattern too; `$` also matches before a final newline, in both paths.
# Hex of either case: ids are compared without regard to case, and stored in lower case (EventRows.add).
TRACEPARENT = r"^[0-9a-fA-F]{2}-([0-9a-fA-F]{32})-([0-9a-fA-F]{16})-[0-9a-fA-F]{2}$"

_NON_EMPTY = Annotated[str, msgspec.Meta(min_length=1)]
# \Z, not $: "USD\n" is not a currency
_CURRENCY = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}\Z")]
_KINDS: Mapping[str, Any] = {
    STR: _NON_EMPTY,
    NUM: float,  # takes a JSON integer too, not a boolean: the precise check's int-or-float
    INT: int,
    BOOL: bool,
    CURRENCY: _CURRENCY,
    STR_LIST: list[_NON_EMPTY],
    DATE: datetime.date,  # YYYY-MM-DD only; Python's fromisoformat also takes week dates, which fall through
    DATETIME: str,  # checked afterwards by the precise check, see the module docstring
}


def _field_type(name: str, kind: str) -> Any:
    if name in ENUMS:
        return Literal[tuple(sorted(ENUMS[name]))]
    return _KINDS[kind]


def _envelope(ctype: str, fields: Mapping[str, str]) -> type[msgspec.Struct]:
    # Extra data fields are allowed (they are stored as sent); extra context attributes are not (their names
    # and values need the precise extension checks).
    data = msgspec.defstruct(
        f"{ctype}.data", [(name, _field_type(name, kind)) for name, kind in fields.items()], omit_defaults=True
    )
    attributes: list[tuple[str, Any] | tuple[str, Any, Any]] = [
        ("specversion", Literal["1.0"]),
        ("id", _NON_EMPTY),
        ("source", _NON_EMPTY),
        ("type", _NON_EMPTY),
        ("time", str),  # parsed and windowed by the caller, with the precise check's own function
        ("data", data),
        ("subject", str | None, None),
        ("datacontenttype", str | None, None),
        ("dataschema", str | None, None),
    ]
    for name in EXTENSIONS:
        kind = Annotated[str, msgspec.Meta(pattern=TRACEPARENT)] if name == "traceparent" else str
        attributes.append((name, kind, ""))
    return msgspec.defstruct(ctype, attributes, forbid_unknown_fields=True)


_ENVELOPES = {ctype: _envelope(ctype, fields) for ctype, fields in CATALOGUE.items()}
_DATETIME_FIELDS = {
    ctype: tuple(name for name, kind in fields.items() if kind == DATETIME) for ctype, fields in CATALOGUE.items()
}
_DATE_FIELDS = {
    ctype: tuple(name for name, kind in fields.items() if kind == DATE) for ctype, fields in CATALOGUE.items()
}


def conforms(event: dict[str, Any], ctype: str) -> bool:
    """True when the raw event has every attribute and data field `ctype` needs, with the right types."""
    try:
        msgspec.convert(event, _ENVELOPES[ctype])
    except msgspec.ValidationError:
        return False
    return True


def date_fields(ctype: str) -> tuple[str, ...]:
    """The data fields of `ctype` that are dates: `conforms` checks the calendar, the caller the stored range."""
    return _DATE_FIELDS[ctype]


def datetime_fields(ctype: str) -> tuple[str, ...]:
    """The data fields of `ctype` that `conforms` leaves to the precise timestamp check."""
    return _DATETIME_FIELDS[ctype]
