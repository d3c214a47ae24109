"""Dashboard benchmark: first render of every page in a real headless Chromium, at a firm's scale.

Starts `syncwatch dashboard` in its own process against either
- a fake collector answering the documented read API with answers sized like a firm of --consultants over --days
  (default 50,000 x 90: a 50,000-row breakdown by project, 2,880 snapshots per SLI sparkline, a 25,920-point
  90-day series, 500 records, 1,000 probe findings, a project journey of 6,000 items), or
- a running collector (--api-url URL --token READ_TOKEN), e.g. one fed by `syncwatch simulate backfill`.

"First render" is from navigation until the page's script has finished, every element has left its skeleton,
and every chart has drawn (tests/integration/dashboard/browser.py). Each round starts a fresh dashboard process;
each page is measured with no cached answer (first visit) and again warm (a second visit within the cache's 10 s).
The browser and the server are warmed first by a page that asks the API for nothing, since a returning user's
browser has Streamlit's scripts cached. A one-line Streamlit page is measured too: the framework's floor on this
host at this moment.

    make bench-dashboard           # or: .venv/bin/python bench/dashboard.py --consultants 50000 --days 90 --record
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.dashboard.browser import Chromium  # noqa: E402
from tests.unit.dashboard.fake_api import sample, serve  # noqa: E402
from tests.waiting import wait_http  # noqa: E402

SYNCWATCH = str(Path(sys.executable).parent / "syncwatch")
RESULTS = ROOT / "bench" / "results" / "dashboard.jsonl"
console = Console()


def pages(trace_key: str) -> dict[str, str]:
    return {
        "overview": "/",
        "sli detail": "/sli?sli=time_posting_first_pass&window=90d&by=project",
        "record trace": f"/trace?key={trace_key}",
        "probes": "/probes",
        "alerts": "/alerts",
        "ingest": "/ingest",
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_dashboard(api_url: str, token: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCWATCH_")}
    # local mode: the pages themselves are timed, not the sign-in screen in front of them
    env.update(
        SYNCWATCH_DASHBOARD_TOKEN=token, SYNCWATCH_DASHBOARD_REFRESH_SECONDS="600", SYNCWATCH_DASHBOARD_AUTH="local"
    )
    process = subprocess.Popen(
        [SYNCWATCH, "dashboard", "--port", str(port), "--api-url", api_url],
        cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/_stcore/health", process, what="the dashboard")
    return process, url


FLOOR_SCRIPT = 'import streamlit as st\nst.title("floor")\nst.write("the smallest Streamlit page")\n'


def streamlit_floor(workdir: Path, rounds: int) -> list[float]:
    """First render of a one-line Streamlit page on this host right now: the framework's own floor, against
    which the console's pages are read (the host is shared; its load moves every figure)."""
    script = workdir / "floor.py"
    script.write_text(FLOOR_SCRIPT)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true", "--server.port",
         str(port), "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_http(f"http://127.0.0.1:{port}/_stcore/health", process, what="the floor page")
        with Chromium(workdir / "chromium-floor") as browser:
            return [browser.render(f"http://127.0.0.1:{port}/") for _ in range(rounds + 1)][1:]
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--consultants", type=int, default=50_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--api-url", default="", help="measure against this running collector instead of the fake")
    parser.add_argument("--token", default="", help="read token for --api-url")
    parser.add_argument("--trace-key", default="PRJ-00001", help="the record the trace page opens")
    parser.add_argument("--rounds", type=int, default=3, help="fresh dashboard processes (cold caches) to measure")
    parser.add_argument("--record", action="store_true", help=f"append the figures to {RESULTS.relative_to(ROOT)}")
    parser.add_argument("--screenshots", type=Path, default=None, help="keep a screenshot of every page here")
    args = parser.parse_args()

    cold: dict[str, list[float]] = {}
    warm: dict[str, list[float]] = {}
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        if args.api_url:
            api_url, token, source = args.api_url, args.token, f"collector {args.api_url}"
        else:
            started = time.perf_counter()
            fake = sample(args.consultants, args.days)
            api_url = stack.enter_context(serve(fake))
            token = "bench-read-token"
            source = f"fake API sized for {args.consultants:,} consultants x {args.days} days"
            console.print(f"built the fake answers in {time.perf_counter() - started:.1f} s")
        for round_no in range(args.rounds):
            process, url = start_dashboard(api_url, token, Path(tmp))
            try:
                with Chromium(Path(tmp) / f"chromium-{round_no}") as browser:
                    # The browser's first load of Streamlit's own scripts and the server's first session are not
                    # what a page costs: open the record trace with no key first (it asks the API for nothing but
                    # /readyz), so every page below still starts with no cached answer.
                    browser.render(url + "/trace", timeout=120)
                    for name, path in pages(args.trace_key).items():
                        cold.setdefault(name, []).append(browser.render(url + path, timeout=120))
                        found = browser.problems()
                        if found.get("exceptions") or found.get("errors") or found.get("traceback"):
                            raise SystemExit(f"{name}: {found.get('exceptions') or found.get('errors')}")
                        warm.setdefault(name, []).append(browser.render(url + path, timeout=120))
                        if args.screenshots and round_no == 0:
                            browser.screenshot(args.screenshots / f"{name.replace(' ', '-')}.png")
            finally:
                process.terminate()
                process.wait(timeout=30)

        floor = streamlit_floor(Path(tmp), max(3, args.rounds))
    load = os.getloadavg()[0]

    table = Table("page", "first render, cold (median s)", "worst cold (s)", "warm (median s)",
                  title=f"{source}; load average {load:.1f} on {os.cpu_count()} cores")  # fmt: skip
    table.add_row("(one-line Streamlit page)", f"{statistics.median(floor):.2f}", f"{max(floor):.2f}", "")
    for name in cold:
        table.add_row(name, f"{statistics.median(cold[name]):.2f}", f"{max(cold[name]):.2f}",
                      f"{statistics.median(warm[name]):.2f}")  # fmt: skip
    console.print(table)
    worst = max(max(v) for v in cold.values())
    console.print(f"worst first render over {args.rounds} cold rounds: {worst:.2f} s (target <= 2 s)")
    if args.record:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a") as out:
            out.write(json.dumps({
                "date": datetime.now(UTC).isoformat(timespec="seconds"), "source": source, "rounds": args.rounds,
                "load_average": round(load, 2), "streamlit_floor_median_s": round(statistics.median(floor), 3),
                "cold_median_s": {k: round(statistics.median(v), 3) for k, v in cold.items()},
                "cold_worst_s": {k: round(max(v), 3) for k, v in cold.items()},
                "warm_median_s": {k: round(statistics.median(v), 3) for k, v in warm.items()},
            }) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
