"""Soak: a simulated firm's events at a steady rate with hostile bodies mixed in, and `kill -9` of the collector
at intervals; at the end, what was acknowledged and then lost, what was stored twice, what is left in the spool,
and the collector's memory.

    make bench-soak                 # 30 minutes, a kill -9 every 5 minutes, 1% hostile bodies
    .venv/bin/python bench/soak.py --minutes 6 --kill-every 120

A client re-sends every batch it did not see acknowledged (as OTLP and CloudEvents clients do), so a batch cut
off by a kill arrives twice: the de-duplication and the spool's tokens must keep it once. Hostile bodies are the
shapes that once stopped every insert (ISO 8601 times the engine refuses, amounts past Decimal(18, 4), week
dates), plus undecodable bytes; each must be answered 4xx or 207 and never stop the rest.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
SYNCWATCH = str(Path(sys.executable).parent / "syncwatch")
BATCH = {"Content-Type": "application/cloudevents-batch+json"}
console = Console()


def firm_events(workdir: Path, consultants: int, days: float) -> list[dict[str, Any]]:
    """A simulated firm's recent history as CloudEvents (the simulator's NDJSON output)."""
    out = workdir / "firm.ndjson"
    subprocess.run(
        [SYNCWATCH, "simulate", "backfill", "--consultants", str(consultants), "--days", str(days), "--no-spans",
         "--output", str(out)],
        check=True, cwd=workdir, capture_output=True,
    )  # fmt: skip
    return [orjson.loads(line) for line in out.read_bytes().splitlines() if line]


def hostile(rng: random.Random, template: dict[str, Any]) -> bytes:
    bad = orjson.loads(orjson.dumps(template))
    bad["id"] = f"hostile-{rng.getrandbits(64):x}"
    choice = rng.randrange(5)
    if choice == 0:
        bad["time"] = bad["time"][:19] + "+00:00:30"
    elif choice == 1:
        bad["time"] = "2026-W50-1T10:00:00Z"
    elif choice == 2:
        bad["data"] = {**(bad.get("data") or {}), "amount": 1e20}
    elif choice == 3:
        bad["data"] = {**(bad.get("data") or {}), "start_date": "2026-W50-1"}
    else:
        return bytes(rng.getrandbits(8) for _ in range(200))
    return orjson.dumps([bad, template])  # a good event beside it must still be stored


class Collector:
    def __init__(self, workdir: Path, port: int):
        self.workdir = workdir
        self.url = f"http://127.0.0.1:{port}"
        self.env = {
            **os.environ,
            "SYNCWATCH_PORT": str(port),
            "SYNCWATCH_CLICKHOUSE_URL": "chdb://./var/warehouse",
            "SYNCWATCH_RATE_LIMIT_PER_SECOND": "1000000",
            "SYNCWATCH_RATE_LIMIT_BURST": "1000000",
            "SYNCWATCH_LOG_LEVEL": "WARNING",
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.peak_rss_kib: list[int] = []  # per life of the process: bounded means no growth from one to the next

    def cli(self, *args: str) -> str:
        done = subprocess.run([SYNCWATCH, *args], cwd=self.workdir, env=self.env, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(done.stderr)
        return done.stdout.strip()

    def start(self) -> None:
        log = open(self.workdir / "serve.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen([SYNCWATCH, "serve"], cwd=self.workdir, env=self.env, stdout=log, stderr=log)
        self.peak_rss_kib.append(0)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise SystemExit("the collector did not start: see serve.log")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=120)

    def sample_rss(self) -> None:
        if self.process and self.process.poll() is None:
            try:
                status = Path(f"/proc/{self.process.pid}/status").read_text()
            except OSError:
                return
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    self.peak_rss_kib[-1] = max(self.peak_rss_kib[-1], int(line.split()[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--kill-every", type=float, default=300, help="seconds between kill -9 of the collector")
    parser.add_argument("--rate", type=int, default=2000, help="events per second offered")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--hostile", type=float, default=0.01, help="share of bodies that are hostile")
    parser.add_argument("--consultants", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    workdir = Path(tempfile.mkdtemp(prefix="syncwatch-soak-"))
    console.print(f"generating the firm ({args.consultants} consultants) in {workdir} ...")
    events = firm_events(workdir, args.consultants, days=7)
    console.print(f"{len(events):,} events; offering {args.rate:,}/s for {args.minutes:g} min")
    collector = Collector(workdir, 20000 + os.getpid() % 20000)
    token = collector.cli("token", "create", "--name", "soak", "--scope", "ingest")
    collector.start()

    acknowledged: set[tuple[str, str]] = set()
    answers: dict[str, int] = {}
    hostile_bodies = kills = 0
    started = time.monotonic()
    next_kill = started + args.kill_every
    end = started + args.minutes * 60
    cursor = 0
    rss_stop = threading.Event()

    def watch_rss() -> None:
        while not rss_stop.wait(2):
            collector.sample_rss()

    threading.Thread(target=watch_rss, daemon=True).start()
    headers = {"Authorization": f"Bearer {token}", **BATCH}
    with (
        httpx.Client(timeout=60) as http,
        Progress(TextColumn("{task.description}"), BarColumn(), TimeRemainingColumn(), console=console) as bar,
    ):
        task = bar.add_task("soak", total=args.minutes * 60)
        while time.monotonic() < end:
            tick = time.monotonic()
            if tick >= next_kill:
                collector.kill()
                kills += 1
                collector.start()
                next_kill = time.monotonic() + args.kill_every
            batch = [
                dict(events[n % len(events)], id=f"{events[n % len(events)]['id']}~{n // len(events)}")
                for n in range(cursor, cursor + args.batch)
            ]  # each round over the firm's history is new events: the same ones again would be duplicates
            cursor += args.batch
            if rng.random() < args.hostile:
                hostile_bodies += 1
                body = hostile(rng, batch[0])
                sent_good = [batch[0]] if body.startswith(b"[") else []
            else:
                body, sent_good = orjson.dumps(batch), batch
            while True:  # re-send until acknowledged, as a client does
                try:
                    answer = http.post(f"{collector.url}/v1/events", content=body, headers=headers)
                except httpx.HTTPError:
                    time.sleep(0.5)
                    continue
                answers[str(answer.status_code)] = answers.get(str(answer.status_code), 0) + 1
                if answer.status_code in (200, 207):
                    results = answer.json()["results"][-len(sent_good) :] if sent_good else []
                    for result, sent in zip(results, sent_good, strict=True):
                        if result["status"] in ("accepted", "duplicate"):
                            acknowledged.add((sent["source"], sent["id"]))
                    break
                if answer.status_code < 500 and answer.status_code != 429:
                    break  # a hostile body refused whole
                time.sleep(0.5)
            bar.update(task, completed=min(time.monotonic() - started, args.minutes * 60))
            pause = args.batch / args.rate - (time.monotonic() - tick)
            if pause > 0:
                time.sleep(pause)

    console.print("waiting for the spool to drain ...")
    deadline = time.monotonic() + 300
    spool = workdir / "var" / "spool"
    while list(spool.glob("*.json")) and time.monotonic() < deadline:
        time.sleep(1)
    left = len(list(spool.glob("*.json")))
    rss_stop.set()
    collector.kill(signal.SIGTERM)

    from syncwatch.settings import Settings
    from syncwatch.warehouse import connect

    client = connect(Settings(clickhouse_url=f"chdb://{workdir}/var/warehouse"), create_database=False)
    stored = {(s, i) for s, i in client.query("SELECT source, id FROM events").result_rows}
    total, unique = client.query("SELECT count(), uniqExact(source, id) FROM events").result_rows[0]
    quarantined = client.query("SELECT count() FROM quarantine").result_rows[0][0]
    lost = len(acknowledged - stored)
    table = Table("figure", "value", title="SyncWatch soak (embedded chDB, this machine)")
    for name, value in [
        ("duration", f"{args.minutes:g} min, kill -9 x {kills}"),
        ("offered", f"{args.rate:,} events/s in batches of {args.batch}"),
        ("answers", ", ".join(f"{k}: {v:,}" for k, v in sorted(answers.items()))),
        ("hostile bodies", f"{hostile_bodies:,}"),
        ("acknowledged events", f"{len(acknowledged):,}"),
        ("acknowledged then lost", f"{lost:,}"),
        ("stored twice (rows - distinct)", f"{int(total) - int(unique):,}"),
        ("quarantined", f"{int(quarantined):,}"),
        ("spooled batches left", f"{left}"),
        ("collector peak RSS per life", ", ".join(f"{k / 1024:,.0f}" for k in collector.peak_rss_kib) + " MiB"),
        ("events per second stored", f"{len(acknowledged) / (args.minutes * 60):,.0f}"),
    ]:
        table.add_row(name, value)
    console.print(table)
    if lost or left:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
