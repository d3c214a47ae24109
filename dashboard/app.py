"""The Streamlit entry script (`streamlit run dashboard/app.py`, or `syncwatch dashboard`): pages and sidebar."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard.access import account, gate
from dashboard.api import Failed, Ok, Request
from dashboard.format import esc
from dashboard.ui import answer_cache, fetch, service, settings

__all__: list[str] = []

HERE = Path(__file__).parent

st.set_page_config(page_title="SyncWatch", page_icon=":material/sync_problem:", layout="wide")

PAGES = [
    st.Page(HERE / "app_pages/overview.py", title="Overview", icon=":material/dashboard:", url_path="overview",
            default=True),
    st.Page(HERE / "app_pages/sli_detail.py", title="SLI detail", icon=":material/monitoring:", url_path="sli"),
    st.Page(HERE / "app_pages/record_trace.py", title="Record trace", icon=":material/timeline:", url_path="trace"),
    st.Page(HERE / "app_pages/probes.py", title="Probes & reconciliation", icon=":material/fact_check:",
            url_path="probes"),
    st.Page(HERE / "app_pages/exceptions.py", title="Exceptions", icon=":material/assignment_late:",
            url_path="exceptions"),
    st.Page(HERE / "app_pages/alerts.py", title="Alerts", icon=":material/notifications_active:", url_path="alerts"),
    st.Page(HERE / "app_pages/ingest.py", title="Ingest health", icon=":material/input:", url_path="ingest"),
    st.Page(HERE / "app_pages/weekly_report.py", title="Weekly report", icon=":material/summarize:",
            url_path="weekly-report"),
]  # fmt: skip

# Signed out (or signed in without a scope), the gate draws the sign-in screen: no page runs and no data is asked
# for. The pages are still registered (hidden), so a shared link such as /trace?key=... opens after the sign-in.
principal = gate(settings(), service())
page = st.navigation(PAGES, position="sidebar" if principal else "hidden")
if principal is None:
    st.stop()

# Before the page: pages may st.stop() early (an empty search, a stage not deployed), which would skip this.
with st.sidebar:
    account(principal)
    (ready,) = fetch([Request.of("/readyz")])
    where = esc(principal.client.base_url)
    if isinstance(ready, Ok) and isinstance(ready.data, dict) and ready.data.get("status") == "ready":
        st.caption(f":green[●] collector ready · {where}")
    elif isinstance(ready, Ok) or (isinstance(ready, Failed) and ready.status == 503):
        st.caption(f":orange[●] collector not ready · {where}")
    else:
        st.caption(f":red[●] collector unreachable · {where}")
    if st.button("Refresh now", icon=":material/refresh:", help="Drop cached answers and ask the collector again"):
        answer_cache().clear()
        st.rerun()

page.run()
