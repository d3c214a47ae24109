"""Valid events and spans for tests, derived from the catalogue so every canonical type is covered."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from syncwatch.vocabulary import CATALOGUE, ENUMS

_counter = itertools.count(1)
_SAMPLES = {
    "string": "X-1",
    "number": 7.5,
    "integer": 1,
    "boolean": False,
    "date": "2026-11-20",
    "datetime": "2026-11-20T09:00:00Z",
    "currency": "USD",
    "string[]": ["E-1", "E-2"],
}


def valid_data(ctype: str, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, kind in CATALOGUE[ctype].items():
        data[name] = sorted(ENUMS[name])[0] if name in ENUMS else _SAMPLES[kind]
    data.update(overrides)
    return data


def event(
    ctype: str = "time_entry.posted", *, data: Any = None, when: datetime | None = None, **attrs: Any
) -> dict[str, Any]:
    n = next(_counter)
    body: dict[str, Any] = {
        "specversion": "1.0",
        "id": f"evt-{n}",
        "source": "/psa/kantata/test",
        "type": ctype,
        "subject": f"subject-{n}",
        "time": (when or datetime.now(UTC) - timedelta(minutes=5)).isoformat().replace("+00:00", "Z"),
        "data": valid_data(ctype) if data is None and ctype in CATALOGUE else data,
    }
    body.update(attrs)
    return body
