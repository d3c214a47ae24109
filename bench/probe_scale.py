"""Probe cost and accuracy at firm scale: build a simulated firm (optionally with a fault), serve its system APIs
on loopback, run every built-in probe once with the DEFAULT budgets (real pacing: 4 calls/s per system), and
report per probe its outcome, duration, API calls per system, findings, and whether they equal the ground truth.

    .venv/bin/python bench/probe_scale.py --consultants 5000 --days 30 [--fault duplicate_submissions] [--record]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import uvicorn

from probes.config import parse_probes_file
from probes.fleet import ProbeFleet
from simulator import truth
from simulator.apis.app import create_app
from simulator.apis.auth import Credentials
from simulator.calendar import DAY, to_epoch
from simulator.emit import MemorySink
from simulator.faults import FaultSchedule
from simulator.simulation import Simulation

RESULTS = Path(__file__).parent / "results" / "probes.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--consultants", type=int, default=5000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--fault", default="")
    ap.add_argument("--advance-hours", type=float, default=24.0)
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()

    start = to_epoch(date(2025, 3, 3))
    faults = FaultSchedule()
    if args.fault:
        faults.add(args.fault, start + args.days // 2 * DAY, None)
    t0 = time.perf_counter()
    sim = Simulation(args.consultants, 42, start, MemorySink(), faults, spans=False)
    sim.begin()
    sim.run_until(start + args.days * DAY)
    print(f"simulated {args.consultants} consultants x {args.days} days in {time.perf_counter() - t0:.1f} s")
    expected = truth.discrepancies(sim.firm, sim.now)
    by_kind: dict[str, set[str]] = {}
    for f in expected:
        by_kind.setdefault(f["kind"], set()).add(f["object_id"])

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(sim), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    creds = Credentials()
    os.environ["BENCH_SECRET"], os.environ["BENCH_KEY"] = creds.client_secret, creds.api_key

    def oauth(path: str) -> dict[str, str]:
        return {"type": "oauth2_client_credentials", "token_url": path, "client_id": creds.client_id,
                "client_secret": "env:BENCH_SECRET"}  # fmt: skip

    config = parse_probes_file(
        {
            "systems": {
                "erp": {"base_url": base, "auth": oauth("/services/rest/auth/oauth2/v1/token")},
                "crm": {"base_url": base, "auth": oauth("/services/oauth2/token")},
                "hcm": {"base_url": base, "auth": oauth("/ccx/oauth2/acme/token"), "options": {"tenant": "acme"}},
                "psa": {"base_url": base, "auth": {"type": "bearer", "token": "env:BENCH_KEY"}},
                "middleware": {"base_url": base, "auth": {"type": "api_key", "key": "env:BENCH_KEY"}},
            },
            # one run each, measured: the declared costs must not stop a single run at this scale
            "builtin": {
                n: {"cost": {"erp": 1, "psa": 1, "crm": 1, "hcm": 1, "middleware": 1}}
                for n in (
                    "time_posting",
                    "project_master_data",
                    "deals_without_project",
                    "worker_sync",
                    "rate_cards",
                    "dead_letters",
                )
            },  # fmt: skip
        }
    )
    fleet = ProbeFleet(config, now=lambda: sim.now)
    rows = []
    print(f"{'probe':24} {'outcome':9} {'seconds':>8} {'calls':>22} {'findings':>9} exact")
    for name in fleet.probes:
        run = fleet.run(name)
        found: dict[str, set[str]] = {}
        for f in run.findings:
            found.setdefault(f.kind, set()).add(f.object_id)
        kinds = set(getattr(fleet.probes[name], "kinds", ())) & {
            "approved_not_posted", "duplicate_posting", "project_mismatch", "deal_without_project",
            "worker_not_synced", "dead_letter_unreplayed"}  # fmt: skip
        exact = all(found.get(k, set()) == by_kind.get(k, set()) for k in kinds) if kinds else None
        calls = ",".join(f"{s}={n}" for s, n in sorted(run.calls_by_system.items()))
        counts = dict(Counter(f.kind for f in run.findings))
        print(f"{name:24} {run.outcome.value:9} {run.duration_ms / 1000:8.1f} {calls:>22} {len(run.findings):9} {exact}"
              + (f"  {run.error}" if run.error else ""))  # fmt: skip
        rows.append({"probe": name, "outcome": run.outcome.value, "seconds": round(run.duration_ms / 1000, 2),
                     "calls": run.calls_by_system, "findings": counts, "exact": exact})  # fmt: skip
    # A second pass a simulated day later: the incremental probes read only what changed.
    with sim.lock:
        sim.run_until(sim.now + args.advance_hours * 3600)
    expected = truth.discrepancies(sim.firm, sim.now)
    by_kind = {}
    for f in expected:
        by_kind.setdefault(f["kind"], set()).add(f["object_id"])
    print(f"-- {args.advance_hours} simulated hours later --")
    for name in ("time_posting", "duplicate_postings"):
        run = fleet.run(name)
        kind = "approved_not_posted" if name == "time_posting" else "duplicate_posting"
        exact = {f.object_id for f in run.findings} == by_kind.get(kind, set())
        calls = ",".join(f"{s}={n}" for s, n in sorted(run.calls_by_system.items()))
        print(
            f"{name:24} {run.outcome.value:9} {run.duration_ms / 1000:8.1f} {calls:>22} {len(run.findings):9} {exact}"
        )
        seconds = round(run.duration_ms / 1000, 2)
        rows.append({"probe": name, "pass": 2, "outcome": run.outcome.value, "seconds": seconds,
                     "calls": run.calls_by_system, "findings": len(run.findings), "exact": exact})  # fmt: skip
    fleet.close()
    server.should_exit = True
    if args.record:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a") as out:
            out.write(json.dumps({"date": datetime.now(UTC).date().isoformat(), "consultants": args.consultants,
                                  "days": args.days, "fault": args.fault, "probes": rows}) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
