"""Ingest health: event rate and delivery lag per minute, rejections by reason with the quarantine browser,
queue depth, spool and insert latency. Filters in the URL (?minutes=&reason=&signal=)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import svg
from dashboard.api import Ok, Request
from dashboard.format import duration, esc, parse_time, pretty_json
from dashboard.ui import data, fetch, finding, now, param, refresh_seconds, set_params, show_problem

st.title("Ingest health")
SPANS = {"15 min": 15, "1 h": 60, "6 h": 360, "24 h": 1440}
span_label = st.segmented_control("Window", list(SPANS), default=str(param("minutes", "1 h", SPANS)))
span_label = span_label or "1 h"
minutes = SPANS[span_label]


@st.fragment(run_every=timedelta(seconds=refresh_seconds()))
def live() -> None:
    health_o, ready_o, sources_o = fetch([Request.of("/api/v1/ingest/health", minutes=minutes), Request.of("/readyz"),
                                          Request.of("/api/v1/coverage/sources", window=f"{minutes}m")])  # fmt: skip
    ready = data(ready_o) or {}
    if isinstance(ready_o, Ok) and ready.get("status") != "ready":
        st.warning("Collector not ready: " + "; ".join(esc(p) for p in ready.get("problems") or ["starting"]))
    if not isinstance(health_o, Ok):
        show_problem(health_o, "Ingest health")
        return
    h: dict[str, Any] = health_o.data
    totals = h.get("since_start") or {}
    received = totals.get("received") or {}
    accepted = totals.get("accepted") or {}
    rejected = {s: sum((r or {}).values()) for s, r in (totals.get("rejected") or {}).items()}
    per_minute = h.get("events_per_minute") or []
    last = per_minute[-1] if per_minute else {}
    queue = h.get("queue_rows") or {}
    queue_max = h.get("queue_max_rows") or 0
    cols = st.columns(5)
    cols[0].metric("Events / min (last)", f"{last.get('events', 0):,}" if last else "—")
    cols[1].metric("Delivery lag p95", duration(last.get("lag_p95")) if last else "—",
                   help="received_at minus the event's business time, last minute")  # fmt: skip
    cols[2].metric("Queued rows", f"{sum(queue.values()):,.0f}",
                   help=f"answers 503 above {queue_max:,} rows per table")  # fmt: skip
    cols[3].metric("Spooled batches", esc(h.get("spooled_batches", 0)), help="waiting on disk for the warehouse")
    cols[4].metric("Warehouse", "up" if h.get("warehouse_up") else "DOWN")
    if not h.get("warehouse_up"):
        why = esc(h.get("warehouse_error") or "last insert failed")
        finding("bad", f"**Warehouse unreachable:** {why}. Ingest spools.")
    st.caption(
        "Since the collector started: "
        + " · ".join(
            f"{signal}s received {received.get(signal, 0):,.0f}, accepted {accepted.get(signal, 0):,.0f}, "
            f"rejected {rejected.get(signal, 0):,.0f}"
            for signal in ("event", "span")
        )
    )
    minutes_of = [parse_time(m.get("minute")) or now() for m in per_minute]
    left, right = st.columns(2)
    with left:
        st.markdown("**Events received per minute**")
        if per_minute:
            st.image(
                svg.line(minutes_of, [float(m.get("events") or 0) for m in per_minute], "events / minute",
                         lambda v: f"{v:,.0f}" if v == int(v) or abs(v) >= 10 else f"{v:,.1f}", area=True,
                         width=560, height=260),
                width="stretch",
            )  # fmt: skip
        else:
            st.info(f"No event received in the last {span_label}.")
    with right:
        # the unit is on the axis: the lag is drawn in seconds, minutes, hours or days as its size needs
        st.markdown("**Delivery lag p95 per minute**")
        if per_minute:
            lags = [m.get("lag_p95") if isinstance(m.get("lag_p95"), int | float) else None for m in per_minute]
            title, label = svg.axis("seconds", lags)
            st.image(svg.line(minutes_of, lags, f"lag p95 ({title})", label, width=560, height=260,
                              tick_unit=svg.axis_unit("seconds", lags)), width="stretch")  # fmt: skip
    # queues and insert latency as plain numbers: a chart per table would cost more to draw than it tells
    latency = h.get("insert_latency_seconds") or {}
    tables = sorted(set(queue) | set(latency))
    if tables:
        st.markdown("**Per table: rows waiting for the writer, and warehouse insert latency**")
        for col, table in zip(st.columns(len(tables)), tables, strict=True):
            lat = latency.get(table) or {}
            col.metric(
                esc(table),
                f"{queue.get(table, 0):,.0f} rows",
                help=f"insert p50 {duration(lat.get('p50'))}, p95 {duration(lat.get('p95'))} "
                f"over {lat.get('inserts', 0):,.0f} inserts",
            )
            col.caption(f"insert p50 {duration(lat.get('p50'))} · p95 {duration(lat.get('p95'))}")
    near_misses(totals.get("near_miss_spans") or {}, h.get("near_miss_attributes") or {})
    unknown_systems((data(sources_o) or {}).get("sources") or [])


def unknown_systems(sources: list[dict[str, Any]]) -> None:
    """Sources whose events name no system (no extension, no SYNCWATCH_SOURCE_SYSTEMS prefix): the SLIs count
    what those events describe as left out (coverage) until the source is mapped."""
    if not sources:
        return
    total = sum(int(s.get("events") or 0) for s in sources)
    finding(
        "warn",
        f"**{total:,} events in the last {esc(span_label)} name no system** (no `sourcesystem` extension, and no "
        "source prefix in SYNCWATCH_SOURCE_SYSTEMS matches): the SLIs leave what they describe out, and say so in "
        "their coverage.",
    )
    rows = [{"source": esc(s.get("source")), "events": int(s.get("events") or 0),
             "types": esc(", ".join(str(t) for t in s.get("types") or []))} for s in sources]  # fmt: skip
    st.table(pd.DataFrame(rows))


def near_misses(by_service: dict[str, dict[str, float]], should_be: dict[str, str]) -> None:
    """Spans stored with a record key under a near-miss name: no journey shows them until the sender renames it."""
    counted = sorted(
        (
            (int(n), service, attribute)
            for service, attributes in by_service.items()
            for attribute, n in attributes.items()
        ),
        key=lambda c: -c[0],
    )
    if not counted:
        return
    rows = [{"service": service, "attribute": attribute, "should be": should_be.get(attribute, "business.…"),
             "spans": n} for n, service, attribute in counted]  # fmt: skip
    total = sum(n for n, _, _ in counted)
    finding(
        "warn",
        f"**{total:,} spans since the collector started carry a record key under a near-miss name** "
        f"(such as {esc(rows[0]['attribute'])} for {esc(rows[0]['should be'])}): they are stored, but no "
        "record's journey shows them until their senders use the documented attribute.",
    )
    # a short list: a static table; st.table renders Markdown, so every cell is escaped
    st.table(pd.DataFrame([{k: esc(v) if isinstance(v, str) else v for k, v in r.items()} for r in rows]))


live()

st.subheader("Rejections and quarantine")
since = now() - timedelta(minutes=minutes)
reason = str(param("reason", ""))
signal = str(param("signal", "", ("event", "span")))
(counts_o,) = fetch([Request.of("/api/v1/quarantine", limit=1, since=since.replace(second=0, microsecond=0))])
counts = (data(counts_o) or {}).get("counts_by_reason") or {}
if not isinstance(counts_o, Ok):
    show_problem(counts_o, "Quarantine")
    st.stop()
if not counts:
    st.success(f"Nothing was rejected in the last {span_label}.")
else:
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    st.image(
        svg.bars([r for r, _ in ranked], [float(n) for _, n in ranked], "rejected items", lambda v: f"{v:,.0f}",
                 colours=["#e53935"] * len(ranked)),
        width="stretch",
    )  # fmt: skip
filters = st.columns(2)
reasons = ["", *sorted(counts)]
if reason and reason not in reasons:
    reasons.append(reason)
reason = filters[0].selectbox("Reason", reasons, index=reasons.index(reason), format_func=lambda r: r or "any reason")
signal = filters[1].selectbox("Signal", ["", "event", "span"], index=["", "event", "span"].index(signal),
                              format_func=lambda s: s or "events and spans")  # fmt: skip
set_params(minutes=span_label, reason=reason or None, signal=signal or None)
(items_o,) = fetch([Request.of("/api/v1/quarantine", limit=200, reason=reason, signal=signal)])
items: list[dict[str, Any]] = (data(items_o) or {}).get("items") or []
if not isinstance(items_o, Ok):
    show_problem(items_o, "Quarantine")
elif not items:
    st.info("The quarantine is empty for this filter.")
else:
    table = pd.DataFrame(
        {
            "received (UTC)": [i.get("received_at") for i in items],
            "age": [duration((now() - t).total_seconds()) if (t := parse_time(i.get("received_at"))) else "—"
                    for i in items],
            "signal": [i.get("signal") for i in items],
            "reason": [i.get("reason") for i in items],
            "field": [i.get("field") for i in items],
            "detail": [i.get("detail") for i in items],
            "token": [i.get("token") for i in items],
            "source": [i.get("source") for i in items],
            "id": [i.get("id") for i in items],
        }
    )  # fmt: skip
    picked = st.dataframe(table, hide_index=True, on_select="rerun", selection_mode="single-row", key="quarantine")
    rows = picked.selection.rows if picked is not None else []
    chosen = items[rows[0]] if rows else items[0]
    # no code span around the id: inside one a backslash escapes nothing, so a backtick in the id would end it
    truncated = " — truncated" if chosen.get("payload_truncated") else ""
    st.markdown(f"**Payload of {esc(chosen.get('id') or '?')}** ({esc(chosen.get('reason'))}: "
                f"{esc(chosen.get('detail'))}){truncated}")  # fmt: skip
    st.text(pretty_json(chosen.get("payload") or ""))
