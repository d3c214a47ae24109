"""`syncwatch probes list` and `syncwatch probes run NAME`.

With a collector running on this machine (its local admin file exists and its process is alive) both go through
its API, so a manual run is budgeted with the scheduled ones and stored. Otherwise they work from the probes file
directly: `run` calls the systems itself and stores the run when the warehouse can be opened.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console

from probes.config import load_probes_file
from probes.errors import ConfigError
from probes.fleet import ProbeFleet
from probes.model import ProbeRun
from syncwatch.cli_shared import (
    CollectorClient,
    JsonOpt,
    LocalCollector,
    call_or_fail,
    fail,
    local_collector,
    print_json,
    print_table,
    table,
)
from syncwatch.settings import Settings

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Probes: scheduled samplers that reconcile the systems' state.")
console = Console()
errors = Console(stderr=True)


def _call(found: LocalCollector, method: str, path: str, timeout: float = 30) -> Any:
    with CollectorClient.local(found, timeout=timeout) as client:
        return call_or_fail(client, method, path)


def _fleet(settings: Settings) -> ProbeFleet:
    if settings.probes_config is None:
        fail("no probes file: set SYNCWATCH_PROBES_CONFIG (see docs/probes.md)")
    assert settings.probes_config is not None
    try:
        return ProbeFleet(load_probes_file(settings.probes_config))
    except ConfigError as exc:
        fail(str(exc))
        raise


@app.command("list")
def list_probes(as_json: JsonOpt = False) -> None:
    """Every probe: its systems, schedule, declared cost and last run (from the running collector when there is one)."""
    settings = Settings()
    found = local_collector(settings)
    if found is not None:
        answer = _call(found, "GET", "/api/v1/probes")
    else:
        fleet = _fleet(settings)
        try:
            # the collector's shape, so scripts read one format whether or not it runs
            probes = [{**fleet.describe(name), "stale": None, "last_run": None} for name in fleet.probes]
            answer = {"probes": probes, "config_error": None, "skipped": dict(fleet.skipped)}
        finally:
            fleet.close()
    if as_json:
        print_json(answer)
        return
    rows = table(
        "probe", "systems", "every", "timeout", "cost", "last run", "outcome", "findings", "calls", "stale",
        fixed=("every", "timeout", "outcome", "findings", "calls", "stale"),
    )  # fmt: skip
    for p in answer["probes"]:
        last = p["last_run"] or {}
        rows.add_row(
            p["name"], ", ".join(p["systems"]), f"{p['interval_seconds']:g} s", f"{p['timeout_seconds']:g} s",
            ", ".join(f"{s} {n}" for s, n in p.get("cost", {}).items()),
            last.get("started_at", "never" if found is not None else "(collector not running)"),
            last.get("outcome", ""), str(last.get("findings", "")), str(last.get("api_calls", "")),
            "" if p["stale"] is None else "yes" if p["stale"] else "no",
        )  # fmt: skip
    if answer.get("config_error"):
        errors.print(f"[bold red]probes file invalid:[/] {answer['config_error']}")
    print_table(rows)
    for name, why in answer.get("skipped", {}).items():
        console.print(f"[dim]{name}: not running ({why})[/]", highlight=False)


@app.command("run")
def run(
    name: Annotated[str, typer.Argument(help="probe name, as `syncwatch probes list` shows it")],
    limit: Annotated[int, typer.Option("--limit", help="findings shown (all are stored)")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Run one probe once and print its findings as a table. Exit status 0 ok, 1 mismatch, 2 anything else."""
    settings = Settings()
    found = local_collector(settings)
    if found is not None:
        answer = _call(found, "POST", f"/api/v1/probes/{name}/run", timeout=900)
        findings = answer["findings"]
        summary = {**answer, "findings": len(findings)}
    else:
        fleet = _fleet(settings)
        try:
            result = fleet.run(name)
        except ConfigError as exc:
            fail(str(exc))
            raise
        finally:
            fleet.close()
        _store_locally(settings, result)
        summary = {"probe": name, **result.public()}
        findings = [f.public() for f in result.findings]
    if as_json:
        print_json({**summary, "findings": findings})
    else:
        _print(summary, findings, limit)
    outcome = summary["outcome"]
    raise typer.Exit(0 if outcome == "ok" else 1 if outcome == "mismatch" else 2)


def _print(summary: dict[str, Any], findings: list[dict[str, Any]], limit: int) -> None:
    colour = {"ok": "green", "mismatch": "yellow"}.get(summary["outcome"], "red")
    console.print(
        f"[bold]{summary['probe']}[/]: [{colour}]{summary['outcome']}[/], {summary['findings']} findings, "
        f"{summary['api_calls']} API calls, {summary['duration_ms'] / 1000:.1f} s (run {summary['run_id']})"
    )
    if summary.get("error"):
        console.print(f"[red]{summary['error']}[/]")
    if not findings:
        return
    rows = table("kind", "object", "tenant", "project", "consultant", "age", "amount", "detail", fixed=("age",))
    for f in findings[:limit]:
        amount = "" if f["amount"] is None else f"{f['amount']:,.2f} {f['currency']}"
        detail = json.dumps(f["detail"], default=str)
        rows.add_row(
            f["kind"], f"{f['object_type']} {f['object_id']}", f["tenant_id"], f["project_code"], f["consultant_id"],
            _age(f["age_seconds"]), amount, detail,
        )  # fmt: skip
    print_table(rows)
    if len(findings) > limit:
        console.print(f"[dim]... and {len(findings) - limit} more (--limit, --json)[/]")


def _age(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min"


def _store_locally(settings: Settings, result: ProbeRun) -> None:
    from probes.store import write_run
    from syncwatch.warehouse import WarehouseLocked, WarehouseUnavailable, apply_migrations, connect

    try:
        client = connect(settings)
        apply_migrations(client, settings.retention_days)
        write_run(client, result)
    except (WarehouseLocked, WarehouseUnavailable) as exc:
        errors.print(f"[dim]not stored: {exc}[/]")
