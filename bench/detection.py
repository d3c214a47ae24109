"""Detection latency: from a fault switched on in the live simulator to the first notification of a new firing
alert arriving at a webhook, with SyncWatch's default settings, for each fault scenario.

    python bench/detection.py [--consultants 200] [--speed 60] [--scenarios erp_outage,silent_flow] [--timeout 300]

It starts, in a scratch directory: `syncwatch serve` (embedded warehouse, default alert rules, probes on the
simulated estate, SYNCWATCH_ALERTS_WEBHOOK_URL pointing at a webhook receiver in this process), then
`syncwatch simulate live` with a warm-up. After a settling period it records which alerts already fire, then for
each scenario switches the fault on, waits for a notification carrying an alert that was not firing before,
switches the fault off and waits for things to calm down. Prints one line per scenario and the p95, and appends
a JSON line to bench/results/detection.jsonl. It also records when the new alert was firing in the API
(`firing_s`), which tells a slow signal from a held notification (warnings are muted in the period close).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.waiting import wait_http  # noqa: E402

SYNCWATCH = str(Path(sys.executable).parent / "syncwatch")
SIM_ADMIN = "sim-admin-token"
DEFAULT_SCENARIOS = [
    "erp_outage",
    "closed_period",
    "expired_rate_card",
    "crm_rename",
    "hcm_sync_stall",
    "duplicate_submissions",
    "dead_letter_buildup",
    "silent_flow",
    "master_data_drift",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Hook:
    """Webhook receiver: every (arrival monotonic time, payload)."""

    def __init__(self) -> None:
        self.received: list[tuple[float, dict[str, Any]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                outer.received.append((time.monotonic(), json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def firing_since(self, since: float, exclude: set[str]) -> tuple[float, dict[str, Any]] | None:
        for at, body in list(self.received):
            if at < since:
                continue
            for alert in body["alerts"]:
                if alert["status"] == "firing" and alert["fingerprint"] not in exclude:
                    return at, alert
        return None


def _new_firing(listing: dict[str, Any], before: set[str]) -> dict[str, Any] | None:
    for alert in listing["alerts"]:
        if alert["state"] == "firing" and alert["fingerprint"] not in before:
            return dict(alert)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--consultants", type=int, default=200)
    parser.add_argument("--speed", type=float, default=60.0)
    parser.add_argument("--warmup-days", type=float, default=7.0)
    parser.add_argument("--settle", type=float, default=90.0, help="seconds after warm-up before measuring")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait per scenario")
    parser.add_argument("--cooldown", type=float, default=60.0, help="seconds after a fault is switched off")
    parser.add_argument("--scenarios", default=",".join(DEFAULT_SCENARIOS))
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="syncwatch-detection-"))
    hook = Hook()
    port, api_port = free_port(), free_port()
    probes = (ROOT / "probes" / "examples" / "simulated-estate.yaml").read_text().replace("8900", str(api_port))
    (work / "probes.yaml").write_text(probes)
    env = {
        **os.environ,
        "SYNCWATCH_PORT": str(port),
        "SYNCWATCH_CLICKHOUSE_URL": f"chdb://{work / 'warehouse'}",
        "SYNCWATCH_VAR_DIR": str(work / "var"),
        "SYNCWATCH_ALERTS_WEBHOOK_URL": hook.url,
        "SYNCWATCH_PROBES_CONFIG": str(work / "probes.yaml"),
        "SYNCWATCH_LOG_LEVEL": "WARNING",
        "SIM_CLIENT_SECRET": "sim-client-secret",
        "SIM_API_KEY": "sim-api-key",
        "SYNCWATCH_SIM_ADMIN_TOKEN": SIM_ADMIN,
    }
    base = f"http://127.0.0.1:{port}"
    procs: list[subprocess.Popen[bytes]] = []
    results: list[dict[str, Any]] = []
    try:
        log = (work / "collector.log").open("wb")
        procs.append(subprocess.Popen([SYNCWATCH, "serve"], cwd=work, env=env, stdout=log, stderr=log))
        wait_http(f"{base}/readyz", procs[0], timeout=120, what="the collector")
        token = subprocess.run(
            [SYNCWATCH, "token", "create", "--name", "bench", "--scope", "ingest"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        admin = json.loads((work / "var" / "collector.json").read_text())["admin_token"]
        sim_log = (work / "simulator.log").open("wb")
        procs.append(
            subprocess.Popen(
                [
                    SYNCWATCH,
                    "simulate",
                    "live",
                    "--consultants",
                    str(args.consultants),
                    "--speed",
                    str(args.speed),
                    "--warmup-days",
                    str(args.warmup_days),
                    "--api-port",
                    str(api_port),
                    "--base-url",
                    base,
                    "--token",
                    token,
                    "--no-spans",
                ],
                cwd=work,
                env=env,
                stdout=sim_log,
                stderr=sim_log,
            )
        )
        sim = f"http://127.0.0.1:{api_port}"
        sim_auth = {"Authorization": f"Bearer {SIM_ADMIN}"}
        wait_http(f"{sim}/admin/status", procs[1], timeout=900, headers=sim_auth, what="the live simulation")
        print(f"live simulation up; settling {args.settle:.0f} s", flush=True)
        time.sleep(args.settle)
        api = {"Authorization": f"Bearer {admin}"}
        for name in [s.strip() for s in args.scenarios.split(",") if s.strip()]:
            before = {
                a["fingerprint"]
                for a in httpx.get(f"{base}/api/v1/alerts", headers=api, timeout=30).json()["alerts"]
                if a["state"] in ("pending", "firing")
            }
            t0 = time.monotonic()
            httpx.post(f"{sim}/admin/faults/{name}", json={"on": True}, headers=sim_auth, timeout=10)
            found = None
            fired: tuple[float, dict[str, Any]] | None = None
            while time.monotonic() - t0 < args.timeout and found is None:
                found = hook.firing_since(t0, before)
                if fired is None:  # the alert itself, also when its notification is held (a mute time interval)
                    alert = _new_firing(httpx.get(f"{base}/api/v1/alerts", headers=api, timeout=30).json(), before)
                    fired = None if alert is None else (time.monotonic() - t0, alert)
                time.sleep(0.5)
            httpx.post(f"{sim}/admin/faults/{name}", json={"on": False}, headers=sim_auth, timeout=10)
            row: dict[str, Any] = {"scenario": name, "latency_s": None, "alert": None}
            if found is not None:
                row = {
                    "scenario": name,
                    "latency_s": round(found[0] - t0, 1),
                    "alert": found[1]["labels"]["alertname"],
                    "summary": found[1]["annotations"].get("summary"),
                }
            if fired is not None:
                row |= {"firing_s": round(fired[0], 1), "firing_alert": fired[1]["rule"]}
                row.setdefault("summary", fired[1]["annotations"].get("summary"))
            results.append(row)
            shown = f"{row['latency_s']:6.1f} s  {row['alert']}" if found else f"  none within {args.timeout:.0f} s"
            if fired is not None:
                shown += f"  (firing after {fired[0]:.1f} s: {fired[1]['rule']})"
            print(f"{name:24s} {shown}", flush=True)
            time.sleep(args.cooldown)
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        hook.server.shutdown()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    latencies = sorted(r["latency_s"] for r in results if r["latency_s"] is not None)
    p95 = latencies[max(0, math.ceil(0.95 * len(latencies)) - 1)] if latencies else None
    detected = f"{len(latencies)}/{len(results)}"
    print(
        f"detected {detected} scenarios; p95 {p95} s (of detected), median "
        f"{latencies[len(latencies) // 2] if latencies else None} s"
    )
    out = ROOT / "bench" / "results" / "detection.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as handle:
        handle.write(
            json.dumps(
                {
                    "at": datetime.now(UTC).isoformat(),
                    "consultants": args.consultants,
                    "speed": args.speed,
                    "results": results,
                    "p95_s": p95,
                    "detected": detected,
                }
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
