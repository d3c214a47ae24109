"""`syncwatch simulate ...`: backfill, live, fault, serve-apis, truth."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import orjson
import typer
import uvicorn
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from simulator.apis.app import create_app
from simulator.apis.auth import Credentials
from simulator.calendar import DAY, iso_time
from simulator.emit import FileSink, HttpSink, NullSink
from simulator.faults import SCENARIOS
from simulator.runner import LiveRunner, backfill, now_minute
from simulator.simulation import Simulation
from simulator.styles import STYLES, IntegrationStyle, parse_styles
from simulator.truth import Observed, truth
from syncwatch.cli_shared import JsonOpt, print_json, print_table, table

__all__ = ["app"]

app = typer.Typer(help="A simulated professional-services firm: traffic, system APIs and faults.", no_args_is_help=True)
console = Console(stderr=True)

DEFAULT_BASE = "http://127.0.0.1:4318"
Consultants = Annotated[int, typer.Option(help="Firm size (presets 500, 5000, 50000)")]
Seed = Annotated[int, typer.Option(help="Same seed, same stream")]
Faults = Annotated[list[str] | None, typer.Option("--fault", help="NAME[@START_DAY[+DAYS]], repeatable")]
Styles = Annotated[
    list[str] | None,
    typer.Option("--style", help=f"How the integrations shape events, NAME[=VALUE], repeatable: {', '.join(STYLES)}"),
]


def _styles(specs: list[str] | None) -> IntegrationStyle:
    try:
        return parse_styles(specs)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--style") from None


def _token(token: str | None) -> str:
    value = token or os.environ.get("SYNCWATCH_TOKEN", "")
    if not value:
        raise typer.BadParameter("an ingest token is needed: --token or SYNCWATCH_TOKEN (or use --dry-run/--output)")
    return value


def _end(end: str | None) -> float:
    if not end:
        return now_minute()
    parsed = datetime.fromisoformat(end.replace("Z", "+00:00"))
    return parsed.replace(tzinfo=parsed.tzinfo or UTC).timestamp()


def _observed(sim: Simulation) -> Observed:
    """What the run's integration style let SyncWatch see, for the truth to be computed over."""
    style = sim.style
    announced = style.late_master_data_days or style.missing_project_share
    return Observed(sim.first_outcome_at if style.outcome_only else None, sim.psa_announced if announced else None)


def _write_truth(sim: Simulation, path: Path, window_days: float) -> None:
    as_of = sim.now
    window_start = max(sim.start, as_of - window_days * DAY)
    result = truth(sim.firm, as_of, window_start, sim.last_event_at, _observed(sim))
    path.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    console.print(f"ground truth written to [bold]{path}[/] ({len(result['discrepancies'])} discrepancies)")


@app.command("backfill")
def backfill_cmd(
    consultants: Consultants = 5000,
    days: Annotated[float, typer.Option(help="Days of history")] = 90,
    seed: Seed = 42,
    end: Annotated[str | None, typer.Option(help="End of history, ISO 8601 (default: now)")] = None,
    base_url: Annotated[str, typer.Option(help="Collector base URL")] = DEFAULT_BASE,
    token: Annotated[str | None, typer.Option(help="Ingest token (or SYNCWATCH_TOKEN)")] = None,
    fault: Faults = None,
    dry_run: Annotated[bool, typer.Option(help="Generate and serialise, send nothing")] = False,
    output: Annotated[Path | None, typer.Option(help="Write events as NDJSON instead of sending")] = None,
    spans: Annotated[bool, typer.Option(help="Emit OTLP spans too")] = True,
    concurrency: Annotated[int, typer.Option(help="Concurrent sending connections")] = 4,
    truth_out: Annotated[Path | None, typer.Option("--truth", help="Also write ground truth JSON here")] = None,
    truth_window_days: Annotated[float, typer.Option(help="SLI window for --truth")] = 30,
    style: Styles = None,
) -> None:
    """Generate history and send it in large batches (or write/measure it)."""
    styles = _styles(style)
    if output is not None:
        sink: Any = FileSink(output, encode_spans_too=False)
    elif dry_run:
        sink = NullSink(encode_spans_too=spans)
    else:
        sink = HttpSink(base_url, _token(token), concurrency=concurrency, spans=spans)
    started = time.perf_counter()
    with Progress(
        TextColumn("[bold]backfill[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[events]:,} events"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(f"{consultants:,} consultants x {days:g} days", total=None, events=0)
        holder: dict[str, Simulation] = {}

        def on_day(day: int, total: int) -> None:
            progress.update(task, completed=day, total=total, events=_emitted(sink))

        sim = backfill(consultants, days, seed, sink, end=_end(end), faults=fault, spans=spans, on_day=on_day,
                       style=styles)  # fmt: skip
        holder["sim"] = sim
        progress.update(task, events=sim.events_emitted)
        generated = time.perf_counter() - started
        sink.close()
    elapsed = time.perf_counter() - started
    stats = sink.stats
    console.print(
        f"{sim.events_emitted:,} events, {stats.spans:,} spans; generated in {generated:.1f} s, "
        f"done in {elapsed:.1f} s ({sim.events_emitted / elapsed:,.0f} events/s)"
    )
    if isinstance(sink, HttpSink):
        console.print(
            f"collector: accepted {stats.accepted:,}, duplicates {stats.duplicates:,}, rejected "
            f"{stats.rejected:,}; throttled {stats.throttled}x; span batches lost {stats.span_batches_failed}"
        )
        for reason, n in stats.rejection_reasons.most_common(5):
            console.print(f"  rejected: {reason} x{n}")
    if truth_out is not None:
        _write_truth(sim, truth_out, truth_window_days)


def _emitted(sink: Any) -> int:
    return int(sink.stats.events)


@app.command("live")
def live_cmd(
    consultants: Consultants = 500,
    speed: Annotated[float, typer.Option(help="Firm time runs this many times faster than the wall clock")] = 60,
    seed: Seed = 42,
    warmup_days: Annotated[float, typer.Option(help="History generated first, so dashboards have data")] = 7,
    base_url: Annotated[str, typer.Option(help="Collector base URL")] = DEFAULT_BASE,
    token: Annotated[str | None, typer.Option(help="Ingest token (or SYNCWATCH_TOKEN)")] = None,
    api_port: Annotated[int, typer.Option(help="Port of the simulated system APIs and admin endpoint")] = 8900,
    admin_token: Annotated[str, typer.Option(envvar="SYNCWATCH_SIM_ADMIN_TOKEN")] = Credentials.admin_token,
    fault: Annotated[list[str] | None, typer.Option("--fault", help="Scenario switched on at start")] = None,
    duration: Annotated[float | None, typer.Option(help="Stop after this many wall seconds")] = None,
    dry_run: Annotated[bool, typer.Option(help="Generate but send nothing")] = False,
    spans: Annotated[bool, typer.Option(help="Emit OTLP spans too")] = True,
) -> None:
    """Run the firm against the wall clock, serve its APIs, and accept fault switches."""
    sink: Any = NullSink(encode_spans_too=False) if dry_run else HttpSink(base_url, _token(token), spans=spans)
    console.print(f"warming up: {warmup_days:g} days of history for {consultants:,} consultants...")
    sim = backfill(consultants, warmup_days, seed, sink, end=time.time(), spans=spans)
    sim.tag = f"{sim.tag}-{int(time.time()):x}"  # ids of this live run never collide with an earlier one
    runner = LiveRunner(sim, speed)
    for name in fault or []:
        runner.switch(name.replace("-", "_"), True)
    credentials = Credentials(admin_token=admin_token)
    server = uvicorn.Server(
        uvicorn.Config(create_app(sim, credentials, live=runner), host="127.0.0.1", port=api_port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    runner.start()
    console.print(f"[bold green]live[/] at {speed:g}x: events -> {base_url}/v1/events, spans -> {base_url}/v1/traces")
    console.print(
        f"system APIs and admin on http://127.0.0.1:{api_port} (docs at /docs); "
        f"switch faults with `syncwatch simulate fault NAME --on`"
    )
    started = time.monotonic()
    try:
        while duration is None or time.monotonic() - started < duration:
            time.sleep(1.0)
            if runner.error is not None:
                raise runner.error
    except KeyboardInterrupt:
        pass
    finally:
        runner.stop()
        server.should_exit = True
        thread.join(5)
        sink.close()
        console.print(f"stopped at sim time {iso_time(sim.now)} after {sim.events_emitted:,} events")


@app.command("fault")
def fault_cmd(
    name: Annotated[str, typer.Argument(help=f"One of: {', '.join(SCENARIOS)} (or 'list')")],
    on: Annotated[bool, typer.Option("--on/--off", help="Switch on or off")] = True,
    admin_url: Annotated[str, typer.Option(help="The live simulation's API address")] = "http://127.0.0.1:8900",
    admin_token: Annotated[str, typer.Option(envvar="SYNCWATCH_SIM_ADMIN_TOKEN")] = Credentials.admin_token,
    as_json: JsonOpt = False,
) -> None:
    """Switch a fault scenario on or off in a running live simulation, or list the scenarios."""
    headers = {"Authorization": f"Bearer {admin_token}"}
    try:
        with httpx.Client(base_url=admin_url, headers=headers, timeout=10) as client:
            if name == "list":
                response = client.get("/admin/faults")
            else:
                response = client.post(f"/admin/faults/{name.replace('-', '_')}", json={"on": on})
    except httpx.TransportError as exc:
        console.print(
            f"[red]no live simulation answers at {admin_url}[/] ({exc}); start one with `syncwatch simulate live`"
        )
        raise typer.Exit(2) from exc
    if response.status_code != 200:
        console.print(f"[red]{response.status_code}[/] {response.text}")
        raise typer.Exit(1)
    answer = response.json()
    if as_json:
        print_json(answer)
    elif name == "list":
        rows = table("scenario", "active", "summary", "moves", fixed=("active",))
        for s in answer["scenarios"]:
            moves = ", ".join(f"{m['signal']} {m['direction']}" for m in s["moves"])
            rows.add_row(s["name"], "on" if s["active"] else "off", s["summary"], moves)
        print_table(rows)
    else:
        state = "on" if answer["active"] else "off"
        typer.echo(f"{answer['name']} is {state}" + ("" if answer["changed"] else " (unchanged)"))


@app.command("serve-apis")
def serve_apis_cmd(
    consultants: Consultants = 500,
    days: Annotated[float, typer.Option(help="Days of history behind the state")] = 30,
    seed: Seed = 42,
    end: Annotated[str | None, typer.Option(help="End of history, ISO 8601 (default: now)")] = None,
    fault: Faults = None,
    port: Annotated[int, typer.Option(help="Loopback port")] = 8900,
) -> None:
    """Serve the system APIs over the state a (silent) backfill leaves behind."""
    sim = backfill(consultants, days, seed, NullSink(encode_spans_too=False), end=_end(end), faults=fault, spans=False)
    console.print(f"serving APIs for sim time {iso_time(sim.now)} on http://127.0.0.1:{port}")
    uvicorn.run(create_app(sim), host="127.0.0.1", port=port, log_level="warning")


@app.command("truth")
def truth_cmd(
    out: Annotated[Path, typer.Option(help="Where to write the ground truth JSON")] = Path("truth.json"),
    consultants: Consultants = 500,
    days: Annotated[float, typer.Option(help="Days of history")] = 30,
    seed: Seed = 42,
    end: Annotated[str | None, typer.Option(help="End of history, ISO 8601 (default: now)")] = None,
    fault: Faults = None,
    window_days: Annotated[float, typer.Option(help="SLI window ending at the end of the run")] = 30,
    style: Styles = None,
) -> None:
    """Re-run a backfill silently (same seed, same stream) and write its ground truth."""
    sim = backfill(consultants, days, seed, NullSink(encode_spans_too=False), end=_end(end), faults=fault, spans=False,
                   style=_styles(style))  # fmt: skip
    _write_truth(sim, out, window_days)


if __name__ == "__main__":
    app()
