"""`syncwatch rules ...` (check, export) and `syncwatch alerts ...` (list, history, ack, silence create/list/expire).

Alert commands talk to a running collector: the one in this directory (its local admin file), or --url with
--token (SYNCWATCH_TOKEN). Rule commands only read the YAML.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from alerts.config import load_config
from alerts.errors import ConfigError
from alerts.matchers import parse_matcher
from alerts.promexport import render_rule_file
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


def _config(path: Path | None) -> Any:
    try:
        return load_config(path or Settings().alerts_config_file)
    except ConfigError as exc:
        fail(str(exc))


@rules_app.command("check")
def rules_check(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Validate the rules file; errors name the rule and the field."""
    loaded = _config(config)
    if as_json:
        rules = [r.model_dump(mode="json", by_alias=True) for r in loaded.rules]
        # receiver names only: their settings may hold webhook URLs and keys
        print_json({"source": str(loaded.source), "rules": rules, "receivers": sorted(loaded.receivers)})
        return
    rows = table("rule", "kind", "severity", "team", "for", fixed=("severity", "for"))
    for r in loaded.rules:
        rows.add_row(r.name, r.kind, r.severity, r.team, f"{r.for_:g}s")
    print_table(rows)
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
        found = local_collector(settings)
        if found is None:
            fail(f"no running collector here (none alive in {settings.local_admin_file}); pass --url and --token")
        url, token = url or found.url, token or found.admin_token
    with CollectorClient(url, token) as client:
        return call_or_fail(client, method, path, body)


@alerts_app.command("list")
def alerts_list(url: UrlOpt = None, token: TokenOpt = None, state: str | None = None, as_json: JsonOpt = False) -> None:
    """Pending, firing and recently resolved alerts."""
    answer = _call("GET", "/api/v1/alerts" + (f"?state={state}" if state else ""), url, token)
    if as_json:
        print_json(answer["alerts"])
        return
    rows = table("fingerprint", "state", "severity", "rule", "since", "summary", "ack", fixed=("state", "severity"))
    for a in answer["alerts"]:
        rows.add_row(
            a["fingerprint"],
            a["state"],
            a["severity"],
            a["rule"],
            a["active_since"] or "",
            a["annotations"].get("summary", ""),
            a["acknowledged_by"] or "",
        )
    print_table(rows)


@alerts_app.command("history")
def alerts_history(url: UrlOpt = None, token: TokenOpt = None, limit: int = 50, as_json: JsonOpt = False) -> None:
    """State transitions, newest first."""
    answer = _call("GET", f"/api/v1/alerts/history?limit={limit}", url, token)
    if as_json:
        print_json(answer["history"])
        return
    rows = table("time", "rule", "from", "to", "summary", fixed=("from", "to"))
    for h in answer["history"]:
        rows.add_row(h["time"], h["rule"], h["from_state"], h["to_state"], h["summary"])
    print_table(rows)


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
        fail(str(exc))
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
def silence_list(url: UrlOpt = None, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """Active and expired silences."""
    answer = _call("GET", "/api/v1/silences", url, token)
    if as_json:
        print_json(answer["silences"])
        return
    rows = table("id", "state", "matchers", "ends", "by", "comment", fixed=("state",))
    for s in answer["silences"]:
        matchers = ", ".join(f"{m['name']}{'=~' if m['is_regex'] else '='}{m['value']}" for m in s["matchers"])
        rows.add_row(s["id"], s["state"], matchers, s["ends_at"], s["created_by"], s["comment"])
    print_table(rows)


@silence_app.command("expire")
def silence_expire(silence_id: str, url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Expire a silence now."""
    _call("DELETE", f"/api/v1/silences/{silence_id}", url, token)
    _out().print(f"silence {silence_id} expired")
