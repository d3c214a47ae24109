"""Reports for the people who do not open the console: the weekly sync-health report (docs/report.md)."""

from reports.render import render_html, render_pdf
from reports.weekly import build_weekly
from reports.weeks import last_complete_week, parse_week, week_window

__all__ = ["build_weekly", "last_complete_week", "parse_week", "render_html", "render_pdf", "week_window"]
