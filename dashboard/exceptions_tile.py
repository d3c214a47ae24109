"""The exception queue on the Overview: open cases, how many are past due, the money at stake per currency (never
converted), and the way to the Exceptions page. Also what the Exceptions page reuses: the states not closed and
money per currency."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import streamlit as st

from dashboard.api import Ok, Request
from dashboard.format import esc, money
from dashboard.ui import data, fetch, show_problem

__all__ = ["NOT_CLOSED", "QUEUE_PAGE", "exceptions_tile", "money_text", "money_totals"]

NOT_CLOSED = ("open", "acknowledged", "in_progress", "waiting")
QUEUE_PAGE = 500  # the API's largest page: the tile's money adds up the 500 cases with the most at stake


def money_totals(cases: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for case in cases:
        for currency, amount in (case.get("money") or {}).items():
            if isinstance(amount, int | float):
                totals[str(currency)] = totals.get(str(currency), 0.0) + float(amount)
    return totals


def money_text(totals: Mapping[str, float]) -> str:
    """Largest first, each amount with its own currency: never added across currencies."""
    shown = [money(a, c) for c, a in sorted(totals.items(), key=lambda kv: -kv[1]) if a]
    return " · ".join(shown) or "none recorded"


def exceptions_tile() -> None:
    states = [("state", ",".join(NOT_CLOSED))]  # one parameter: the console's client sends each name once
    queue_o, overdue_o = fetch(
        [
            Request("/api/v1/exceptions", (*states, ("limit", str(QUEUE_PAGE)))),
            Request("/api/v1/exceptions", (*states, ("overdue", "true"), ("limit", "1"))),
        ]
    )
    st.subheader("Exception queue")
    if not isinstance(queue_o, Ok):
        show_problem(queue_o, "Exception queue", "The tile appears once the collector serves /api/v1/exceptions.")
        return
    queue = data(queue_o) or {}
    cases = [c for c in queue.get("cases", []) if isinstance(c, dict)]
    total = int(queue.get("total") or 0)
    overdue = (data(overdue_o) or {}).get("total") if isinstance(overdue_o, Ok) else None
    with st.container(border=True):
        cols = st.columns(3)
        cols[0].metric("Open cases", total, help="Cases not closed: open, acknowledged, in progress or waiting")
        cols[1].metric("Past their SLA", "—" if overdue is None else overdue, help="Not closed and past the due time")
        cols[2].metric("Teams owning them", len({c.get("owner_team") for c in cases}) if cases else 0)
        part = f" (the {QUEUE_PAGE} cases with most at stake)" if total > len(cases) else ""
        st.markdown(f"**Money at stake:** {esc(money_text(money_totals(cases)))}{part}, per currency")
        st.page_link("app_pages/exceptions.py", label="Work the exception queue", icon=":material/arrow_forward:")
