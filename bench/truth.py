"""The truth-agreement matrix at scale: every cell of tests/integration/metrics/truth_matrix.py (each fault scenario
alone, a mix of three, several seeds and calendars) at 5,000 consultants, through a real collector on chDB.

    .venv/bin/python bench/truth.py --consultants 5000

Each cell prints the time it took and every SLI figure that disagrees with the ground truth; the exit status is 1
when any cell disagrees beyond what it declares known. Not run in CI (about a minute and a half a cell on 2 cores).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console  # noqa: E402

from syncwatch.tokens import create_token  # noqa: E402
from syncwatch.warehouse import apply_migrations, connect  # noqa: E402
from tests.conftest import ThreadedCollector, auth, make_settings  # noqa: E402
from tests.integration.metrics.truth_matrix import CELLS, Cell, backfill, disagreements, slis  # noqa: E402

console = Console()


def run_cell(cell: Cell, workdir: Path) -> tuple[float, list[str]]:
    settings = make_settings(workdir)
    client = connect(settings)
    apply_migrations(client, settings.retention_days)
    try:
        ingest = create_token(client, "bench-ingest", ["ingest"])[1]
        read = create_token(client, "bench-read", ["read"])[1]
        started = time.perf_counter()
        with ThreadedCollector(settings) as collector:
            truth = backfill(cell, collector.url, ingest, workdir, timeout=3600)
            got = slis(collector.url, auth(read), truth)
        return time.perf_counter() - started, disagreements(got, truth)
    finally:
        client.command(f"DROP DATABASE IF EXISTS `{settings.database}`")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--consultants", type=int, default=5000)
    parser.add_argument("--only", default="", help="run the cells whose name contains this")
    args = parser.parse_args()
    failed = 0
    total = time.perf_counter()
    for cell in CELLS:
        if args.only not in cell.name:
            continue
        scaled = cell.at(args.consultants)
        with tempfile.TemporaryDirectory(prefix="truth-") as tmp:
            seconds, found = run_cell(scaled, Path(tmp))
        unexpected = [d for d in found if not d.startswith(cell.known)]
        failed += bool(unexpected)
        mark = "[red]disagrees[/]" if unexpected else "[green]agrees[/]"
        known = f" ({len(found) - len(unexpected)} known)" if len(found) > len(unexpected) else ""
        console.print(f"{cell.name:28} seed {cell.seed:>3} end {cell.end} {seconds:7.1f} s  {mark}{known}")
        for line in found:
            console.print(f"    {line}")
    console.print(f"{time.perf_counter() - total:.0f} s in all; {failed} cell(s) disagreeing")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
