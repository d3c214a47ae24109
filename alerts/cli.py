"""`syncwatch rules ...` (check, export) and `syncwatch alerts ...` (list, history, ack, silence create/list/expire).

Alert commands talk to a running collector: the one in this directory (its local admin file), or --url with
--token (SYNCWATCH_TOKEN). Rule commands only read the YAML.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import httpx
import orjson
import typer
from rich.console import Console
from rich.table import Table

from alerts.config import load_config
from alerts.errors import ConfigError
from alerts.matchers import parse_matcher
from alerts.promexport import render_rule_file
from syncwatch.durations import parse_duration
from syncwatch.settings import Settings

__all__ = ["alerts_app", "rules_app"]

rules_app = typer.Typer(no_args_is_help=True, help="Alert rules as code: validate, export for Prometheus.")
alerts_app = typer.Typer(no_args_is_help=True, help="Active alerts, history, acknowledgements, silences.")
silence_app = typer.Typer(no_args_is_help=True, help="Silences: create, list, expire.")
alerts_app.add_typer(silence_app, name="silence")
errors = Console(stderr=True)


def _out() -> Console:
    # Built per command, so COLUMNS (scripts, tests) is read when the table is printed.
    return Console()


ConfigOpt = Annotated[Path | None, typer.Option("--config", help="rules file (default: settings, else packaged)")]
UrlOpt = Annotated[str | None, typer.Option("--url", help="collector base URL (default: the local one)")]
TokenOpt = Annotated[str | None, typer.Option("--token", envvar="SYNCWATCH_TOKEN", help="API token")]


def _fail(message: str) -> None:
    errors.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(2)


def _config(path: Path | None) -> Any:
    try:
        return load_config(path or Settings().alerts_config_file)
    except ConfigError as exc:
        _fail(str(exc))


@rules_app.command("check")
def rules_check(config: ConfigOpt = None) -> None:
    """Validate the rules file; errors name the rule and the field."""
    loaded = _config(config)
    table = Table("rule", "kind", "severity", "team", "for")
    for r in loaded.rules:
        table.add_row(r.name, r.kind, r.severity, r.team, f"{r.for_:g}s")
    _out().print(table)
    _out().print(f"{len(loaded.rules)} rules, {len(loaded.receivers)} receivers: OK ({loaded.source})")


@rules_app.command("export")
def rules_export(
    config: ConfigOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="write here instead of stdout")] = None,
) -> None:
    """Write the rules as a Prometheus rule file over SyncWatch's /metrics series (passes promtool check rules)."""
    text = render_rule_file(_config(config), Settings().alerts_evaluation_interval_seconds)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        errors.print(f"wrote {out}")


def _call(method: str, path: str, url: str | None, token: str | None, body: Any = None) -> Any:
    if url is None or token is None:
        settings = Settings()
        info_path = settings.local_admin_file
        if not info_path.exists():
            _fail("no running collector here (no local admin file); pass --url and --token")
        info = orjson.loads(info_path.read_bytes())
        try:
            os.kill(int(info["pid"]), 0)
        except (OSError, ValueError, KeyError):
            _fail(f"the collector recorded in {info_path} is not running; pass --url and --token")
        url, token = url or info["url"], token or info["admin_token"]
    assert url is not None
    try:
        response = httpx.request(
            method, url.rstrip("/") + path, json=body, timeout=30, headers={"Authorization": f"Bearer {token}"}
        )
    except httpx.HTTPError as exc:
        _fail(f"the collector at {url} did not answer: {exc}")
        raise
    if response.status_code >= 400:
        _fail(f"HTTP {response.status_code}: {response.json().get('error', response.text)}")
    return response.json()


@alerts_app.command("list")
def alerts_list(url: UrlOpt = None, token: TokenOpt = None, state: str | None = None) -> None:
    """Pending, firing and recently resolved alerts."""
    answer = _call("GET", "/api/v1/alerts" + (f"?state={state}" if state else ""), url, token)
    table = Table("fingerprint", "state", "severity", "rule", "since", "summary", "ack")
    for a in answer["alerts"]:
        table.add_row(
            a["fingerprint"],
            a["state"],
            a["severity"],
            a["rule"],
            a["active_since"] or "",
            a["annotations"].get("summary", ""),
            a["acknowledged_by"] or "",
        )
    _out().print(table)


@alerts_app.command("history")
def alerts_history(url: UrlOpt = None, token: TokenOpt = None, limit: int = 50) -> None:
    """State transitions, newest first."""
    answer = _call("GET", f"/api/v1/alerts/history?limit={limit}", url, token)
    table = Table("time", "rule", "from", "to", "summary")
    for h in answer["history"]:
        table.add_row(h["time"], h["rule"], h["from_state"], h["to_state"], h["summary"])
    _out().print(table)


@alerts_app.command("ack")
def alerts_ack(fingerprint: str, url: UrlOpt = None, token: TokenOpt = None, comment: str = "") -> None:
    """Acknowledge an alert: no more repeats, PagerDuty acknowledges the incident."""
    answer = _call("POST", f"/api/v1/alerts/{fingerprint}/ack", url, token, {"comment": comment})
    _out().print(f"acknowledged {fingerprint} as {answer['acknowledged_by']}")


@silence_app.command("create")
def silence_create(
    matcher: Annotated[list[str], typer.Option("--matcher", "-m", help='e.g. flow="psa-to-erp-time"; repeatable')],
    comment: Annotated[str, typer.Option("--comment")],
    duration: Annotated[str, typer.Option("--duration", help="e.g. 2h")] = "2h",
    created_by: Annotated[str, typer.Option("--by")] = "",
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Silence alerts whose labels match every matcher, until now + duration."""
    try:
        parsed = [parse_matcher(m) for m in matcher]
        ends = datetime.now(UTC) + timedelta(seconds=parse_duration(duration))
    except ValueError as exc:
        _fail(str(exc))
        return
    body = {
        "matchers": [m.to_json() for m in parsed],
        "ends_at": ends.isoformat(),
        "created_by": created_by or os.environ.get("USER", "cli"),
        "comment": comment,
    }
    answer = _call("POST", "/api/v1/silences", url, token, body)
    typer.echo(answer["id"])
    errors.print(f"silenced until {answer['ends_at']}")


@silence_app.command("list")
def silence_list(url: UrlOpt = None, token: TokenOpt = None) -> None:
    answer = _call("GET", "/api/v1/silences", url, token)
    table = Table("id", "state", "matchers", "ends", "by", "comment")
    for s in answer["silences"]:
        matchers = ", ".join(f"{m['name']}{'=~' if m['is_regex'] else '='}{m['value']}" for m in s["matchers"])
        table.add_row(s["id"], s["state"], matchers, s["ends_at"], s["created_by"], s["comment"])
    _out().print(table)


@silence_app.command("expire")
def silence_expire(silence_id: str, url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Expire a silence now."""
    _call("DELETE", f"/api/v1/silences/{silence_id}", url, token)
    _out().print(f"silence {silence_id} expired")
