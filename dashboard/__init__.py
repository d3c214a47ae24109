"""The operations console: a Streamlit app on the collector's HTTP read API (never the warehouse).

`syncwatch dashboard` serves it (dashboard/cli.py); dashboard/app.py is the Streamlit entry script and
dashboard/app_pages/ its pages. See docs/dashboard.md.
"""
