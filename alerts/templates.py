"""Summary and description templates: Jinja2 in a sandbox, with StrictUndefined so a typo fails at load.

A template sees the numbers of its alert (see `SAMPLE_CONTEXT` for every name) and a few filters that write
them the way on-call reads them: `money` ("USD 41,200"), `pct` ("97.3%"), `duration` ("26 h"), `thousands`,
`num` ("1,234.5", "n/a" for no value).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

__all__ = ["SAMPLE_CONTEXT", "check_template", "format_duration_human", "format_money", "render"]


def format_money(amount: float | Decimal | None, currency: str = "") -> str:
    if amount is None:
        return "an unknown amount"
    whole = f"{float(amount):,.0f}"
    return f"{currency} {whole}".strip()


def format_duration_human(seconds: float | None) -> str:
    if seconds is None:
        return "an unknown time"
    s = float(seconds)
    if s >= 2 * 86400:
        return f"{s / 86400:.1f} days".replace(".0 ", " ")
    if s >= 2 * 3600:
        return f"{s / 3600:.0f} h"
    if s >= 120:
        return f"{s / 60:.0f} min"
    return f"{s:.0f} s"


def _pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{float(value) * 100:.{digits}f}%"


def _num(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{float(value):,.{digits}f}"


def _thousands(value: float | None) -> str:
    return "n/a" if value is None else f"{float(value):,.0f}"


_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True)
_ENV.filters.update(money=format_money, pct=_pct, duration=format_duration_human, thousands=_thousands, num=_num)


class _AnyDetails(dict[str, Any]):
    """`details` is free-form (metrics stage): at load time any key reads as a number."""

    def __missing__(self, key: str) -> float:
        return 1.0


class _AnyText(dict[str, Any]):
    """A finding's `detail` is free-form (each probe's own keys): at load time any key reads as a text."""

    def __missing__(self, key: str) -> str:
        return "sample"


# Every name a template may use, with a plausible value: load-time checks render against it.
SAMPLE_CONTEXT: dict[str, Any] = {
    "rule": "Sample",
    "severity": "critical",
    "team": "finance-systems",
    "labels": {"alertname": "Sample"},
    "value": 1.0,
    "threshold": 0.0,
    "op": ">",
    "sli": "time_posting_first_pass",
    "dimension": "flow",
    "key": "psa-to-erp-time",
    "flow": "psa-to-erp-time",  # a probe_finding rule's split_by value, under the key's name
    "owner_team": "finance-ops",  # the exception queue rules' split_by value (alerts/warehouse_signals.py)
    "key_text": " on flow psa-to-erp-time",
    "sli_value": 0.97,
    "objective": 0.98,
    "good": 97.0,
    "total": 100.0,
    "bad": 3.0,
    "status": "breach",
    "budget_remaining": 0.5,
    "budget_text": "50% of the error budget left",
    "short_burn": 2.0,
    "window": "5m",
    "window_judged": 40.0,
    "window_bad": 22.0,
    "details": _AnyDetails(),
    "coverage_text": "12 unknown_billing_type (EUR 41,200)",
    "count": 37,
    "amounts": [("USD", 41200.0)],
    "money_text": "USD 41,200",
    "min_age": 86400.0,
    "oldest_age": 90000.0,
    "top_projects": [("PRJ-1", 12, "USD 9,000")],
    "top_projects_text": "PRJ-1 (12, USD 9,000)",
    "top_records": [
        {"object_id": "TE-1", "project_code": "PRJ-1", "amount": "USD 1,000", "age": "26 h", "detail": _AnyText()}
    ],
    "top_records_text": "TE-1",
    "finding": "approved_not_posted",
    "probe": "erp-posting",
    "system": "erp",
    "outcome": "failed",
    "error": "",
    "age": 120.0,
    "max_age": 90.0,
}


def check_template(text: str) -> None:
    """Raises ValueError when the template does not parse or uses a name the context lacks."""
    try:
        _ENV.from_string(text).render(SAMPLE_CONTEXT)
    except TemplateError as exc:
        raise ValueError(f"template error: {exc}") from exc


def render(text: str, context: Mapping[str, Any]) -> str:
    """Render for a live alert; a runtime failure yields a marked text rather than no alert at all."""
    try:
        return _ENV.from_string(text).render({**SAMPLE_CONTEXT, **_blank(SAMPLE_CONTEXT), **context}).strip()
    except (TemplateError, TypeError, ValueError) as exc:
        return f"[template error: {exc}] {context.get('rule', '')} value={context.get('value')}"


def _blank(sample: Mapping[str, Any]) -> dict[str, Any]:
    # Names the evaluator did not fill render empty, never with the sample's invented numbers.
    empty: dict[str, Any] = {}
    for name, value in sample.items():
        if isinstance(value, str):
            empty[name] = ""
        elif isinstance(value, list | dict):
            empty[name] = type(value)()
        else:
            empty[name] = None
    return empty
