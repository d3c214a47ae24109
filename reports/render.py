"""The weekly report as HTML (a Jinja2 template, inline CSS, autoescaped) and as PDF (WeasyPrint, from the same
HTML: A4, the firm, the week and the generation time on every page, text kept as text)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from reports.charts import sparkline, trend

__all__ = ["render_html", "render_pdf"]

STATUS_WORDS = {
    "ok": "on target",
    "warning": "slightly off target",
    "breach": "off target",
    "partial": "incomplete data",
    "no_data": "no data",
}


def _day(value: str) -> str:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return f"{moment:%a} {moment.day} {moment:%b %Y}"


def _last_day(value: str) -> str:
    """The last day of a window that ends at midnight: Monday 00:00 ends the week on Sunday."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")) - timedelta(microseconds=1)
    return f"{moment:%a} {moment.day} {moment:%b %Y}"


def _moment(value: str | None, year: bool = False) -> str:
    if not value:
        return ""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    day = f"{moment:%a} {moment.day} {moment:%b}" + (f" {moment:%Y}" if year else "")
    return f"{day} {moment:%H:%M} UTC"


def _duration(minutes: float | None, missing: str = "not resolved") -> str:
    if minutes is None:
        return missing
    if minutes < 90:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} days"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(day=_day, last_day=_last_day, moment=_moment, duration=_duration, status_word=STATUS_WORDS.get)
    env.globals.update(sparkline=sparkline, trend=trend)
    return env


_ENV = _environment()


def render_html(report: dict[str, Any]) -> str:
    """The report model (reports/weekly.py) as one self-contained HTML page."""
    return _ENV.get_template("weekly.html.j2").render(r=report, statuses=STATUS_WORDS)


def render_pdf(report: dict[str, Any]) -> bytes:
    """The same HTML laid out as an A4 PDF (WeasyPrint; needs Debian's Pango, see scripts/system-deps.sh)."""
    from weasyprint import HTML  # imported on first use: it loads Pango

    pdf: bytes = HTML(string=render_html(report), url_fetcher=_nothing_fetched).write_pdf()
    return pdf


def _nothing_fetched(url: str, *args: Any, **kwargs: Any) -> Any:
    """The report is self-contained: no URL is ever fetched while it is laid out, whatever its text says."""
    raise ValueError(f"the report fetches nothing ({url[:60]!r})")
