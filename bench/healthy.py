"""A healthy firm reads green at scale: the firms of tests/integration/metrics/healthy_matrix.py (no fault, 30 days
of SLI window after a week of warm-up) at 5,000 consultants, through a real collector on chDB.

    .venv/bin/python bench/healthy.py --consultants 5000

Prints each firm's SLI table (value, status, objective) and the alert rules that would fire; the exit status is 1
when any SLI is not `ok` or any rule fires. Not run in CI (5-6 minutes a firm on 2 cores).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console  # noqa: E402

from syncwatch.tokens import create_token  # noqa: E402
from syncwatch.warehouse import apply_migrations, connect  # noqa: E402
from tests.conftest import ThreadedCollector, auth, make_settings  # noqa: E402
from tests.integration.metrics.healthy_matrix import ENDS, SEEDS, backfill, firing, slis_at, table  # noqa: E402

console = Console()


def run_firm(
    consultants: int, seed: int, end: str, faults: tuple[str, ...], workdir: Path, details: bool = False
) -> tuple[float, bool]:
    settings = make_settings(workdir)
    client = connect(settings)
    apply_migrations(client, settings.retention_days)
    try:
        ingest = create_token(client, "bench-ingest", ["ingest"])[1]
        read = create_token(client, "bench-read", ["read"])[1]
        started = time.perf_counter()
        with ThreadedCollector(settings) as collector:
            backfill(consultants, seed, end, collector.url, ingest, workdir, faults, timeout=3600)
            at = datetime.fromisoformat(end.replace("Z", "+00:00"))
            slis = slis_at(collector.url, auth(read), at)
        seconds = time.perf_counter() - started
        green = True
        for name, value, status, objective in table(slis):
            shown = "-" if value is None else f"{value:.6g}"
            colour = "green" if status == "ok" else "red"
            green &= status == "ok"
            console.print(f"    {name:28} {shown:>12}  [{colour}]{status:8}[/]  objective {objective:g}")
            if status != "ok" and details:
                console.print(f"      {slis[name]['details']}")
        for line in firing(slis, at):
            green = False
            console.print(f"    [red]fires[/] {line}")
        return seconds, green
    finally:
        client.command(f"DROP DATABASE IF EXISTS `{settings.database}`")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--consultants", type=int, default=5000)
    parser.add_argument("--seeds", default=",".join(str(s) for s in SEEDS), help="paired with --ends, in order")
    parser.add_argument("--ends", default=",".join(ENDS))
    parser.add_argument("--fault", action="append", default=[], help="inject a fault (to see a firm go red)")
    parser.add_argument("--details", action="store_true", help="print the details of every SLI not ok")
    args = parser.parse_args()
    red = 0
    total = time.perf_counter()
    for seed, end in zip((int(s) for s in args.seeds.split(",")), args.ends.split(","), strict=True):
        console.print(f"{args.consultants} consultants, seed {seed}, end {end}")
        with tempfile.TemporaryDirectory(prefix="healthy-") as tmp:
            seconds, green = run_firm(args.consultants, seed, end, tuple(args.fault), Path(tmp), args.details)
        red += not green
        mark = "[green]green[/]" if green else "[red]red[/]"
        console.print(f"  {seconds:.1f} s  {mark}")
    console.print(f"{time.perf_counter() - total:.0f} s in all; {red} firm(s) not green")
    sys.exit(1 if red else 0)


if __name__ == "__main__":
    main()
