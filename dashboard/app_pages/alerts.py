"""Alerts: what fires now, what fired, and silences (create and expire, each after an explicit confirmation).
Changes need the admin scope (dashboard/access.py); a viewer without it sees them disabled, with the reason."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.access import current
from dashboard.api import Ok, Request
from dashboard.format import duration, esc, parse_time, safe_url
from dashboard.ui import answer_cache, fetch, now, param, refresh_seconds, set_params, show_problem

st.title("Alerts")
TABS = ("active", "history", "silences")
SEVERITY_ICON = {"page": "■", "critical": "■", "error": "■", "ticket": "▲", "warning": "▲", "info": "●"}


def _alert_rows(alerts: list[dict[str, Any]]) -> pd.DataFrame:
    current = now()
    rows = []
    for a in alerts:
        notes = a.get("annotations") or {}
        since = parse_time(a.get("active_since"))
        rows.append(
            {
                "state": a.get("state"),
                "severity": f"{SEVERITY_ICON.get(str(a.get('severity')), '○')} {a.get('severity', '')}",
                "summary": notes.get("summary") or a.get("rule"),
                "rule": a.get("rule"),
                "team": a.get("team"),
                "for": duration((current - since).total_seconds()) if since else "—",
                "since (UTC)": a.get("active_since"),
                "value": a.get("value"),
                "acknowledged by": a.get("acknowledged_by") or "",
                "labels": ", ".join(f"{k}={v}" for k, v in (a.get("labels") or {}).items()),
                "runbook": safe_url(notes.get("runbook_url")),
                "fingerprint": a.get("fingerprint"),
            }
        )
    return pd.DataFrame(rows)


def _items(body: Any, *names: str) -> list[dict[str, Any]]:
    if isinstance(body, list):
        return [x for x in body if isinstance(x, dict)]
    if isinstance(body, dict):
        for name in names:
            if isinstance(body.get(name), list):
                return [x for x in body[name] if isinstance(x, dict)]
    return []


principal = current()
client = principal.client
# None when this viewer may change things; else the reason, shown where the disabled controls are
refusal = principal.refusal("admin")
if refusal:
    st.caption(f":material/lock: {esc(refusal)}")

tab = st.segmented_control("View", TABS, default=str(param("tab", "active", TABS)), format_func=str.capitalize)
tab = tab or "active"
set_params(tab=tab)


@st.fragment(run_every=timedelta(seconds=refresh_seconds()))
def active() -> None:
    (alerts_o,) = fetch([Request.of("/api/v1/alerts")])
    if not isinstance(alerts_o, Ok):
        show_problem(alerts_o, "Alerts", "Alerts appear here once the alerts stage is deployed.")
        return
    alerts = [a for a in _items(alerts_o.data, "alerts") if a.get("state") in ("firing", "pending")]
    firing = sum(1 for a in alerts if a.get("state") == "firing")
    cols = st.columns(3)
    cols[0].metric("Firing", firing)
    cols[1].metric("Pending", len(alerts) - firing)
    cols[2].metric("Acknowledged", sum(1 for a in alerts if a.get("acknowledged_by")))
    if not alerts:
        st.success("Nothing is firing.")
        return
    # the summaries in full first: a grid cell does not wrap, and cut one off mid-sentence
    st.markdown(
        "\n".join(
            f"- **{esc(a.get('state'))}** · {esc(a.get('severity', ''))} · "
            f"{esc((a.get('annotations') or {}).get('summary') or a.get('rule'))}"
            for a in alerts[:50]
        )
    )
    st.dataframe(
        _alert_rows(alerts),
        hide_index=True,
        column_config={
            "summary": st.column_config.TextColumn("summary", width="large"),
            "runbook": st.column_config.LinkColumn("runbook", display_text="runbook ↗"),
        },
    )
    unacked = {str(a.get("fingerprint")): a for a in alerts if not a.get("acknowledged_by")}
    if unacked:
        with st.form("ack"):
            fp = st.selectbox(
                "Acknowledge",
                list(unacked),
                format_func=lambda f: str((unacked[f].get("annotations") or {}).get("summary") or f),
                disabled=bool(refusal),
            )
            sure = st.checkbox("I am handling this alert", disabled=bool(refusal))
            if refusal:
                st.caption(esc(refusal))
            if st.form_submit_button("Acknowledge", disabled=bool(refusal), help=esc(refusal) if refusal else None):
                if refusal:
                    st.warning(esc(refusal))
                elif not sure:
                    st.warning("Tick the confirmation first.")
                else:
                    outcome = client.acknowledge(fp)
                    if isinstance(outcome, Ok):
                        answer_cache().clear()
                        st.success("Acknowledged.")
                    else:
                        show_problem(outcome, "Acknowledge")


def history() -> None:
    (history_o,) = fetch([Request.of("/api/v1/alerts/history", limit=500)])
    if not isinstance(history_o, Ok):
        show_problem(history_o, "Alert history")
        return
    past = _items(history_o.data, "history", "alerts", "items")
    if not past:
        st.info("No alert has changed state yet.")
        return
    fired = sum(1 for h in past if h.get("to_state") == "firing")
    cols = st.columns(3)
    cols[0].metric("Transitions shown", len(past))
    cols[1].metric("Went firing", fired)
    cols[2].metric("Resolved", sum(1 for h in past if h.get("to_state") == "resolved"))
    picked = st.dataframe(
        pd.DataFrame(
            [
                {
                    "time (UTC)": h.get("time") or h.get("active_since"),
                    "transition": f"{h.get('from_state') or '—'} → {h.get('to_state') or h.get('state') or '?'}",
                    "severity": f"{SEVERITY_ICON.get(str(h.get('severity')), '○')} {h.get('severity', '')}",
                    "summary": h.get("summary") or (h.get("annotations") or {}).get("summary") or h.get("rule"),
                    "rule": h.get("rule"),
                    "value": h.get("value"),
                    "labels": ", ".join(f"{k}={v}" for k, v in (h.get("labels") or {}).items()),
                    "fingerprint": h.get("fingerprint"),
                }
                for h in past
            ]
        ),
        hide_index=True,
        column_config={"summary": st.column_config.TextColumn("summary", width="large")},
        on_select="rerun",
        selection_mode="single-row",
        key="history_row",
    )
    # a grid cell does not wrap: the picked row's summary in full (the latest by default)
    rows = picked.selection.rows if picked is not None else []
    chosen = past[rows[0]] if rows else past[0]
    summary = chosen.get("summary") or (chosen.get("annotations") or {}).get("summary") or chosen.get("rule")
    when = esc(chosen.get("time") or chosen.get("active_since"))
    st.caption(f"{'Picked row' if rows else 'Latest'} ({when}); pick a row to read its summary in full:")
    st.markdown(esc(summary))


def silences() -> None:
    (silences_o,) = fetch([Request.of("/api/v1/silences")])
    if not isinstance(silences_o, Ok):
        show_problem(silences_o, "Silences")
        return
    found = _items(silences_o.data, "silences", "items")
    live = [s for s in found if s.get("state", "active") in ("active", "pending")]
    if found:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "id": s.get("id"),
                        "state": s.get("state", "active"),
                        "matchers": ", ".join(
                            f"{m.get('name')}{'=~' if m.get('is_regex') else '='}{m.get('value')}"
                            for m in s.get("matchers") or []
                        ),
                        "ends (UTC)": s.get("ends_at"),
                        "created by": s.get("created_by"),
                        "comment": s.get("comment"),
                    }
                    for s in found
                ]
            ),
            hide_index=True,
        )
    else:
        st.info("No silence exists.")
    locked = bool(refusal)
    left, right = st.columns(2)
    with left, st.form("new_silence", clear_on_submit=False):
        st.markdown("**New silence**")
        name = st.text_input("Label", value="flow", help="e.g. flow, sli, queue, alertname, tenant", disabled=locked)
        value = st.text_input("Value", placeholder="psa-to-erp-time", disabled=locked)
        is_regex = st.checkbox("Value is a regular expression", disabled=locked)
        hours = st.number_input(
            "Duration (hours)", min_value=0.25, max_value=24.0 * 14, value=2.0, step=0.25, disabled=locked
        )
        author = st.text_input(
            "Created by",
            value="" if principal.method == "local" else principal.name,
            placeholder="your name",
            disabled=locked,
        )
        comment = st.text_input("Why", placeholder="ERP maintenance window", disabled=locked)
        sure = st.checkbox("I confirm: matching alerts stay quiet until the silence ends", disabled=locked)
        if refusal:
            st.caption(esc(refusal))
        if st.form_submit_button("Create silence", disabled=locked, help=esc(refusal) if refusal else None):
            if refusal:
                st.warning(esc(refusal))
            elif not (name and value and author and comment):
                st.warning("Label, value, author and reason are all required.")
            elif not sure:
                st.warning("Tick the confirmation first.")
            else:
                outcome = client.create_silence(
                    [{"name": name, "value": value, "is_regex": is_regex}],
                    now() + timedelta(hours=float(hours)),
                    author,
                    comment,
                )
                if isinstance(outcome, Ok):
                    answer_cache().clear()
                    st.success(f"Silence created until {(now() + timedelta(hours=float(hours))):%Y-%m-%d %H:%M} UTC.")
                else:
                    show_problem(outcome, "Create silence")
    with right:
        if live:
            with st.form("expire_silence"):
                st.markdown("**Expire a silence**")
                ids = [str(s.get("id")) for s in live]
                sid = st.selectbox("Silence", ids, format_func=lambda i: f"{i}: " + str(
                    next((s.get("comment") for s in live if str(s.get("id")) == i), "")), disabled=locked)  # fmt: skip
                sure = st.checkbox("I confirm: its alerts notify again", disabled=locked)
                if refusal:
                    st.caption(esc(refusal))
                if st.form_submit_button("Expire silence", disabled=locked, help=esc(refusal) if refusal else None):
                    if refusal:
                        st.warning(esc(refusal))
                    elif not sure:
                        st.warning("Tick the confirmation first.")
                    else:
                        outcome = client.expire_silence(sid)
                        if isinstance(outcome, Ok):
                            answer_cache().clear()
                            st.success(f"Silence {esc(sid)} expired.")
                        else:
                            show_problem(outcome, "Expire silence")


{"active": active, "history": history, "silences": silences}[tab]()
