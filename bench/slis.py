"""SLI benchmark: the full SLI set over 90 days, from the business state kept at ingest, against the naive query
that derives the same state from the raw events table at query time (same SQL on top, same results), in the same
run on the same warehouse.

    make bench-slis      # or: .venv/bin/python bench/slis.py --consultants 5000 --scale 10 --live

The 5,000-consultant, 90-day firm is generated once by the simulator and sent through a real `syncwatch serve`
(cached under var/bench/); the 50,000-consultant scale is nine renamed copies of it added inside the engine (every
identifier suffixed, so records stay distinct and linked), which exercises the same queries on 10x the rows.

Opening the cached warehouse applies pending migrations, as a collector's start would (a migration that recreates
state tables replays the stored events into them; the time it took is printed). Figures are "as found": the parts
the ingest (or the replay) left, since embedded chDB merges only while a process holds the warehouse. `--merged`
then runs OPTIMIZE TABLE ... FINAL on every state table, what the collector's compaction job keeps (the
engine's own background merges do not fold small parts into a large one), and measures again; that changes the
cached warehouse for later runs.

`--live` then measures what a running collector reads: the firm's last hours of events delivered again (every
state aggregate is idempotent, so the state is unchanged, but each insert leaves a small part in each state table it
touches, which FINAL merges at read time), and again after the collector's compaction job (metrics/compaction.py).
Then "between merges": the most a running collector leaves unmerged, the busiest stretch of the firm's last day
that lasts as long as the job's interval at this size (its default budget and run interval, and the merge times
just measured), delivered again a minute at a time.
`--record` appends the figures to bench/results/slis.jsonl and redraws docs/img/bench-slis.svg.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboard import svg  # noqa: E402
from metrics.compaction import STATE_TABLES, StateCompaction  # noqa: E402
from metrics.evaluate import Evaluator  # noqa: E402
from metrics.query import Db, timestamp  # noqa: E402
from metrics.slis import NAMES  # noqa: E402
from metrics.slo import load_slos  # noqa: E402
from metrics.snapshots import SnapshotJob  # noqa: E402
from metrics.state import ENTRIES  # noqa: E402
from metrics.windows import Window  # noqa: E402
from syncwatch.settings import Settings  # noqa: E402
from syncwatch.warehouse import apply_migrations, connect  # noqa: E402
from tests.waiting import wait_http  # noqa: E402

SYNCWATCH = str(Path(sys.executable).parent / "syncwatch")
# Issue 4's targets for the full set over 90 days, median seconds, by consultants.
TARGETS = {5000: 0.25, 50000: 1.0}
HISTORY = ROOT / "bench" / "results" / "slis.jsonl"
LIVE_HOURS = 3  # of fresh events for --live
CHART = ROOT / "docs" / "img" / "bench-slis.svg"
ENTRIES_PER_CONSULTANT = 523_243 / 5000  # the simulated firm over 90 days
END = "2026-11-20T00:00:00Z"
console = Console()
# Identifiers inside event data that link records; suffixed in the scaled copies.
_DATA_IDS = "supersedes_entry_id|crm_opportunity_id|rate_card_id|erp_document_id|object_id|original_event_id"
_ID_COLUMNS = ("id", "entry_id", "timesheet_id", "invoice_id", "project_code", "consultant_id", "assignment_id",
               "exception_id", "message_id", "opportunity_id", "change_id", "correlation_id", "subject")  # fmt: skip


def build(workdir: Path, consultants: int, days: int) -> None:
    """Generate the firm through a real collector into workdir/warehouse (skipped when already there)."""
    marker = workdir / "built.json"
    if marker.exists():
        return
    workdir.mkdir(parents=True, exist_ok=True)
    port = 43000 + os.getpid() % 1000
    env = {**os.environ, "SYNCWATCH_CLICKHOUSE_URL": f"chdb://{workdir / 'warehouse'}",
           "SYNCWATCH_VAR_DIR": str(workdir / "var"), "SYNCWATCH_PORT": str(port),
           "SYNCWATCH_SLI_SNAPSHOT_SECONDS": "86400", "SYNCWATCH_LOG_LEVEL": "WARNING"}  # fmt: skip
    made = subprocess.run([SYNCWATCH, "token", "create", "--name", "bench", "--scope", "ingest"], env=env,
                          capture_output=True, text=True, check=True)  # fmt: skip
    token = re.search(r"swt_[A-Za-z0-9_\-]+", made.stdout + made.stderr)
    assert token, made.stdout + made.stderr
    server = subprocess.Popen([SYNCWATCH, "serve"], env=env, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/readyz", server, timeout=120, what="the collector")
        started = time.perf_counter()
        subprocess.run(
            [SYNCWATCH, "simulate", "backfill", "--consultants", str(consultants), "--days", str(days), "--no-spans",
             "--end", END, "--base-url", f"http://127.0.0.1:{port}", "--token", token[0]],
            env=env, check=True,
        )  # fmt: skip
        elapsed = time.perf_counter() - started
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=120)
    marker.write_text(json.dumps({"consultants": consultants, "days": days, "backfill_seconds": elapsed}))


def event_columns(client: Any) -> list[str]:
    """The columns of `events` an insert writes (the engine computes the MATERIALIZED ones)."""
    return [
        name
        for name, kind in client.query(
            "SELECT name, default_kind FROM system.columns WHERE database = currentDatabase() AND table = 'events'"
        ).result_rows
        if kind != "MATERIALIZED"
    ]


def scale_up(client: Any, copies: int) -> None:
    """Add `copies` renamed copies of the firm inside the engine (10x rows for copies=9)."""
    have = client.query("SELECT count() FROM events WHERE position(id, '~') > 0").result_rows[0][0]
    if have:
        return
    columns = event_columns(client)
    exprs = []
    for name in columns:
        if name in _ID_COLUMNS:
            exprs.append(f"if({name} = '', '', concat({name}, '~', toString(n.number))) AS {name}")
        elif name == "entry_ids":
            exprs.append("arrayMap(x -> concat(x, '~', toString(n.number)), entry_ids) AS entry_ids")
        elif name == "data":
            exprs.append(
                f'replaceRegexpAll(data, \'"({_DATA_IDS})":"([^"]+)"\','
                " concat('\"\\\\1\":\"\\\\2~', toString(n.number), '\"')) AS data"
            )
        else:
            exprs.append(name)
    client.command(
        f"INSERT INTO events ({', '.join(columns)}) SELECT {', '.join(exprs)} FROM events "
        f"CROSS JOIN numbers(1, {copies}) AS n",
        settings={"max_insert_threads": 2, "max_execution_time": 3600},
    )


class NaiveDb(Db):
    """Derives every state table from the raw events (FINAL) at query time: the views' own SELECTs over all
    events, merged per record, stand in for the tables they fill. The SLI SQL on top is unchanged."""

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        database = client.query("SELECT currentDatabase()").result_rows[0][0]
        views: dict[str, list[tuple[str, set[str]]]] = {}
        for target, select in client.query(
            """SELECT extract(create_table_query, 'TO [`]?[a-z0-9_]+[`]?[.][`]?([a-z_]+)'), as_select
               FROM system.tables WHERE database = currentDatabase() AND engine = 'MaterializedView'"""
        ).result_rows:
            if target in STATE_TABLES:
                derived = re.sub(rf"FROM {re.escape(database)}\.events\b", "FROM (SELECT *, flow FROM events FINAL)",
                                 select)  # fmt: skip
                written = {row[0] for row in client.query(f"DESCRIBE TABLE ({derived})").result_rows}
                views.setdefault(target, []).append((derived, written))
        self.replacements = {t: self._merged(client, t, s) for t, s in views.items()}

    @staticmethod
    def _merged(client: Any, table: str, selects: list[tuple[str, set[str]]]) -> str:
        """The union of the views' rows merged per sorting key, as FINAL would merge the stored rows: the columns
        some view writes (a view's row holds the column's default where that view does not write it, as its insert
        would), not those no view writes any more (replaced by a migration)."""
        exprs, keys = [], []
        described = client.query(
            "SELECT name, type, is_in_sorting_key, default_kind, default_expression FROM system.columns"
            " WHERE database = currentDatabase() AND table = {t:String} ORDER BY position",
            parameters={"t": table},
        ).result_rows
        columns = [(n, t, k) for n, t, k, _, _ in described if any(n in written for _, written in selects)]
        # Columns no view writes but the engine fills from the others (a DEFAULT, e.g. 0007_business_time.sql):
        # computed over the merged row, which the stored ones equal (the migration says why).
        derived = [f"{expression} AS {n}" for n, _, _, kind, expression in described
                   if kind == "DEFAULT" and not any(n in written for _, written in selects)]  # fmt: skip

        def row(select: str, written: set[str]) -> str:
            values = [n if n in written else f"defaultValueOfTypeName('{t.replace(chr(39), chr(92) + chr(39))}') AS {n}"
                      for n, t, _ in columns]  # fmt: skip
            return f"SELECT {', '.join(values)} FROM ({select})"

        union = " UNION ALL ".join(row(select, written) for select, written in selects)
        for name, type_, in_key in columns:
            if in_key:
                keys.append(name)
                exprs.append(name)
            elif type_.startswith("SimpleAggregateFunction("):
                exprs.append(f"{type_.split('(')[1].split(',')[0]}({name}) AS {name}")
            elif type_.startswith("AggregateFunction("):
                exprs.append(f"{type_.split('(')[1].split(',')[0]}MergeState({name}) AS {name}")
            else:
                exprs.append(f"any({name}) AS {name}")
        return f"(SELECT {', '.join(exprs + derived)} FROM ({union}) GROUP BY {', '.join(keys)})"

    def rows(self, sql: str, parameters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        for table, derived in self.replacements.items():
            sql = re.sub(rf"FROM {table}( AS (\w+))?( FINAL)?\b", lambda m, d=derived: f"FROM {d}{m[1] or ''}", sql)
        return super().rows(sql, parameters)


def timed(fn: Callable[[], object], runs: int) -> tuple[float, object]:
    median, _, result = timed_runs(fn, runs)
    return median, result


def timed_runs(fn: Callable[[], object], runs: int) -> tuple[float, list[tuple[float, float]], object]:
    """Median wall seconds, every run's (wall, CPU) seconds, the last result. CPU is this process's (every engine
    thread's) time, which a host's steal does not inflate: on these shared hosts wall time varies by a quarter
    between runs minutes apart, the CPU much less."""
    runs_s, result = [], None
    for _ in range(runs):
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        result = fn()
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
        runs_s.append((wall, after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime))
    return statistics.median(wall for wall, _ in runs_s), runs_s, result


def window() -> Window:
    end = datetime.fromisoformat(END.replace("Z", "+00:00"))
    return Window(end - timedelta(days=90), end)


def per_sli(client: Any, runs: int = 3) -> dict[str, float]:
    """Each SLI alone (with its burn-rate windows), median seconds, slowest first."""
    evaluator = Evaluator(load_slos())

    def alone(name: str) -> float:
        return timed(lambda: evaluator.evaluate(Db(client), window=window(), names=[name]), runs)[0]

    medians = {name: alone(name) for name in evaluator.registry}
    return dict(sorted(medians.items(), key=lambda item: -item[1]))


def read_entries(client: Any, runs: int = 5) -> float:
    """Every column of the merged entry state (metrics/state.py), fastest of `runs`: the read six SLIs share."""
    sql = f"SELECT count(), sum(cityHash64(*)) FROM ({ENTRIES})"
    return min(timed(lambda: client.query(sql), 1)[0] for _ in range(runs))


def deliver_again(client: Any, start: datetime, end: datetime, step: timedelta) -> None:
    """The firm's events from `start` to `end` delivered again, an insert per `step`, oldest first, as a live
    collector receives new ones: the views add a small part to each state table they touch (the state is unchanged:
    every state aggregate is idempotent)."""
    columns = ", ".join(event_columns(client))
    while start < end:
        upto = min(start + step, end)
        client.command(
            f"INSERT INTO events ({columns}) SELECT {columns} FROM events"
            " WHERE time >= {f:DateTime64(6, 'UTC')} AND time < {t:DateTime64(6, 'UTC')}",
            parameters={"f": timestamp(start), "t": timestamp(upto)},
            # Fresh deliveries come in batches of their own, never retries: the events table keeps a deduplication
            # window, which this engine applies to INSERT ... SELECT where it can (deduplicate_insert_select). It
            # did not for these inserts when measured; the setting says they must not be.
            settings={"insert_deduplicate": 0},
        )
        start = upto


def live_events(client: Any, hours: int) -> None:
    """The firm's last `hours` of events delivered again, an insert per hour."""
    end = window().end
    deliver_again(client, end - timedelta(hours=hours), end, timedelta(hours=1))


def unmerged_window(merged: dict[str, float]) -> timedelta:
    """How long a running collector leaves fresh parts unmerged at most: the compaction job's run interval, or for a
    table whose merge took d seconds, d / budget (metrics/compaction.py), with the collector's default settings."""
    defaults = Settings()
    slowest = max(merged.values(), default=0.0) / defaults.state_compaction_budget
    return timedelta(seconds=max(defaults.state_compaction_seconds, slowest))


def busiest_events(client: Any, length: timedelta) -> tuple[datetime, int]:
    """The start of the busiest `length` (by distinct events, in whole 10 s) of the firm's last day, and its events."""
    steps = max(1, round(length.total_seconds() / 10))
    start, events = client.query(
        "SELECT m, sum(n) OVER (ORDER BY m RANGE BETWEEN CURRENT ROW AND {w:UInt32} FOLLOWING) AS total"
        " FROM (SELECT toUnixTimestamp(toStartOfInterval(time, INTERVAL 10 SECOND)) AS m, uniqExact(id) AS n"
        "       FROM events WHERE time >= {f:DateTime64(6, 'UTC')} AND time < {t:DateTime64(6, 'UTC')} GROUP BY m)"
        " ORDER BY total DESC, m LIMIT 1",
        parameters={
            "w": 10 * steps - 1,
            "f": timestamp(window().end - timedelta(days=1)),
            "t": timestamp(window().end),
        },
    ).result_rows[0]
    return datetime.fromtimestamp(int(start), UTC), int(events)


def merge_state(client: Any) -> tuple[float, dict[str, float]]:
    """Merge each state table's parts into one, as the collector's compaction job does (metrics/compaction.py, here
    without its budget); returns the seconds it took, and per table merged."""
    started = time.perf_counter()
    merged = StateCompaction(lambda: client, budget=1.0).run()
    return time.perf_counter() - started, merged


def state_parts(client: Any) -> int:
    return int(
        client.query(
            "SELECT count() FROM system.parts"
            " WHERE database = currentDatabase() AND active AND table IN {t:Array(String)}",
            parameters={"t": list(STATE_TABLES)},
        ).result_rows[0][0]
    )


def measure(client: Any, spare: Any, runs: int, naive_runs: int) -> dict[str, Any]:
    """From state as the collector evaluates (two queries at a time, on a spare client), against the naive query
    (one at a time: its per-query rewrite lives in NaiveDb)."""
    evaluator = Evaluator(load_slos())
    fast, fast_runs, fast_result = timed_runs(
        lambda: evaluator.evaluate(Db(client, spares=[spare]), window=window()), runs
    )
    slow = None
    if naive_runs:
        slow, slow_result = timed(lambda: evaluator.evaluate(NaiveDb(client), window=window()), naive_runs)
        for name, results in fast_result.items():  # type: ignore[union-attr]
            ours, theirs = results[""], slow_result[name][""]  # type: ignore[index]
            assert (ours.good, ours.total, ours.value) == (theirs.good, theirs.total, theirs.value), name
    # What the collector's snapshot job does every 30 s: every SLI over its SLO window, overall and per flow, stored.
    clients = iter([client, spare])
    job = SnapshotJob(evaluator, lambda: next(clients))
    snapshot, snapshot_runs, _ = timed_runs(lambda: job.run(as_of=window().end), runs)
    entries = client.query("SELECT uniqExact(entry_id) FROM entry_state").result_rows[0][0]
    events = client.query("SELECT count() FROM events").result_rows[0][0]
    return {"state_s": fast, "state_runs_s": [wall for wall, _ in fast_runs],
            "state_cpu_s": statistics.median(cpu for _, cpu in fast_runs),
            "snapshot_s": snapshot, "snapshot_cpu_s": statistics.median(cpu for _, cpu in snapshot_runs),
            "naive_s": slow, "speedup": slow / fast if slow else None, "entries": entries, "events": events,
            "state_parts": state_parts(client), "entries_read_s": read_entries(client),
            "per_sli_s": per_sli(client)}  # fmt: skip


def fixed_cost(settings: Settings, runs: int) -> float:
    """The full set on an empty warehouse of the same schema (a scratch database in the same engine), median: what
    the engine spends on analysing and planning the SLI queries whatever the data, the floor of any data layout."""
    empty = settings.model_copy(update={"database": f"{settings.database}_bench_empty"})
    client, spare = connect(empty), connect(empty)
    try:
        apply_migrations(client, empty.retention_days)
        evaluator = Evaluator(load_slos())
        return timed(lambda: evaluator.evaluate(Db(client, spares=[spare]), window=window()), runs)[0]
    finally:
        client.command(f"DROP DATABASE IF EXISTS `{empty.database}`")


def measure_scale(client: Any, spare: Any, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """As found, then (with --merged) after merging the state tables' parts; labelled with the consultants the
    warehouse holds (a `--workdir` copy already scaled up holds ten times those of its firm)."""
    # The firm's size times its copies (the original and each `~n` suffix of scale_up).
    firm = json.loads((args.workdir / "built.json").read_text())["consultants"]
    copies = client.query("SELECT uniqExact(splitByChar('~', consultant_id)[2]) FROM entry_state").result_rows[0][0]
    consultants = firm * max(1, copies)
    found = {"as found": measure(client, spare, args.runs, args.naive_runs)}
    if args.merged:
        merge_s, _ = merge_state(client)
        found["merged"] = {**measure(client, spare, args.runs, args.naive_runs), "merge_s": merge_s}
    if args.live:
        # What a running collector reads: the state plus the small parts that fresh events leave in every state
        # table, then after the collector's compaction job (metrics/compaction.py) has merged them.
        live_events(client, LIVE_HOURS)
        found["live"] = measure(client, spare, args.runs, 0)
        merge_s, merged = merge_state(client)
        found["compacted"] = {**measure(client, spare, args.runs, 0), "merge_s": merge_s}
        # And at worst between two runs of the job: its longest interval's worth of the busiest fresh events.
        found["between merges"] = fresh_state(client, spare, args.runs, unmerged_window(merged), "between merges")
        merge_state(client)  # the cache stays merged
    for seconds in args.fresh:  # how the cost grows with the time since the last merge
        merge_state(client)
        found[f"{seconds:g} s fresh"] = fresh_state(client, spare, args.runs, timedelta(seconds=seconds), "fresh")
    if args.fresh:
        merge_state(client)
    return {f"{consultants} {label}": f for label, f in found.items()}


def fresh_state(client: Any, spare: Any, runs: int, length: timedelta, label: str) -> dict[str, Any]:
    """Measured after the busiest `length` of the firm's last day is delivered again, a minute per insert: the
    state a running collector reads `length` after the compaction job last merged it."""
    start, events = busiest_events(client, length)
    deliver_again(client, start, start + length, min(length, timedelta(minutes=1)))
    console.print(f"{label}: the busiest {length.total_seconds():.0f} s of the last day ({events:,} events"
                  f" from {start:%Y-%m-%d %H:%M:%S}) delivered again, a minute at a time")  # fmt: skip
    return {**measure(client, spare, runs, 0), "fresh_s": length.total_seconds(), "fresh_events": events,
            "fresh_from": start.isoformat()}  # fmt: skip


def print_figures(figures: dict[str, dict[str, Any]]) -> None:
    table = Table(title=f"Full SLI set over 90 days ({len(NAMES)} SLIs with burn-rate windows), median")
    for column in ("consultants", "state parts", "events", "entries", "from state", "naive full scan", "speed-up"):
        table.add_column(column, justify="right")
    for label, f in figures.items():
        consultants, parts = label.split(" ", 1)
        state_ms = f"{f['state_s'] * 1000:,.0f} ms"
        naive_ms, speedup = (f"{f['naive_s'] * 1000:,.0f} ms", f"{f['speedup']:.1f}x") if f["naive_s"] else ("-", "-")
        table.add_row(f"{int(consultants):,}", f"{parts} ({f['state_parts']})", f"{f['events']:,}",
                      f"{f['entries']:,}", state_ms, naive_ms, speedup)  # fmt: skip
    console.print(table)
    for label, f in figures.items():
        consultants = int(label.split(" ", 1)[0])
        runs = sorted(f["state_runs_s"])
        target = TARGETS.get(consultants)
        verdict = (
            ""
            if target is None
            else (f"; target <= {target * 1000:,.0f} ms: {'met' if f['state_s'] <= target else 'NOT met'}")
        )
        console.print(f"full set at {label}: median {f['state_s'] * 1000:,.0f} ms of {len(runs)} runs"
                      f" ({runs[0] * 1000:,.0f}-{runs[-1] * 1000:,.0f} ms), {f['state_cpu_s'] * 1000:,.0f} ms of CPU"
                      f" per evaluation{verdict}")  # fmt: skip
        console.print(f"a snapshot at {label} (the collector's job: every SLI over its SLO window, overall and per"
                      f" flow, stored): median {f['snapshot_s'] * 1000:,.0f} ms, {f['snapshot_cpu_s'] * 1000:,.0f} ms"
                      " of CPU")  # fmt: skip
        each = ", ".join(f"{name} {seconds * 1000:,.0f} ms" for name, seconds in f["per_sli_s"].items())
        console.print(f"per SLI at {label} (median of 3): {each}")
        console.print(f"every entry column at {label} (fastest of 5): {f['entries_read_s'] * 1000:,.0f} ms")
        if "merge_s" in f:
            console.print(f"merging the state tables took {f['merge_s']:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--consultants", type=int, default=5000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--scale", type=int, default=10, help="also measure at this multiple of the firm (1: skip)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--naive-runs", type=int, default=1)
    parser.add_argument("--merged", action="store_true", help="also measure after OPTIMIZE ... FINAL of the state")
    parser.add_argument("--live", action="store_true", help="also measure with fresh parts, then compacted")
    parser.add_argument("--fresh", type=lambda text: [float(s) for s in text.split(",")], default=[],
                        help="also measure, for each of these seconds (comma-separated), after merging the state"
                             " and delivering that long a stretch of the busiest events again")  # fmt: skip
    parser.add_argument("--workdir", type=Path, default=ROOT / "var" / "bench" / "slis")
    parser.add_argument("--record", action="store_true", help="append the figures to bench/results/slis.jsonl")
    args = parser.parse_args()

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task(f"building the {args.consultants:,}-consultant, {args.days}-day firm (cached)")
        build(args.workdir, args.consultants, args.days)
        bar.update(task, description="firm ready")
    settings = Settings(clickhouse_url=f"chdb://{args.workdir / 'warehouse'}", var_dir=args.workdir / "var")
    client, spare = connect(settings, create_database=False), connect(settings, create_database=False)
    started = time.perf_counter()
    for migration in apply_migrations(client, settings.retention_days):
        console.print(f"applied migration {migration.version:04d}_{migration.name}")
    console.print(f"migrations checked in {time.perf_counter() - started:.1f} s")
    floor_s = fixed_cost(settings, args.runs)
    figures = measure_scale(client, spare, args)
    if args.scale > 1:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console) as b:
            b.add_task(f"adding {args.scale - 1} renamed copies inside the engine")
            scale_up(client, args.scale - 1)
        figures.update(measure_scale(client, spare, args))
    print_figures(figures)
    console.print(f"the same set on an empty warehouse (analysis and planning, the floor of any layout): "
                  f"{floor_s * 1000:,.0f} ms")  # fmt: skip
    if args.record:
        HISTORY.parent.mkdir(exist_ok=True)
        with HISTORY.open("a") as fh:
            fh.write(json.dumps({"at": datetime.now(UTC).isoformat(), "figures": figures, "empty_s": floor_s}) + "\n")
        CHART.parent.mkdir(exist_ok=True)
        CHART.write_text(history_chart([json.loads(line) for line in HISTORY.read_text().splitlines() if line]))
        console.print(f"recorded; the history is charted in {CHART.relative_to(ROOT)}")


def _size(figure: dict[str, Any]) -> int | None:
    """The target size (consultants) a recorded figure was measured at, by its entries."""
    entries = figure.get("entries")
    if not entries:
        return None
    return min(TARGETS, key=lambda c: abs(entries / ENTRIES_PER_CONSULTANT - c))


def history_chart(records: list[dict[str, Any]]) -> str:
    """The recorded full-set medians over time, one chart per firm size with its target, stacked in one SVG.

    Merged state where a record has both (what the collector's compaction job keeps). A record's
    size is told by its entries, not its label: records before 2026-12-02 labelled a scaled-up copy measured with
    `--scale 1` by its firm's 5,000 consultants."""
    charts = []
    for consultants, target in TARGETS.items():
        points: dict[datetime, float] = {}
        for record in records:
            for label in ("merged", "as found"):
                figure = next(
                    (f for k, f in record["figures"].items() if k.endswith(label) and _size(f) == consultants), None
                )
                if figure:
                    points[datetime.fromisoformat(record["at"])] = figure["state_s"] * 1000
                    break
        times = sorted(points)
        charts.append(svg.line(times, [points[t] for t in times], f"{consultants:,} consultants, ms",
                               lambda v: f"{v:,.0f}", reference=target * 1000, reference_label="target",
                               y_range=(0.0, max([target * 1000, *points.values()]) * 1.1), height=220))  # fmt: skip
    body = "".join(f'<g transform="translate(0, {i * 230})">{chart}</g>' for i, chart in enumerate(charts))
    return f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 900 {230 * len(charts)}">{body}</svg>'


if __name__ == "__main__":
    main()
