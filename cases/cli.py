"""`syncwatch exceptions list|show|assign|resolve`: the exception queue of a running collector, through its API.

It talks to the collector in this directory (its local admin file), or to --url with --token (SYNCWATCH_TOKEN:
scope read to list and show, operate to act). The actor in the audit log is the token's name.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

import typer
from rich.markup import escape

from cases.routing import check_routing
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

__all__ = ["exceptions_app"]

exceptions_app = typer.Typer(no_args_is_help=True, help="The exception queue: cases with owners, SLA and money.")
exceptions_app.command("check-routing")(check_routing)  # routing as code, checked offline (cases/routing.py)

UrlOpt = Annotated[str | None, typer.Option("--url", help="collector base URL (default: the local one)")]
TokenOpt = Annotated[
    str | None, typer.Option("--token", envvar="SYNCWATCH_TOKEN", help="API token (read to list, operate to act)")
]


def _client(url: str | None, token: str | None) -> CollectorClient:
    if url is None or token is None:
        settings = Settings()
        found = local_collector(settings)
        if found is None:
            fail(f"no running collector here (none alive in {settings.local_admin_file}); pass --url and --token")
        url, token = url or found.url, token or found.admin_token
    return CollectorClient(url, token)


def _row(*cells: object) -> list[str]:
    """Table cells as text: notes, reasons and details come from people and events, never rich markup."""
    return [escape(str(cell)) for cell in cells]


def _money(money: dict[str, float]) -> str:
    return ", ".join(f"{amount:,.2f} {currency}" for currency, amount in sorted(money.items())) or "-"


@exceptions_app.command("list")
def list_cases(
    state: Annotated[list[str] | None, typer.Option("--state", help="open, acknowledged, ...; repeat")] = None,
    owner: Annotated[str | None, typer.Option("--owner", help="owner team")] = None,
    cause: Annotated[str | None, typer.Option("--cause", help="e.g. erp_rejection:PERIOD_CLOSED")] = None,
    tenant: Annotated[str | None, typer.Option("--tenant")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 50,
    offset: Annotated[int, typer.Option("--offset", min=0)] = 0,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Cases ranked by money at stake x age (filters combine)."""
    query: list[tuple[str, Any]] = [("state", s) for s in state or []]
    query += [(k, v) for k, v in (("owner", owner), ("cause", cause), ("tenant", tenant)) if v is not None]
    query += [("limit", limit), ("offset", offset)]
    with _client(url, token) as client:
        page = call_or_fail(client, "GET", f"/api/v1/exceptions?{urlencode(query)}")
    if as_json:
        print_json(page)
        return
    rows = table("id", "state", "owner", "cause", "key", "money", "opened", "due", "assignee",
                 fixed=("id", "state", "opened", "due"))  # fmt: skip
    for c in page["cases"]:
        due = c["due_at"][:16] + ("!" if c["overdue"] else "")
        rows.add_row(*_row(c["case_id"], c["state"], c["owner_team"], c["cause"], c["business_key"],
                           _money(c["money"]), c["opened_at"][:16], due, c["assignee"] or "-"))  # fmt: skip
    print_table(rows)
    more = f"; next: --offset {page['next_offset']}" if page["next_offset"] is not None else ""
    typer.echo(f"{len(page['cases'])} of {page['total']} case(s){more}", err=True)


@exceptions_app.command("show")
def show(
    case_id: Annotated[str, typer.Argument(help="the case id, e.g. EX-...")],
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """One case and its full history."""
    with _client(url, token) as client:
        case = call_or_fail(client, "GET", f"/api/v1/exceptions/{quote(case_id, safe='')}")
    if as_json:
        print_json(case)
        return
    fields = table("field", "value", fixed=("field",))
    for name in ("case_id", "state", "cause", "business_key", "severity", "owner_team", "assignee", "tenant",
                 "project", "consultant", "flow", "detail", "occurrences", "opened_at", "last_seen", "due_at",
                 "waiting_reason", "resolution", "resolution_note", "journey"):  # fmt: skip
        fields.add_row(*_row(name, case[name] if case[name] not in (None, "") else "-"))
    fields.add_row(*_row("money", _money(case["money"])))
    print_table(fields)
    log = table("at", "who", "action", "what", fixed=("at", "action"))
    for h in case["history"]:
        what = "; ".join(f"{k}: {h['before'].get(k, '')} -> {v}" for k, v in h["after"].items())
        detail = ", ".join(f"{k}={v}" for k, v in h["detail"].items())
        log.add_row(*_row(h["at"][:19], h["actor"], h["action"], "; ".join(x for x in (detail, what) if x)))
    print_table(log)


def _act(case_id: str, body: dict[str, str], url: str | None, token: str | None) -> dict[str, Any]:
    with _client(url, token) as client:
        answer: dict[str, Any] = call_or_fail(
            client, "POST", f"/api/v1/exceptions/{quote(case_id, safe='')}/actions", body
        )
    return answer


@exceptions_app.command("assign")
def assign(
    case_id: Annotated[str, typer.Argument()],
    team: Annotated[str, typer.Option("--team", help="the owner team")] = "",
    assignee: Annotated[str, typer.Option("--to", help="the person")] = "",
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Give a case to a team, a person, or both."""
    if not team and not assignee:
        fail("name a --team, a person (--to) or both")
    case = _act(case_id, {"action": "assign", "team": team, "assignee": assignee}, url, token)
    typer.echo(f"{case['case_id']}: owner {case['owner_team']}, assignee {case['assignee'] or '-'}")


@exceptions_app.command("resolve")
def resolve(
    case_id: Annotated[str, typer.Argument()],
    code: Annotated[str, typer.Option("--code", help="resolution code, e.g. fixed_in_erp")],
    note: Annotated[str, typer.Option("--note", help="what was done")] = "",
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Close a case by hand; new evidence of the same problem reopens it."""
    case = _act(case_id, {"action": "resolve", "code": code, "note": note}, url, token)
    typer.echo(f"{case['case_id']}: {case['state']} ({case['resolution']})")


@exceptions_app.command("bulk")
def bulk(
    action: Annotated[str, typer.Argument(help="acknowledge, assign or resolve")],
    ids: Annotated[list[str] | None, typer.Option("--id", help="a case id; repeat (or use the filters)")] = None,
    state: Annotated[list[str] | None, typer.Option("--state", help="filter: open, acknowledged, ...; repeat")] = None,
    owner: Annotated[str | None, typer.Option("--owner", help="filter: owner team")] = None,
    cause: Annotated[str | None, typer.Option("--cause", help="filter: e.g. erp_rejection:PERIOD_CLOSED")] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", help="filter: tenant")] = None,
    due_before: Annotated[str | None, typer.Option("--due-before", help="filter: due by then (ISO time)")] = None,
    team: Annotated[str, typer.Option("--team", help="assign: the owner team")] = "",
    assignee: Annotated[str, typer.Option("--to", help="assign: the person")] = "",
    code: Annotated[str, typer.Option("--code", help="resolve: resolution code")] = "",
    note: Annotated[str, typer.Option("--note", help="resolve: what was done")] = "",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="list the cases, change nothing")] = False,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """One action on many cases (by --id, or by the filters), each audited on its own; at most 500 at once."""
    if action not in ("acknowledge", "assign", "resolve"):
        fail(f"action: {action!r} is not one of acknowledge, assign, resolve")
    filters = {"state": state or [], "owner": owner, "cause": cause, "tenant": tenant, "due_before": due_before}
    named = {k: v for k, v in filters.items() if v}
    if bool(ids) == bool(named):
        fail("name the cases with --id (repeat) or with filters (--state, --owner, --cause, --tenant, --due-before)")
    body: dict[str, Any] = {"action": action, "team": team, "assignee": assignee, "code": code, "note": note,
                            "dry_run": dry_run}  # fmt: skip
    body.update({"ids": ids} if ids else {"filter": named})
    with _client(url, token) as client:
        answer = call_or_fail(client, "POST", "/api/v1/exceptions/actions", body)
    if as_json:
        print_json(answer)
        return
    if dry_run:
        typer.echo(f"{answer['count']} case(s) would be changed by {action} (dry run):")
        for case_id in answer["ids"]:
            typer.echo(f"  {case_id}")
    else:
        typer.echo(f"{action}: {len(answer['applied'])} case(s) changed, {len(answer['refused'])} refused")
        for r in answer["refused"]:
            typer.echo(f"  {r['case_id']}: {r['error']}", err=True)
    for case_id in answer["unknown"]:
        typer.echo(f"  unknown case {case_id}", err=True)


@exceptions_app.command("replay")
def replay(
    case_id: Annotated[str, typer.Argument(help="a dead_letter case, e.g. EX-...")],
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Ask the middleware to replay a dead letter's message; the case closes when the replayed message arrives."""
    answer = _act(case_id, {"action": "request_replay"}, url, token)
    typer.echo(f"{answer['case_id']}: {answer['replay']['message']}; message {answer['business_key']}")
