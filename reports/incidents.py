"""The week's incidents from the alert history (alert_history, written by alerts/store.py at each transition), with
time to detect and time to resolve, and the week's means against the four weeks before it.

Definitions, as the history lets us compute them honestly:

- started: the alert's first breaching evaluation, i.e. its move into `pending` just before it fired (a rule
  without `for` fires at its first breaching evaluation, so started = fired).
- time to detect: fired - started, the wait from the first evaluation that saw the breach to the page or ticket.
  It does not include the time between the first affected record and that evaluation (the evaluation interval
  and the SLI's own window), which the history does not record; it is a lower bound of detection from the record.
- time to resolve: resolved - fired, from the page or ticket to the evaluation that found the breach over.
  An incident still open at the report's horizon has none and is counted as open.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from metrics.windows import Window

__all__ = ["COMPARED_WEEKS", "incidents", "lookback", "summary"]

COMPARED_WEEKS = 4
# A `pending` that began this long before the firing still counts as its start (the longest `for` is far shorter).
_PENDING_LOOKBACK = timedelta(days=1)


def lookback(window: Window) -> Window:
    """The history the incidents of `window` and of the weeks compared with it need: from the pending before the
    first compared week's firings to the window's end (sources add the resolutions after it)."""
    return Window(window.start - timedelta(weeks=COMPARED_WEEKS) - _PENDING_LOOKBACK, window.end)


def incidents(transitions: Iterable[Mapping[str, Any]], window: Window) -> list[dict[str, Any]]:
    """Each alert that fired in `window`, oldest first: when its breach was first seen, when it fired, when it
    resolved (None if still open), the minutes to detect and to resolve."""
    fired: list[dict[str, Any]] = []
    pending_since: dict[str, datetime] = {}
    open_by_fp: dict[str, dict[str, Any]] = {}
    for t in sorted(transitions, key=lambda t: (_instant(t["time"]), t["fingerprint"])):
        when, fp, to = _instant(t["time"]), str(t["fingerprint"]), t["to_state"]
        if to == "pending":
            pending_since[fp] = when
        elif to == "firing":
            started = pending_since.pop(fp, when)
            if not window.start <= when < window.end:
                open_by_fp.pop(fp, {})
                continue
            labels = t.get("labels") or {}
            incident = {
                "rule": t["rule"], "severity": t["severity"], "summary": t["summary"],
                "flow": labels.get("flow", ""), "tenant": labels.get("tenant", ""),
                "started_at": _iso(started), "fired_at": _iso(when), "resolved_at": None,
                "minutes_to_detect": _minutes(when - started), "minutes_to_resolve": None,
            }  # fmt: skip
            fired.append(incident)
            open_by_fp[fp] = incident
        elif to in ("resolved", "inactive"):
            pending_since.pop(fp, None)
            closed = open_by_fp.pop(fp, None)
            if closed is not None:
                closed["resolved_at"] = _iso(when)
                closed["minutes_to_resolve"] = _minutes(when - _instant(closed["fired_at"]))
    return fired


def summary(transitions: Iterable[Mapping[str, Any]], window: Window) -> dict[str, Any]:
    """The week's incidents and their means, and the same means over the COMPARED_WEEKS weeks before it."""
    rows = list(transitions)
    week = incidents(rows, window)
    before = incidents(rows, Window(window.start - timedelta(weeks=COMPARED_WEEKS), window.start))
    return {"items": week, "week": _means(week), "previous": {**_means(before), "weeks": COMPARED_WEEKS}}


def _means(found: list[dict[str, Any]]) -> dict[str, Any]:
    detect = [i["minutes_to_detect"] for i in found]
    resolve = [i["minutes_to_resolve"] for i in found if i["minutes_to_resolve"] is not None]
    return {
        "count": len(found),
        "pages": sum(1 for i in found if i["severity"] == "page"),
        "tickets": sum(1 for i in found if i["severity"] == "ticket"),
        "open": len(found) - len(resolve),
        "mttd_minutes": round(sum(detect) / len(detect), 1) if detect else None,
        "mttr_minutes": round(sum(resolve) / len(resolve), 1) if resolve else None,
    }


def _minutes(span: timedelta) -> float:
    return round(span.total_seconds() / 60, 1)


def _instant(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
