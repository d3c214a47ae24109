"""Weekly report: pick a week from the archive (or a recent week not archived), read the report as the executives
get it, download its PDF and see where it was delivered. ?week=&tenant= in the URL.

The report is the collector's JSON model (GET /api/v1/reports/weekly/{week}/archived, or the week's route when it
is not archived) rendered by the same autoescaped template as the PDF (reports/render.py) and shown in an iframe,
so its styles stay out of the console's page and its text stays text.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pandas as pd
import streamlit as st
import streamlit.components.v1 as components

from dashboard.api import Ok, Request
from dashboard.format import esc
from dashboard.ui import fetch, finding, param, set_params, show_problem
from reports.render import render_html, render_pdf
from reports.weeks import last_complete_week, week_label, weeks_before

st.title("Weekly report")
RECENT_WEEKS = 8  # complete weeks offered even when not archived (computed when picked)
ALL = "all"
STATUS = {
    "delivered": ("good", "Delivered to every receiver."),
    "pending": ("warn", "A delivery failed and is retried."),
    "failed": ("bad", "A delivery failed for good."),
    "none": ("good", "Archived; no receiver is configured for this report."),
}

(listing_o,) = fetch([Request.of("/api/v1/reports/weekly", limit=104)])
if not isinstance(listing_o, Ok):
    show_problem(listing_o, "Weekly reports", "The archive appears once the collector makes weekly reports.")
    st.stop()
entries: list[dict[str, Any]] = [e for e in (listing_o.data or {}).get("reports", []) if isinstance(e, dict)]
archived = {(str(e.get("week")), str(e.get("tenant") or ALL)): e for e in entries}
recent = [week_label(*w) for w in weeks_before(*last_complete_week(datetime.now(UTC)), RECENT_WEEKS)]
weeks = sorted({w for w, _ in archived} | set(recent), reverse=True)
tenants = [ALL, *sorted({t for _, t in archived if t != ALL})]

left, right = st.columns([2, 1])
week = left.selectbox(
    "Week", weeks, index=weeks.index(str(param("week", weeks[0], weeks))),
    format_func=lambda w: f"{w} · archived" if any(k[0] == w for k in archived) else f"{w} · not archived",
)  # fmt: skip
tenant = right.selectbox("Legal entity", tenants, index=tenants.index(str(param("tenant", ALL, tenants))))
set_params(week=week, tenant=None if tenant == ALL else tenant)
query_tenant = None if tenant == ALL else tenant
entry = archived.get((week, tenant))

report: dict[str, Any] | None = None
pdf: bytes | Callable[[], bytes]
if entry is not None:
    (copy_o,) = fetch([Request.of(f"/api/v1/reports/weekly/{week}/archived", tenant=query_tenant)])
    if not isinstance(copy_o, Ok):
        show_problem(copy_o, f"The archived report of {week}")
        st.stop()
    copy: dict[str, Any] = copy_o.data
    report = copy["report"]
    pdf = base64.b64decode(copy.get("pdf_base64") or "")
    st.caption(f"Archived {esc(copy.get('generated_at'))} · version {esc(copy.get('version'))} · "
               f"made by SyncWatch {esc(copy.get('code_version'))}")  # fmt: skip
    level, text = STATUS.get(str(copy.get("delivery_status")), STATUS["none"])
    finding(level, f"**Delivery:** {esc(text)}")
    deliveries = copy.get("deliveries") or []
    if deliveries:
        st.dataframe(
            pd.DataFrame([{k: d.get(k) for k in ("receiver", "integration", "status", "attempts", "last_error",
                                                  "next_attempt_at", "delivered_at")} for d in deliveries]),
            hide_index=True, width="stretch",
        )  # fmt: skip
else:
    st.info(f"{esc(week)} is not archived: the report below is computed now from the collector's figures.")
    (report_o,) = fetch([Request.of(f"/api/v1/reports/weekly/{week}", tenant=query_tenant)])
    if not isinstance(report_o, Ok):
        show_problem(report_o, f"The report of {week}")
        st.stop()
    report = report_o.data
    pdf = partial(render_pdf, report_o.data)  # laid out only when the button is pressed: it takes seconds


assert report is not None
suffix = "" if tenant == ALL else f"-{tenant}"
st.download_button("Download PDF", data=pdf, file_name=f"syncwatch-weekly-{week}{suffix}.pdf",
                   mime="application/pdf", icon=":material/download:", on_click="ignore")  # fmt: skip
try:
    page = render_html(report)
except Exception as exc:  # a copy archived by an older version may lack what today's template reads
    st.warning(f"This report cannot be shown here ({esc(type(exc).__name__)}); its PDF above is the one delivered.")
else:
    components.html(page, height=1600, scrolling=True)
