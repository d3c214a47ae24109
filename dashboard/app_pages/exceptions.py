"""Exceptions: the work queue. A team's cases ranked by money at stake x age (or by time to breach), filtered by
state, owner, cause, tenant and breaching soon; one case with its record's journey and its whole history; and the
actions on it, each after an explicit confirmation. Acting needs the operate scope (dashboard/access.py); a viewer
without it sees no action, only why. Filters and the case are in the URL, so a case can be pasted into a ticket."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pandas as pd
import streamlit as st

from dashboard.access import current
from dashboard.api import Failed, Ok, Request
from dashboard.exceptions_tile import NOT_CLOSED, money_text, money_totals
from dashboard.format import duration, esc, parse_time
from dashboard.ui import answer_cache, fetch, now, param, set_params, show_problem

st.title("Exceptions")

STATES = (*NOT_CLOSED, "resolved", "auto_resolved")
OWNERS = ("finance-ops", "integrations", "project-operations")  # the routing defaults; others come from the data
# Breaching soon: label -> how far ahead a due time counts; "past due" is now.
SOON = {"any time": None, "past due": timedelta(0), "within 4 h": timedelta(hours=4),
        "within 1 day": timedelta(days=1)}  # fmt: skip
ORDERS = ("money x age", "time to breach")
LIST_LIMIT = 500
FLASH = "exceptions_done"
ACTIONS = {
    "acknowledge": "Acknowledge",
    "assign": "Assign",
    "start": "Start work",
    "wait": "Wait (pauses the SLA clock)",
    "comment": "Comment",
    "resolve": "Resolve",
    "reopen": "Reopen",
}

principal = current()
# None when this viewer may act; else why not. A single sign-on viewer mapped to operate but without the console's
# admin token has a client that cannot send a change at all.
refusal = principal.refusal("operate") or (
    None if principal.client.can_administer else "The console has no token to act with for your sign-in."
)

# -- filters --------------------------------------------------------------------------------------------------------
row = st.columns([2, 3, 2, 2, 2, 2])
owner_choices = ["", *OWNERS]
owner_param = str(param("owner", ""))
if owner_param and owner_param not in owner_choices:
    owner_choices.append(owner_param)
owner = row[0].selectbox("Team", owner_choices, index=owner_choices.index(owner_param),
                         format_func=lambda o: o or "all teams")  # fmt: skip
state_param = [s for s in str(param("state", ",".join(NOT_CLOSED))).split(",") if s in STATES]
states = row[1].multiselect("State", STATES, default=state_param, placeholder="every state")
cause = row[2].text_input("Cause", value=str(param("cause", "")), placeholder="e.g. dead_letter").strip()
tenant = row[3].text_input("Tenant", value=str(param("tenant", ""))).strip()
soon = row[4].selectbox("Breaching", list(SOON), index=list(SOON).index(str(param("soon", "any time", SOON))))
order = row[5].selectbox("Rank by", ORDERS, index=ORDERS.index(str(param("order", ORDERS[0], ORDERS))))
set_params(owner=owner or None, state=",".join(states), cause=cause or None, tenant=tenant or None,
           soon=None if soon == "any time" else soon, order=None if order == ORDERS[0] else order)  # fmt: skip

query: list[tuple[str, str]] = [("state", ",".join(states))] if states else []
query += [(k, v) for k, v in (("owner", owner), ("cause", cause), ("tenant", tenant)) if v]
ahead = SOON[soon]
if ahead is not None:
    # rounded to the minute, so the renders of one minute share one cached answer
    due = (now() + ahead).replace(second=0, microsecond=0)
    query.append(("due_before", due.isoformat().replace("+00:00", "Z")))
(queue_o,) = fetch([Request("/api/v1/exceptions", (*query, ("limit", str(LIST_LIMIT))))])
if isinstance(queue_o, Failed) and queue_o.kind == "invalid":
    st.warning(f"{esc(queue_o.message)}.")
    st.stop()
if not isinstance(queue_o, Ok):
    show_problem(queue_o, "Exception queue", "The queue appears once the collector serves /api/v1/exceptions.")
    st.stop()

queue: dict[str, Any] = queue_o.data or {}
cases = [c for c in queue.get("cases", []) if isinstance(c, dict)]
total = int(queue.get("total") or 0)
current_time = now()


def _to_breach(case: dict[str, Any]) -> float | None:
    """Seconds until the due time (negative: past it); None once closed."""
    if case.get("state") not in NOT_CLOSED or not case.get("due_at"):
        return None
    due = parse_time(case["due_at"])
    return None if due is None else (due - current_time).total_seconds()


def _breach_text(seconds: float | None) -> str:
    if seconds is None:
        return "closed"
    return f"overdue {duration(-seconds)}" if seconds < 0 else f"in {duration(seconds)}"


if order == "time to breach":
    cases.sort(key=lambda c: (_to_breach(c) is None, _to_breach(c) or 0.0))

head = st.columns(4)
head[0].metric("Cases", f"{len(cases)} of {total}" if total > len(cases) else total)
head[1].metric("Past due", sum(1 for c in cases if c.get("overdue")))
head[2].metric("Breaching within 4 h", sum(1 for c in cases if 0 <= (_to_breach(c) or -1) <= 4 * 3600))
head[3].metric("Teams", len({c.get("owner_team") for c in cases}))
st.markdown(f"**Money at stake:** {esc(money_text(money_totals(cases)))} (per currency, never converted)")

if not cases:
    st.info("No case matches these filters.")
    st.stop()

table = pd.DataFrame(
    [
        {
            "case": c.get("case_id"),
            "state": c.get("state"),
            "team": c.get("owner_team"),
            "assignee": c.get("assignee") or "",
            "cause": c.get("cause"),
            "record": c.get("business_key"),
            "money": money_text(money_totals([c])),
            "age": duration(c.get("age_seconds")),
            "SLA": _breach_text(_to_breach(c)),
            "severity": c.get("severity"),
            "tenant": c.get("tenant"),
        }
        for c in cases
    ]
)
picked = st.dataframe(table, hide_index=True, on_select="rerun", selection_mode="single-row", key="queue_row",
                      column_config={"cause": st.column_config.TextColumn("cause", width="medium")})  # fmt: skip

# -- one case -------------------------------------------------------------------------------------------------------
ids = [str(c.get("case_id")) for c in cases]
rows = picked.selection.rows if picked is not None else []
wanted = ids[rows[0]] if rows else str(param("case", ids[0]))
if wanted not in ids:
    wanted = ids[0]
chosen = st.selectbox("Case", ids, index=ids.index(wanted), format_func=lambda i: f"{i} · " + str(
    next((c.get("business_key") for c in cases if c.get("case_id") == i), "")))  # fmt: skip
set_params(case=chosen)

(case_o,) = fetch([Request(f"/api/v1/exceptions/{quote(chosen, safe='')}")])
if not isinstance(case_o, Ok):
    show_problem(case_o, "Case")
    st.stop()
case: dict[str, Any] = case_o.data
key = str(case.get("business_key") or "")
st.subheader(f"{esc(case.get('case_id'))} · {esc(case.get('cause'))}")
# one line, not tiles: a team name or "overdue 28 d 9 h" does not fit a tile and was cut off
breach = _to_breach(case)
colour = "gray" if breach is None else ("red" if breach < 0 else ("orange" if breach <= 4 * 3600 else "green"))
lines = [
    f"**State:** {esc(case.get('state'))} · **team:** {esc(case.get('owner_team'))} · **assignee:** "
    f"{esc(case.get('assignee') or 'nobody')} · **SLA:** :{colour}[{esc(_breach_text(breach))}] · "
    f"**occurrences:** {esc(case.get('occurrences'))}",
    f"**Record:** {esc(key)} · **money at stake:** {esc(money_text(money_totals([case])))}",
    f"**Severity:** {esc(case.get('severity'))} · **tenant:** {esc(case.get('tenant') or '—')} · "
    f"**project:** {esc(case.get('project') or '—')} · **consultant:** {esc(case.get('consultant') or '—')} · "
    f"**flow:** {esc(case.get('flow') or '—')}",
    f"**Opened:** {esc(case.get('opened_at'))} · **last seen:** {esc(case.get('last_seen'))} · "
    f"**due:** {esc(case.get('due_at'))} (UTC)",
]
if case.get("detail"):
    lines.append(f"**Detail:** {esc(case.get('detail'))}")
if case.get("waiting_reason"):
    lines.append(f"**Waiting:** {esc(case.get('waiting_reason'))}")
if case.get("resolution"):
    lines.append(f"**Resolution:** {esc(case.get('resolution'))} — {esc(case.get('resolution_note') or '')} "
                 f"({esc(case.get('resolved_by') or '')})")  # fmt: skip
st.markdown("  \n".join(lines))
if key:
    st.page_link("app_pages/record_trace.py", label="The record's journey (Record trace)",
                 icon=":material/timeline:", query_params={"key": key})  # fmt: skip

st.markdown("**History**")
history = [h for h in case.get("history") or [] if isinstance(h, dict)]


def _what(entry: dict[str, Any]) -> str:
    detail = ", ".join(f"{k}: {v}" for k, v in (entry.get("detail") or {}).items())
    changed = "; ".join(f"{k} {(entry.get('before') or {}).get(k, '')} → {v}"
                        for k, v in (entry.get("after") or {}).items())  # fmt: skip
    return " · ".join(x for x in (detail, changed) if x)


# as text, oldest first: every line readable in full (a grid cell cuts a note off), every value escaped
st.markdown(
    "\n".join(
        f"- {esc(h.get('at'))} · **{esc(h.get('actor'))}** · {esc(h.get('action'))}"
        + (f" — {esc(_what(h))}" if _what(h) else "")
        for h in history
    )
    or "No entry yet."
)

# -- acting -----------------------------------------------------------------------------------------------------------
st.markdown("**Act on this case**")
if FLASH in st.session_state:
    st.success(st.session_state.pop(FLASH))
if refusal:
    st.caption(f":material/lock: {esc(refusal)}")
    st.stop()
closed = case.get("state") in ("resolved", "auto_resolved")
choices = ["comment", "reopen"] if closed else [a for a in ACTIONS if a != "reopen"]
if case.get("kind") == "dead_letter" and not closed:
    choices.append("request_replay")
labels = {**ACTIONS, "request_replay": "Ask the middleware to replay the message"}
action = st.selectbox("Action", choices, format_func=lambda a: labels[a], key=f"action_{chosen}")
with st.form(f"act_{chosen}_{action}", clear_on_submit=True):
    body: dict[str, str] = {"action": action}
    if action == "assign":
        body["team"] = st.text_input("Team", placeholder="finance-ops").strip()
        body["assignee"] = st.text_input("Assignee", placeholder="a person").strip()
    elif action == "wait":
        body["reason"] = st.text_input("Reason", placeholder="waiting on client").strip()
    elif action == "resolve":
        body["code"] = st.text_input("Resolution code", placeholder="fixed_in_erp").strip()
        body["note"] = st.text_area("Note", placeholder="what was done").strip()
    elif action in ("comment", "reopen"):
        body["note"] = st.text_area("Note").strip()
    sure = st.checkbox(f"I confirm: {labels[action].lower()} case {chosen}")
    if st.form_submit_button(labels[action]):
        if not sure:
            st.warning("Tick the confirmation first.")
        else:
            outcome = principal.client.act_on_case(chosen, {k: v for k, v in body.items() if v})
            if isinstance(outcome, Ok):
                answer_cache().clear()
                # shown after the rerun that draws the case as it is now
                st.session_state[FLASH] = (f"Done: {esc(action)} by "
                                           f"{esc((outcome.data.get('audit') or {}).get('actor', ''))}; the case is "
                                           f"{esc(outcome.data.get('state'))}.")  # fmt: skip
                st.rerun()
            elif isinstance(outcome, Failed) and outcome.status == 409:
                st.warning(f"Refused: {esc(outcome.message)}.")
            else:
                show_problem(outcome, labels[action])
