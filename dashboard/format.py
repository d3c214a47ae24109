"""Numbers as people read them: units, currencies, ages and statuses. Pure functions, no Streamlit."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = [
    "STATUS_COLOUR",
    "STATUS_ICON",
    "STATUS_ORDER",
    "STATUS_MATERIAL",
    "completeness",
    "left_out_rows",
    "WORD_JOINER",
    "Change",
    "age",
    "budget",
    "change",
    "count",
    "duration",
    "esc",
    "money",
    "money_at_risk",
    "money_by_currency",
    "objective_text",
    "overall_finding",
    "parse_time",
    "pretty_json",
    "percent",
    "safe_url",
    "short_error",
    "status_label",
    "thin",
    "unit_axis_title",
    "value",
    "worst_status",
]

# Worst first. no_data is not "healthy": it ranks above ok so a silent SLI is never hidden behind green; nor is
# partial (a number that looks fine only because too much was left out, metrics/coverage.py).
STATUS_ORDER: tuple[str, ...] = ("breach", "warning", "no_data", "partial", "ok")
# Glyphs every font has (emoji are missing from many Linux browsers' fonts and show as boxes).
STATUS_ICON: Mapping[str, str] = {"ok": "●", "warning": "▲", "breach": "■", "partial": "◐", "no_data": "○"}
# Material icons for Markdown contexts (Streamlit ships the font).
STATUS_MATERIAL: Mapping[str, str] = {
    "ok": ":material/check_circle:",
    "warning": ":material/warning:",
    "breach": ":material/error:",
    "partial": ":material/incomplete_circle:",
    "no_data": ":material/help:",
}
# Streamlit's named colours adapt to light and dark themes.
STATUS_COLOUR: Mapping[str, str] = {
    "ok": "green", "warning": "orange", "breach": "red", "partial": "violet", "no_data": "gray"
}  # fmt: skip
_STATUS_WORDS: Mapping[str, str] = {
    "ok": "OK", "warning": "Warning", "breach": "Breach", "partial": "Partial", "no_data": "No data"
}  # fmt: skip
# What an SLI left out, in words (metrics/coverage.py REASONS says it for the API).
_LEFT_OUT_WORDS: Mapping[str, str] = {
    "no_first_attempt_known": "seen only from a retry",
    "no_approval_known": "posted with no approval received",
    "no_project_named": "not yet picked up (project unknown)",
    "unknown_billing_type": "on projects of unknown billing type",
    "unknown_system": "from an unknown system",
    "no_change_known": "synced without their HCM change",
    "no_opening_known": "resolved with no opening received",
    "unknown_flow": "of no known flow",
}

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
    # -3.2 left is 420 % of the budget used: 320 % more than it allowed
    return f"{f * 100:.0f} %" if f >= 0 else f"spent ({-f * 100:.0f} % over)"


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
    for status in ("breach", "warning", "partial", "ok"):
        if status in seen:
            return status
    return "no_data"


def left_out_rows(coverage: Mapping[str, Any] | None) -> list[dict[str, str]]:
    """What an SLI left out, one row per reason: why (in words), how many, how much money per currency."""
    rows = []
    for reason, item in ((coverage or {}).get("left_out") or {}).items():
        amounts = (item or {}).get("money") or {}
        rows.append({
            "left out": _LEFT_OUT_WORDS.get(str(reason), str(reason)),
            "records": count((item or {}).get("count")),
            "money": " · ".join(money(a, c) for c, a in sorted(amounts.items(), key=lambda kv: -abs(kv[1])))
            or "—",
        })  # fmt: skip
    return rows


def completeness(coverage: Mapping[str, Any] | None) -> str:
    """The answer to "is this number complete?" in one line; '' when the SLI says nothing about it."""
    if not coverage:
        return ""
    considered, included = coverage.get("considered") or 0, coverage.get("included") or 0
    rows = left_out_rows(coverage)
    if not rows:
        # a gauge (a count of what waits, an age) judges no records of its own: nothing to leave out
        return f"Complete: all {count(considered)} records measured." if considered else "Complete: nothing left out."
    verdict = "Nearly complete" if coverage.get("complete") else "Incomplete"
    missing = "; ".join(
        f"{r['records']} {r['left out']}" + (f" ({r['money']})" if r["money"] != "—" else "") for r in rows
    )
    return f"{verdict}: measured {count(included)} of {count(considered)} records; left out {missing}."


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
    """An amount with its currency code; an amount whose currency nobody sent says so rather than pass for any."""
    f = _finite(amount)
    if f is None:
        return "—"
    code = (currency or "").strip().upper() or "(currency unknown)"
    return f"{f:,.0f} {code}" if abs(f) >= 100 else f"{f:,.2f} {code}"


def money_by_currency(details: Mapping[str, Any] | None) -> dict[str, float]:
    """Per-currency amounts from an SLI's free-form details ({"at_risk": {...}}, {"by_currency": {...}} or
    {"EUR": ...} shapes)."""
    if not details:
        return {}
    source = (
        details.get("at_risk")
        or details.get("by_currency")
        or details.get("amount_by_currency")
        or details.get("currencies")
        or details
    )
    out: dict[str, float] = {}
    if isinstance(source, Mapping):
        for key, val in source.items():
            amount = val.get("amount") if isinstance(val, Mapping) else val
            f = _finite(amount)
            if isinstance(key, str) and len(key) == 3 and key.isalpha() and key.isupper() and f is not None:
                out[key] = f
    return out


def money_at_risk(details: Mapping[str, Any] | None, amount: Any = None) -> str:
    """Money per currency, largest first, every amount with its code; "none at risk" when there is none. Never a
    bare number: "0.00" says neither how much nor in what."""
    by_currency = {c: a for c, a in money_by_currency(details).items() if a != 0}
    if by_currency:
        return " · ".join(money(a, c) for c, a in sorted(by_currency.items(), key=lambda kv: -abs(kv[1])))
    f = _finite(amount)
    if f is None and not details:
        return "—"
    if not f:
        return "none at risk"
    return money(f, str((details or {}).get("currency", "")))


def value(x: Any, unit: str | None, details: Mapping[str, Any] | None = None) -> str:
    """One SLI value in its unit: ratio as percent, seconds as a duration, money per currency."""
    f = _finite(x)
    if unit == "money":
        return money_at_risk(details, f) if f is not None or details else "—"
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


@dataclass(frozen=True)
class Change:
    """A tile's change chip: the text, and Streamlit's delta colour and arrow."""

    text: str
    colour: Literal["green", "red", "gray"]  # good for the SLI, bad, or no change
    arrow: Literal["up", "down", "off"]


def change(first: Any, current: Any, unit: str | None, comparison: str | None, seconds: Any) -> Change | None:
    """The change of the number shown (`current`) since the first point of the period, over the period the points
    actually cover. Green when it moved the good way for the SLI (up for `>=`, down for `<=`), red the other way,
    grey and without an arrow when it did not move (at the precision it is shown)."""
    a, b, span = _finite(first), _finite(current), _finite(seconds)
    if a is None or b is None or span is None or span <= 0 or unit == "money":
        return None
    delta = b - a
    period = "in 24 h" if span >= 23.5 * 3600 else f"in {duration(span)}"
    if unit == "ratio":
        # a ratio moves in percentage points; "+5 %" would read as relative
        shown, zero = f"{delta * 100:+.2f} pp", "0.00 pp"
    else:
        shown, zero = ("+" if delta > 0 else "") + value(delta, unit), value(0.0, unit)
    moved = shown.lstrip("+-") != zero
    if not moved:
        return Change(f"no change {period}", "gray", "off")
    better = delta > 0 if comparison == ">=" else delta < 0
    return Change(f"{shown} {period}", "green" if better else "red", "up" if delta > 0 else "down")


def overall_finding(slis: Sequence[Mapping[str, Any]]) -> tuple[str, str] | None:
    """The Overview's one-line verdict (level, Markdown) beside the list of breaches: "Every SLI meets its
    objective" only when every SLI has data and meets it; otherwise how many have no data yet, and how many are
    partial (too many records left out to say). None when there is no SLI, or when breaches or warnings (listed by
    name elsewhere) leave nothing more to say."""
    statuses = [str(s.get("status") or "no_data") for s in slis]
    if not statuses:
        return None
    missing, partial = statuses.count("no_data"), statuses.count("partial")
    parts = []
    if missing:
        parts.append(f"{missing} of {len(statuses)} SLIs {'has' if missing == 1 else 'have'} no data yet")
    if partial:
        parts.append(
            f"{partial} of {len(statuses)} {'is' if partial == 1 else 'are'} partial (too many records left "
            "out to judge)"
        )
    if "breach" in statuses or "warning" in statuses:
        return ("warn", "; ".join(parts) + ".") if parts else None
    met = statuses.count("ok")
    if met == len(statuses):
        return "good", "Every SLI meets its objective."
    if not met:
        return "warn", (f"None of the {len(statuses)} SLIs has data yet." if missing == len(statuses)
                        else "; ".join(parts) + "; none can be said to meet its objective.")  # fmt: skip
    others = "the other meets its objective" if met == 1 else f"the {met} others meet their objectives"
    return "warn", "; ".join(parts) + f"; {others}."


_MESSAGE_KEYS = ("message", "detail", "error_description", "error", "title", "reason", "msg")


def short_error(text: Any, limit: int = 90) -> str:
    """A probe's error in a line a table can hold: the message inside a JSON answer rather than the JSON itself,
    whitespace collapsed, cut at `limit` characters with an ellipsis (the full text is shown on demand)."""
    if text is None or text == "":
        return ""
    raw = str(text)
    head, brace, rest = raw.partition("{")
    message = raw
    if brace:
        try:
            found = json.loads(brace + rest[: rest.rfind("}") + 1])
        except ValueError:
            found = None
        picked = _message_of(found)
        if picked:
            message = f"{head.strip().rstrip(':')}: {picked}" if head.strip() else picked
    line = _WHITESPACE.sub(" ", message).strip()
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _message_of(found: Any, depth: int = 0) -> str | None:
    if isinstance(found, Mapping) and depth < 4:
        for key in _MESSAGE_KEYS:
            inner = found.get(key)
            if isinstance(inner, str) and inner.strip():
                return inner
            nested = _message_of(inner, depth + 1)
            if nested:
                return nested
        for inner in found.values():
            nested = _message_of(inner, depth + 1)
            if nested:
                return nested
    if isinstance(found, list) and found and depth < 4:
        return _message_of(found[0], depth + 1)
    return None
