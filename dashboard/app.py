"""The Streamlit entry script (`streamlit run dashboard/app.py`, or `syncwatch dashboard`): pages and sidebar."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard.api import Failed, Ok, Request
from dashboard.ui import answer_cache, api, fetch

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
    st.Page(HERE / "app_pages/alerts.py", title="Alerts", icon=":material/notifications_active:", url_path="alerts"),
    st.Page(HERE / "app_pages/ingest.py", title="Ingest health", icon=":material/input:", url_path="ingest"),
]  # fmt: skip

page = st.navigation(PAGES)

# Before the page: pages may st.stop() early (an empty search, a stage not deployed), which would skip this.
with st.sidebar:
    client = api()
    (ready,) = fetch([Request.of("/readyz")])
    if isinstance(ready, Ok) and isinstance(ready.data, dict) and ready.data.get("status") == "ready":
        st.caption(f":green[●] collector ready · {client.base_url}")
    elif isinstance(ready, Ok) or (isinstance(ready, Failed) and ready.status == 503):
        st.caption(f":orange[●] collector not ready · {client.base_url}")
    else:
        st.caption(f":red[●] collector unreachable · {client.base_url}")
    if st.button("Refresh now", icon=":material/refresh:", help="Drop cached answers and ask the collector again"):
        answer_cache().clear()
        st.rerun()

page.run()
