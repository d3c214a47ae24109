"""`syncwatch`: serve [--role ingest], worker, migrate, token create|list|revoke, and the stages' commands."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console

from alerts.cli import alerts_app, rules_app
from cases.cli import exceptions_app
from dashboard.cli import app as dashboard_app
from probes.cli import app as probes_app
from reports.cli import report_app
from syncwatch.cli_shared import (
    CollectorClient,
    JsonOpt,
    call_or_fail,
    fail,
    local_collector,
    print_json,
    print_table,
    quiet_engine_output,
    table,
)
from syncwatch.roles import Role
from syncwatch.settings import Settings
from syncwatch.warehouse import WarehouseLocked, WarehouseUnavailable, apply_migrations, connect

__all__ = ["app", "main"]

app = typer.Typer(no_args_is_help=True, help="SyncWatch: integration health for professional-services firms.")
token_app = typer.Typer(no_args_is_help=True, help="API tokens (scopes: ingest, read, operate, admin).")
app.add_typer(token_app, name="token")
app.add_typer(dashboard_app, name="dashboard")  # the operations console (dashboard/cli.py)
app.add_typer(rules_app, name="rules")  # alert rules as code (alerts/cli.py)
app.add_typer(alerts_app, name="alerts")  # active alerts, history, acks, silences
app.add_typer(probes_app, name="probes")  # scheduled reconciliation probes (probes/cli.py)
app.add_typer(report_app, name="report")  # the weekly report for executives (reports/cli.py)
app.add_typer(exceptions_app, name="exceptions")  # the exception queue: list, show, assign, resolve
console = Console()
errors = Console(stderr=True)


@app.command()
def serve(
    role: Annotated[
        str,
        typer.Option(
            "--role",
            help="all: ingest, read API and the scheduled stages (default); ingest: ingest and the read API only,"
            " for replicas behind a load balancer next to `syncwatch worker` (needs a ClickHouse server)",
        ),
    ] = "all",
) -> None:
    """Run the collector (OTLP on /v1/traces, CloudEvents on /v1/events, the read API) on SYNCWATCH_HOST:PORT."""
    if role not in ("all", "ingest"):
        fail(f"--role must be all or ingest, not {role!r} (the scheduled stages alone: `syncwatch worker`)")
    _run("all" if role == "all" else "ingest")


@app.command()
def worker() -> None:
    """Run the scheduled stages only (SLI snapshots, probes, alerts, exception cases, reports), no ingest; with a
    ClickHouse server, one worker acts at a time under a lease and the others stand by. Serves /healthz, /metrics
    and the stages' read routes on SYNCWATCH_HOST:PORT."""
    _run("worker")


def _run(role: Role) -> None:
    import uvicorn

    from collector.app import create_app
    from collector.server import server_config
    from syncwatch.logs import configure_logging

    settings = Settings()
    configure_logging(settings.log_level)
    if role != "all" and settings.embedded:
        fail(
            f"the {role} role needs a ClickHouse server (SYNCWATCH_CLICKHOUSE_URL=http(s)://...): an embedded "
            "warehouse belongs to one process, which runs everything (`syncwatch serve`)"
        )
    try:
        with quiet_engine_output():
            connect(settings)  # fail here, with a plain message, rather than deep inside the server's start-up
    except WarehouseLocked as exc:
        fail(f"{exc}. Only one process can own an embedded warehouse; stop the other one first.")
    except WarehouseUnavailable as exc:
        fail(str(exc))
    # server_config: uvicorn with the read deadlines and connection cap of collector/server.py
    uvicorn.Server(server_config(create_app(settings, role=role), settings)).run()


@app.command()
def migrate() -> None:
    """Apply pending warehouse migrations (the collector also applies them at start)."""
    settings = Settings()
    try:
        with quiet_engine_output():
            client = connect(settings)
    except WarehouseLocked:
        fail("a running collector holds the embedded warehouse; it applied every migration when it started")
    except WarehouseUnavailable as exc:
        fail(str(exc))
    applied = apply_migrations(client, settings.retention_days)
    if applied:
        for m in applied:
            console.print(f"applied {m.version:04d}_{m.name}")
    else:
        console.print("warehouse is up to date")


# -- tokens: directly in the warehouse, or through a running collector's admin API ----------------------------
def _admin_call(settings: Settings, method: str, path: str, body: Any = None) -> Any:
    """The answer of the collector running here, or None when there is none (then the CLI opens the warehouse)."""
    found = local_collector(settings)
    if found is None:
        return None
    with CollectorClient.local(found) as client:
        return call_or_fail(client, method, path, body)


def _direct(settings: Settings) -> Any:
    try:
        with quiet_engine_output():
            client = connect(settings)
    except WarehouseLocked:
        fail(
            "the embedded warehouse is held by a running collector, and its local admin file "
            f"({settings.local_admin_file}) is missing; run this command from the collector's working directory "
            "or stop the collector first"
        )
    except WarehouseUnavailable as exc:
        fail(str(exc))
    apply_migrations(client, settings.retention_days)
    return client


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option("--name", help="unique name, e.g. psa-connector")],
    scope: Annotated[list[str], typer.Option("--scope", help="ingest, read, operate or admin; repeat for several")],
) -> None:
    """Create a token and print its secret once; only a hash is stored."""
    from syncwatch.tokens import create_token

    settings = Settings()
    answer = _admin_call(settings, "POST", "/api/v1/admin/tokens", {"name": name, "scopes": scope})
    if answer is None:
        try:
            record, secret = create_token(_direct(settings), name, scope)
        except ValueError as exc:
            fail(str(exc))
        answer = {**record.public(), "token": secret}
    errors.print(f"token {answer['name']!r} with scopes {', '.join(answer['scopes'])}; shown once, store it now:")
    print(answer["token"])  # noqa: T201 - the one place a secret is printed, alone on stdout for scripts


@token_app.command("list")
def token_list(as_json: JsonOpt = False) -> None:
    """List tokens (names, scopes, dates; never secrets)."""
    from syncwatch.tokens import list_tokens

    settings = Settings()
    answer = _admin_call(settings, "GET", "/api/v1/admin/tokens")
    tokens: list[dict[str, Any]] = (
        answer if answer is not None else [t.public() for t in list_tokens(_direct(settings))]
    )
    if as_json:
        print_json(tokens)
        return
    rows = table("name", "scopes", "created", "revoked", fixed=("created", "revoked"))

    def when(ts: float | None) -> str:
        return "" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")

    for t in tokens:
        rows.add_row(t["name"], ", ".join(t["scopes"]), when(t["created_at"]), when(t["revoked_at"]))
    print_table(rows)


@token_app.command("revoke")
def token_revoke(name: Annotated[str, typer.Option("--name")]) -> None:
    """Revoke a token; requests with it get 401 from then on."""
    from syncwatch.tokens import revoke_token

    settings = Settings()
    if _admin_call(settings, "DELETE", f"/api/v1/admin/tokens/{name}") is None:
        try:
            revoke_token(_direct(settings), name)
        except KeyError as exc:
            fail(str(exc.args[0]))
    console.print(f"token {name!r} revoked")


def _mount_optional() -> None:
    try:
        from simulator.cli import app as simulate_app
    except ImportError:
        return
    app.add_typer(simulate_app, name="simulate", help="A simulated professional-services firm feeding SyncWatch.")


def main() -> None:
    _mount_optional()
    app()
