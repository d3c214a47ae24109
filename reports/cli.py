"""`syncwatch report weekly`: the weekly sync-health report of a running collector, as PDF, HTML or JSON;
`syncwatch report list`: the reports it has archived and where they were delivered; `syncwatch report run`: what
the schedule does, for one week, now.

The collector computes the report (GET /api/v1/reports/weekly/{week}); this command renders the JSON it answers
with the same templates the collector uses, so the PDF is the same whether it comes from here or the API. It talks
to the collector in this directory (its local admin file), or to --url with --token (SYNCWATCH_TOKEN, read scope).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import typer
from rich.console import Console

from reports.render import render_html, render_pdf
from reports.weeks import last_complete_week, parse_week, week_label
from syncwatch.cli_shared import (
    CollectorClient,
    JsonOpt,
    call_or_fail,
    fail,
    local_collector,
    print_json,
    print_table,
    table,
)
from syncwatch.settings import Settings

__all__ = ["report_app"]

report_app = typer.Typer(no_args_is_help=True, help="Reports for executives: the weekly sync-health report.")
errors = Console(stderr=True)


class Format(StrEnum):
    pdf = "pdf"
    html = "html"
    json = "json"


def _week(text: str | None) -> str:
    if text is None:  # the week that is over for the firm: its zone's Sunday has ended, and UTC's
        return week_label(*last_complete_week(datetime.now(UTC), ZoneInfo(Settings().report_timezone)))
    try:
        return week_label(*parse_week(text))
    except ValueError as exc:
        fail(f"--week: {exc}")


def _fetch(path: str, url: str | None, token: str | None, method: str = "GET") -> Any:
    if url is None or token is None:
        settings = Settings()
        found = local_collector(settings)
        if found is None:
            fail(f"no running collector here (none alive in {settings.local_admin_file}); pass --url and --token")
        url, token = url or found.url, token or found.admin_token
    # Twelve weeks of every SLI are evaluated: longer than a listing takes.
    with CollectorClient(url, token, timeout=300) as client:
        return call_or_fail(client, method, path)


WeekOpt = Annotated[
    str | None,
    typer.Option("--week", help="ISO week, e.g. 2026-W10 (default: the last complete, SYNCWATCH_REPORT_TIMEZONE)"),
]
OutOpt = Annotated[Path | None, typer.Option("--out", help="file (default: syncwatch-weekly-WEEK.FORMAT; -: stdout)")]
UrlOpt = Annotated[str | None, typer.Option("--url", help="collector base URL (default: the local one)")]
TokenOpt = Annotated[str | None, typer.Option("--token", envvar="SYNCWATCH_TOKEN", help="API token (read scope)")]


@report_app.command("weekly")
def weekly(
    week: WeekOpt = None,
    tenant: Annotated[str | None, typer.Option("--tenant", help="one legal entity's figures")] = None,
    format: Annotated[Format, typer.Option("--format", help="pdf, html or json")] = Format.pdf,
    out: OutOpt = None,
    firm: Annotated[str, typer.Option("--firm", help="the firm's name printed on every page")] = "",
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Write the weekly report of one ISO week, computed by the running collector."""
    label = _week(week)
    query = {k: v for k, v in {"tenant": tenant, "firm": firm}.items() if v}
    report = _fetch(f"/api/v1/reports/weekly/{label}" + (f"?{urlencode(query)}" if query else ""), url, token)
    if format is Format.json:
        import json

        body = (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode()
    elif format is Format.html:
        body = render_html(report).encode()
    else:
        body = render_pdf(report)
    if out is not None and str(out) == "-":
        sys.stdout.buffer.write(body)
        sys.stdout.buffer.flush()
        return
    target = out or Path(f"syncwatch-weekly-{label}{'-' + tenant if tenant else ''}.{format.value}")
    target.write_bytes(body)
    errors.print(f"wrote {target} (week {label}, {report['from']} to {report['to']})", highlight=False)


@report_app.command("run")
def run(
    week: WeekOpt = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="replace the archived copies")] = False,
    json_out: JsonOpt = False,
    url: UrlOpt = None,
    token: Annotated[
        str | None, typer.Option("--token", envvar="SYNCWATCH_TOKEN", help="API token (admin scope)")
    ] = None,
) -> None:
    """Make, archive and deliver one week's reports now, as the schedule does (e.g. a week it missed)."""
    label = _week(week)
    answer = _fetch(f"/api/v1/reports/weekly/{label}/run" + ("?rebuild=true" if rebuild else ""), url, token, "POST")
    if json_out:
        print_json(answer)
        return
    _print_reports(answer["reports"])


@report_app.command("list")
def list_reports(
    tenant: Annotated[str | None, typer.Option("--tenant", help="one legal entity's (all: the firm-wide ones)")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=520, help="at most this many")] = 52,
    json_out: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """List the archived weekly reports, newest first, with how their delivery went."""
    query = {k: v for k, v in {"tenant": tenant, "limit": limit}.items() if v is not None}
    answer = _fetch(f"/api/v1/reports/weekly?{urlencode(query)}", url, token)
    if json_out:
        print_json(answer)
        return
    _print_reports(answer["reports"])
    if not answer["reports"]:
        errors.print("no archived report yet", highlight=False)


def _print_reports(reports: list[dict[str, Any]]) -> None:
    rows = table("week", "tenant", "generated", "version", "delivery", "failures",
                 fixed=("week", "generated", "version", "delivery"))  # fmt: skip
    for r in reports:
        failures = "; ".join(
            f"{d['receiver']} {d['integration']}: {d['last_error']}" for d in r["deliveries"] if d["last_error"]
        )
        rows.add_row(r["week"], r["tenant"] or "all", r["generated_at"], str(r["version"]), r["delivery_status"],
                     failures)  # fmt: skip
    print_table(rows)
