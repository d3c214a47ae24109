"""Record trace: any business key's journey across systems, as a waterfall of spans and events, with where it
stopped and why. The key is in the URL (?key=&kind=), so a trace can be pasted into a ticket."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pandas as pd
import streamlit as st

from dashboard import svg
from dashboard.api import Failed, Ok, Request
from dashboard.format import duration, esc, pretty_json
from dashboard.journey import KEY_KINDS, guess_kind, systems, verdict, waterfall_rows
from dashboard.ui import fetch, finding, now, param, set_params, show_problem

st.title("Record trace")

JOURNEY_LIMIT = 2000  # items of each signal the collector returns, oldest first
kinds = list(KEY_KINDS)
search = st.columns([4, 2])
key = (
    search[0]
    .text_input(
        "Business key",
        value=str(param("key", "")),
        placeholder="TE-00000001, TS-00000042, INV-…, PRJ-…, C000123, a correlation or trace id",
        help="Time entry, timesheet, invoice, project, consultant, assignment, deal, HCM change, exception, message, "
        "correlation id or trace id.",
    )
    .strip()
)
kind = search[1].selectbox(
    "Kind", kinds, index=kinds.index(str(param("kind", "", kinds))), format_func=lambda k: KEY_KINDS[k]
)
set_params(key=key or None, kind=kind or None)

if not key:
    st.info("Enter a business key to see its journey. Records listed on the SLI and probe pages link here.")
    st.stop()

(journey_o,) = fetch([Request.of(f"/api/v1/records/{quote(key, safe='')}", kind=kind, limit=JOURNEY_LIMIT)])
if kind == "" and isinstance(journey_o, Ok) and not journey_o.data.get("found") and guess_kind(key):
    (journey_o,) = fetch(
        [Request.of(f"/api/v1/records/{quote(key, safe='')}", kind=guess_kind(key), limit=JOURNEY_LIMIT)]
    )
if isinstance(journey_o, Failed) and journey_o.kind == "invalid":
    st.warning(f"{esc(journey_o.message)}.")
    st.stop()
if not isinstance(journey_o, Ok):
    show_problem(journey_o, "Record journey")
    st.stop()

journey: dict[str, Any] = journey_o.data
result = verdict(journey, now())
if result.state == "not_found":
    st.warning(f"**{esc(key)}**: no event or span mentions this key. Check the spelling, or try another kind.")
    st.stop()

summary = journey.get("summary") or {}
level = {"failed": "bad", "waiting": "warn", "complete": "good"}[result.state]
finding(level, f"**{esc(key)}** · {esc(result.headline)}")
if len(result.reasons) > 1:
    st.markdown("\n".join(f"- {esc(r)}" for r in result.reasons))

cols = st.columns(5)
cols[0].metric("Events", esc(summary.get("events", 0)))
cols[1].metric("Spans", esc(summary.get("spans", 0)))
cols[2].metric("Errors", esc(summary.get("errors", 0)), help="Failures seen on the way, including ones later retried")
went_through = systems(journey)
# the count in the tile, the names in the line below: a list of services does not fit a tile and was cut off
cols[3].metric("Systems", len(went_through) or "—", help="Systems of its events, services of its spans")
cols[4].metric(
    "Idle for", duration(result.stalled_for_seconds), help="Time since the last event or span about this record"
)
st.caption(
    f"Systems: {esc(', '.join(went_through)) or '—'} · first seen {esc(summary.get('first_seen'))} · "
    f"last seen {esc(summary.get('last_seen'))} (UTC)"
)
signals = [i.get("signal") for i in journey.get("items") or [] if isinstance(i, dict)]
if max(signals.count("event"), signals.count("span")) >= JOURNEY_LIMIT:
    # the collector answers the oldest items first: anything newer than these is not in this answer
    st.warning(
        f"This record has {JOURNEY_LIMIT:,} or more events or spans; only the oldest {JOURNEY_LIMIT:,} of each are "
        "shown, so its latest steps and its idle time may be missing."
    )

st.subheader("Journey")
WATERFALL_ITEMS = 80  # a busy project has thousands of items; the latest ones stay readable and fast
all_items = journey.get("items") or []
rows = waterfall_rows({"items": all_items[-WATERFALL_ITEMS:]})
if rows:
    st.image(svg.waterfall(rows), width="stretch")
    note = (
        f" The latest {WATERFALL_ITEMS} of {len(all_items):,} items are drawn; the table lists all."
        if len(all_items) > WATERFALL_ITEMS
        else ""
    )
    st.caption(
        "One row per step in time order; a bar runs from the previous step to this one (long bars are where the "
        "record waited; the right margin says how long). Diamonds are business events, squares are spans; red "
        "marks a failure. Every detail is in the table below." + note
    )

items = journey.get("items") or []
table = pd.DataFrame(
    {
        "at (UTC)": [i.get("at") for i in items],
        "signal": [i.get("signal") for i in items],
        "what": [i.get("type") or i.get("name") for i in items],
        "system / service": [i.get("source_system") or i.get("service") for i in items],
        "to": [i.get("target_system") or "" for i in items],
        "status": [i.get("status") or "" for i in items],
        "duration (ms)": [i.get("duration_ms") for i in items],
        "trace": [i.get("trace_id") or "" for i in items],
    }
)
st.dataframe(table, hide_index=True, column_config={"duration (ms)": st.column_config.NumberColumn(format="%.1f")})

# Keys mentioned in the events' data: one click traces the neighbour (the project, the consultant, the invoice).
related: dict[str, str] = {}
for item in items:
    payload = item.get("data") if isinstance(item.get("data"), dict) else {}
    for field, kind_of in (("project_code", "project"), ("consultant_id", "consultant"), ("invoice_id", "invoice"),
                           ("timesheet_id", "timesheet"), ("entry_id", "entry")):  # fmt: skip
        other = payload.get(field)
        if isinstance(other, str) and other and other != key:
            related.setdefault(other, kind_of)
    if item.get("correlation_id") and item["correlation_id"] != key:
        related.setdefault(str(item["correlation_id"]), "correlation")
if related:
    st.subheader("Related records")
    # the keys come from events' data: escaped as link text, percent-encoded in the address
    st.markdown(
        " · ".join(
            f"[{esc(k)}](./trace?key={quote(k, safe='')}&kind={v}) ({KEY_KINDS[v]})"
            for k, v in list(related.items())[:20]
        )
    )

with st.expander("Raw item"):
    # one item at a time, chosen by its row number: a picker listing thousands of items would cost more to send
    # than the whole page
    number = st.number_input("Row", min_value=1, max_value=max(1, len(items)), value=max(1, len(items)), step=1)
    st.text(pretty_json(items[int(number) - 1] if items else {}))
