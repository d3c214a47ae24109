"""Numbers as people read them: units, currencies, ages and statuses. Pure functions, no Streamlit."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "STATUS_COLOUR",
    "STATUS_ICON",
    "STATUS_ORDER",
    "STATUS_MATERIAL",
    "WORD_JOINER",
    "age",
    "budget",
    "count",
    "duration",
    "esc",
    "money",
    "money_by_currency",
    "objective_text",
    "parse_time",
    "pretty_json",
    "percent",
    "safe_url",
    "status_label",
    "thin",
    "unit_axis_title",
    "value",
    "worst_status",
]

# Worst first. no_data is not "healthy": it ranks above ok so a silent SLI is never hidden behind green.
STATUS_ORDER: tuple[str, ...] = ("breach", "warning", "no_data", "ok")
# Glyphs every font has (emoji are missing from many Linux browsers' fonts and show as boxes).
STATUS_ICON: Mapping[str, str] = {"ok": "●", "warning": "▲", "breach": "■", "no_data": "○"}
# Material icons for Markdown contexts (Streamlit ships the font).
STATUS_MATERIAL: Mapping[str, str] = {
    "ok": ":material/check_circle:",
    "warning": ":material/warning:",
    "breach": ":material/error:",
    "no_data": ":material/help:",
}
# Streamlit's named colours adapt to light and dark themes.
STATUS_COLOUR: Mapping[str, str] = {"ok": "green", "warning": "orange", "breach": "red", "no_data": "gray"}
_STATUS_WORDS: Mapping[str, str] = {"ok": "OK", "warning": "Warning", "breach": "Breach", "no_data": "No data"}

_UNIT_AXIS: Mapping[str, str] = {
    "ratio": "percent",
    "seconds": "hours",
    "business_days": "business days",
    "hours": "hours",
    "count": "count",
    "money": "amount",
}


# CommonMark lets any ASCII punctuation be backslash-escaped, and an escaped character is never syntax. These are
# the ones Streamlit's Markdown gives a meaning: links and images, code spans, emphasis, headings, lists, quotes,
# tables, HTML tags and entities, autolinks (the ':' and '.' of an address), colour and icon directives, LaTeX.
_MARKDOWN_SYNTAX = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$&=^])")
_WHITESPACE = re.compile(r"\s+")
# GitHub's autolinks (http://..., www...., a@b.example) are found in the text after escapes are undone, so an
# escape cannot stop them: an invisible word joiner after ':', before '@' and inside 'www.' breaks their patterns.
_AUTOLINK = re.compile(r"(?<=:)|(?=@)|(?<=www)(?=\\\.)", re.IGNORECASE)
WORD_JOINER = "\u2060"


def esc(text: object) -> str:
    """Text from events, spans, probes, the API or the URL, made safe to put inside Markdown: it shows as the
    characters it is. Runs of whitespace become one space (as the browser shows them anyway), so a value cannot
    end the surrounding paragraph or start an indented code block either. Every st.markdown, st.caption, st.info
    (and metric labels, values and help) that shows such a value passes it through here."""
    return _AUTOLINK.sub(WORD_JOINER, _MARKDOWN_SYNTAX.sub(r"\\\1", _WHITESPACE.sub(" ", str(text)).strip()))


def safe_url(url: object) -> str | None:
    """An http(s) URL for a link column, or None: a `javascript:` or `data:` runbook link would run in the
    viewer's browser."""
    if not isinstance(url, str):
        return None
    cleaned = url.strip()
    return cleaned if re.match(r"https?://[^\s]+$", cleaned, re.IGNORECASE) else None


def status_label(status: str | None) -> str:
    """Coloured Markdown: icon and word, e.g. ':red[:material/error: Breach]'."""
    status = status or "no_data"
    icon = STATUS_MATERIAL.get(status, STATUS_MATERIAL["no_data"])
    return f":{STATUS_COLOUR.get(status, 'gray')}[{icon} {esc(_STATUS_WORDS.get(status, status))}]"


def budget(remaining: Any) -> str:
    """Error budget left; below zero it is spent, and by how much matters."""
    f = _finite(remaining)
    if f is None:
        return "—"
    return f"{f * 100:.0f} %" if f >= 0 else f"spent ({f * 100:.0f} %)"


def count(x: Any) -> str:
    f = _finite(x)
    if f is None:
        return "—"
    return f"{f:,.0f}" if f == int(f) else f"{f:,.2f}"


def worst_status(statuses: list[str | None]) -> str:
    """The worst of several statuses; 'ok' beats 'no_data' only when something actually reported."""
    seen = {s or "no_data" for s in statuses}
    if not seen:
        return "no_data"
    if seen == {"no_data"}:
        return "no_data"
    for status in ("breach", "warning", "ok"):
        if status in seen:
            return status
    return "no_data"


def _finite(x: Any) -> float | None:
    if x is None or isinstance(x, bool):
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def percent(x: Any, digits: int = 2) -> str:
    f = _finite(x)
    return "—" if f is None else f"{f * 100:.{digits}f} %"


def duration(seconds: Any) -> str:
    """3 d 4 h, 2 h 5 min, 4 min 10 s, 12.3 s, 250 ms."""
    f = _finite(seconds)
    if f is None:
        return "—"
    sign = "-" if f < 0 else ""
    f = abs(f)
    if f < 1:
        return f"{sign}{f * 1000:.0f} ms"
    if f < 60:
        return f"{sign}{f:.1f} s"
    minutes, secs = divmod(int(round(f)), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{sign}{days} d {hours} h"
    if hours:
        return f"{sign}{hours} h {minutes} min"
    return f"{sign}{minutes} min {secs} s"


age = duration


def money(amount: Any, currency: str | None) -> str:
    f = _finite(amount)
    if f is None:
        return "—"
    code = (currency or "").upper()
    return f"{f:,.0f} {code}".strip() if abs(f) >= 100 else f"{f:,.2f} {code}".strip()


def money_by_currency(details: Mapping[str, Any] | None) -> dict[str, float]:
    """Per-currency amounts from an SLI's free-form details ({"by_currency": {...}} or {"EUR": ...} shapes)."""
    if not details:
        return {}
    source = details.get("by_currency") or details.get("amount_by_currency") or details.get("currencies") or details
    out: dict[str, float] = {}
    if isinstance(source, Mapping):
        for key, val in source.items():
            amount = val.get("amount") if isinstance(val, Mapping) else val
            f = _finite(amount)
            if isinstance(key, str) and len(key) == 3 and key.isalpha() and key.isupper() and f is not None:
                out[key] = f
    return out


def value(x: Any, unit: str | None, details: Mapping[str, Any] | None = None) -> str:
    """One SLI value in its unit: ratio as percent, seconds as a duration, money per currency."""
    f = _finite(x)
    if unit == "money":
        by_currency = money_by_currency(details)
        if by_currency:
            return " · ".join(money(a, c) for c, a in sorted(by_currency.items(), key=lambda kv: -abs(kv[1])))
        return money(f, str((details or {}).get("currency", ""))) if f is not None else "—"
    if f is None:
        return "—"
    if unit == "ratio":
        return percent(f)
    if unit == "seconds":
        return duration(f)
    if unit == "business_days":
        return f"{f:.2f} bus. days"
    if unit == "hours":
        return f"{f:,.1f} h"
    if unit == "count":
        return f"{f:,.0f}"
    return f"{f:,.4g}"


def objective_text(objective: Mapping[str, Any] | None, unit: str | None) -> str:
    if not objective or objective.get("target") is None:
        return "no objective"
    comparison = {">=": "≥", "<=": "≤"}.get(str(objective.get("comparison")), str(objective.get("comparison", "")))
    window = str(objective.get("window") or "")
    target = value(objective["target"], unit if unit != "money" else "count")
    # only a real window length ("30d", "24h"); an echo of the request's own range says nothing
    return f"{comparison} {target}" + (f" over {window}" if re.fullmatch(r"\d+[smhdw]", window) else "")


def unit_axis_title(unit: str | None, currency: str | None = None) -> str:
    if unit == "money" and currency:
        return f"amount ({currency})"
    return _UNIT_AXIS.get(unit or "", unit or "value")


def parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def thin(
    points: list[dict[str, Any]], limit: int, field: str = "value", keep: str = "extremes"
) -> list[dict[str, Any]]:
    """At most ~`limit` points of a time-ordered series. keep="extremes": per bucket its lowest and highest
    value, so a spike or a dip survives (a plain average would hide exactly the breach people look for);
    keep="last": the last point of each bucket, the shape for a sparkline. A browser draws 90 days of 30-second
    snapshots (259,200 points) no better than 700, and much slower."""
    if len(points) <= limit:
        return points
    if keep == "last":
        step = len(points) / limit
        return [points[min(len(points) - 1, int((i + 1) * step) - 1)] for i in range(limit)]
    values = [_finite(p.get(field)) for p in points]
    buckets = max(1, limit // 2)
    size = len(points) / buckets
    out: list[dict[str, Any]] = []
    for b in range(buckets):
        lo, hi = int(b * size), int((b + 1) * size)
        present = [(v, i) for i in range(lo, hi) if (v := values[i]) is not None]
        if not present:
            out.append(points[lo])
            continue
        low, high = min(present)[1], max(present)[1]
        out.extend(points[i] for i in sorted({low, high}))
    return out


def pretty_json(payload: Any) -> str:
    """Indented JSON for reading; text that is not JSON comes back as it is (a quarantined payload may be anything).

    Shown with st.text rather than st.code or st.json: their highlighter and tree viewer each cost a page about
    half a second of first render in the browser."""
    if isinstance(payload, str):
        text: str = payload
        try:
            payload = json.loads(text)
        except ValueError:
            return text
    return json.dumps(payload, indent=2, ensure_ascii=False, default=str)
