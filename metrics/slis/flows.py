"""Flow silence: a flow that stops sending events is the loudest failure there is, and the easiest to miss."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from metrics.catalogue import Definition, Reading
from metrics.query import Db
from metrics.slis._scan import records_query
from metrics.windows import Window

__all__ = ["DEFAULT_CADENCES", "FlowSilence"]

# Expected cadence of each integration flow (overridable in the SLO file); silent past 3x its cadence is bad.
DEFAULT_CADENCES: dict[str, timedelta] = {
    "psa-timesheets": timedelta(hours=1),
    "psa-to-erp-time": timedelta(hours=1),
    "psa-to-erp-invoices": timedelta(hours=24),
    "hcm-workers": timedelta(hours=24),
    "hcm-to-psa-workers": timedelta(hours=24),
    "crm-deals": timedelta(hours=24),
    "crm-to-psa-projects": timedelta(hours=24),
    "psa-to-erp-projects": timedelta(hours=24),
    "psa-to-erp-assignments": timedelta(hours=24),
    "psa-rate-cards": timedelta(days=30),
    "exceptions": timedelta(hours=24),
}
SILENT_AFTER_CADENCES = 3

# Hourly buckets: an explicit as_of inside an hour sees that hour's last event capped at as_of (exact to the hour).
_LAST = """
SELECT f.flow AS flow, least(max(f.last_event_at), {as_of:DateTime64(6, 'UTC')}) AS last_seen FROM flow_activity AS f
WHERE f.hour <= {as_of:DateTime64(6, 'UTC')} GROUP BY f.flow
"""


# Since when this warehouse has been listening: its first migration, or its earliest event when history was sent
# in from before that. A flow never heard from is only silent once it has been listened for long enough; otherwise
# a fresh install (or a restart before the first event lands) would page every hourly flow at once.
_LISTENING_SINCE = """
SELECT least((SELECT toDateTime64(min(applied_at), 6, 'UTC') FROM schema_migrations),
             ifNull((SELECT toDateTime64(minOrNull(f.hour), 6, 'UTC') FROM flow_activity AS f
                     WHERE f.hour <= {as_of:DateTime64(6, 'UTC')}), {as_of:DateTime64(6, 'UTC')})) AS since
"""


class FlowSilence:
    definition = Definition(
        "flow_silence",
        "Silent flows",
        "count",
        "<=",
        0.0,
        "Per integration flow: seconds since its last event vs its expected cadence; a flow is silent past 3x its"
        " cadence; a flow never heard from is silent once the warehouse has listened for 3x its cadence. Value: the"
        " number of silent flows.",
        dimensions=("flow",),
    )

    def __init__(self, cadences: Mapping[str, timedelta] | None = None) -> None:
        self.cadences = dict(cadences or DEFAULT_CADENCES)

    def status(self, db: Db, window: Window) -> dict[str, dict[str, Any]]:
        last = {row["flow"]: row["last_seen"] for row in records_query(db, _LAST, window, 0)}
        end = window.end.replace(tzinfo=None)
        listening = None
        out = {}
        for flow in sorted(set(self.cadences) | set(last)):
            cadence = self.cadences.get(flow)
            seen = last.get(flow)
            since = None if seen is None else max(0.0, (end - seen).total_seconds())
            details: dict[str, Any] = {
                "seconds_since_last": since,
                "cadence_seconds": None if cadence is None else cadence.total_seconds(),
                "never_seen": seen is None,
            }
            if since is not None:
                quiet_for = since
            else:
                if listening is None:
                    (row,) = records_query(db, _LISTENING_SINCE, window, 0)
                    listening = max(0.0, (end - row["since"]).total_seconds())
                details["listened_seconds"] = quiet_for = listening
            details["silent"] = cadence is not None and quiet_for > SILENT_AFTER_CADENCES * cadence.total_seconds()
            out[flow] = details
        return out

    def measure(self, db: Db, windows: Sequence[Window], by: str | None = None) -> dict[str, list[Reading]]:
        flows = self.status(db, windows[0])
        if by == "flow":
            # Each flow's value is this SLI's own count (1 when that flow is silent) so its status is judged against
            # the same objective; the seconds since its last event are in the details. The seconds themselves as
            # the value made every flow that ever waited a second breach the objective of 0 silent flows.
            return {
                flow: [Reading(0.0, 0.0, 1.0 if f["silent"] else 0.0, f)] * len(windows) for flow, f in flows.items()
            }
        silent = sum(1 for f in flows.values() if f["silent"])
        return {"": [Reading(0.0, 0.0, float(silent), {"flows": flows})] * len(windows)}

    def records(self, db: Db, window: Window, limit: int) -> list[dict[str, Any]]:
        rows = []
        for flow, f in self.status(db, window).items():
            if f["silent"]:
                rows.append({"key": flow, "kind": "flow", "status": "silent", "age_seconds": f["seconds_since_last"],
                             "amount": None, "currency": "", "tenant": "", "project_code": "",
                             "detail": f"expected every {f['cadence_seconds'] / 3600:g} h"})  # fmt: skip
        return rows[:limit]
