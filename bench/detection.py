"""Detection latency: from a fault switched on in the live simulator to the first notification of a new firing
alert arriving at a webhook, with SyncWatch's default settings, for each fault scenario.

    python bench/detection.py [--consultants 200] [--speed 60] [--scenarios erp_outage,silent_flow] [--timeout 300]

For each scenario it starts, in a fresh scratch directory: `syncwatch serve` (embedded warehouse, default alert
rules, probes on the simulated estate, SYNCWATCH_ALERTS_WEBHOOK_URL pointing at a webhook receiver in this
process), then `syncwatch simulate live` with a warm-up; after a settling period it records which alerts already
fire, switches the fault on and waits for a notification carrying an alert that was not firing before. A fresh
stack per scenario keeps one fault's alerts from muting or masking the next one's (`--shared` runs them all in one
stack, with a cool-down between). It also records when the new alert was firing in the API (`firing_s`), which
tells a slow signal from a notification held on purpose (warnings are muted in the period close). Prints one line
per scenario and the p95 (a scenario not detected within the run counts as slower than all), and appends a JSON
line to bench/results/detection.jsonl. `--no-mutes` runs the default config without its mute time intervals (what a
day outside the period-close freeze sees); `--disable-probe integration_runtime` what the records alone tell of a
process that hangs while its platform still says it runs.
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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import yaml

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
        self.received: list[tuple[float, str, dict[str, Any]]] = []  # (arrival, path, payload)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                outer.received.append((time.monotonic(), self.path, json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def firing_since(self, since: float, exclude: set[str], path: str = "/hook") -> tuple[float, dict[str, Any]] | None:
        for at, got, body in list(self.received):
            if at < since or got != path:
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


@contextmanager
def stack(args: argparse.Namespace, hook: Hook) -> Iterator[Stack]:
    """A collector on a fresh embedded warehouse and a live simulated firm feeding it, warmed up and settled."""
    work = Path(tempfile.mkdtemp(prefix="syncwatch-detection-"))
    port, api_port = free_port(), free_port()
    probes = yaml.safe_load((ROOT / "probes" / "examples" / "simulated-estate.yaml").read_text())
    for system in probes["systems"].values():
        system["base_url"] = system["base_url"].replace("8900", str(api_port))
    if args.disable_probe:  # e.g. integration_runtime: what the records alone tell when a process hangs unseen
        probes["builtin"] = {name: {"enabled": False} for name in args.disable_probe}
    (work / "probes.yaml").write_text(yaml.safe_dump(probes, sort_keys=False))
    alerts_env: dict[str, str] = {}
    if args.no_mutes:  # the default rules and routes without mute time intervals: any day outside the freeze
        alerts = yaml.safe_load((ROOT / "alerts" / "config" / "default.yaml").read_text())
        for route in [alerts["route"], *alerts["route"].get("routes", [])]:
            route.pop("mute_time_intervals", None)
        (work / "alerts.yaml").write_text(yaml.safe_dump(alerts, sort_keys=False))
        alerts_env["SYNCWATCH_ALERTS_CONFIG_FILE"] = str(work / "alerts.yaml")
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
        **alerts_env,
    }
    base = f"http://127.0.0.1:{port}"
    procs: list[subprocess.Popen[bytes]] = []
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
        live = [SYNCWATCH, "simulate", "live", "--consultants", str(args.consultants), "--speed", str(args.speed)]
        live += ["--warmup-days", str(args.warmup_days), "--api-port", str(api_port), "--base-url", base]
        live += ["--token", token, "--no-spans"]
        procs.append(subprocess.Popen(live, cwd=work, env=env, stdout=sim_log, stderr=sim_log))
        sim = f"http://127.0.0.1:{api_port}"
        sim_auth = {"Authorization": f"Bearer {SIM_ADMIN}"}
        wait_http(f"{sim}/admin/status", procs[1], timeout=900, headers=sim_auth, what="the live simulation")
        am = None
        if args.prometheus_chain:
            am = _prometheus_chain(work, base, env, hook, procs)
        print(f"live simulation up; settling {args.settle:.0f} s", flush=True)
        time.sleep(args.settle)
        _wait_for_reachable_systems(base, {"Authorization": f"Bearer {admin}"})
        yield Stack(base, {"Authorization": f"Bearer {admin}"}, sim, sim_auth, work, am)
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}", flush=True)


def _wait_for_reachable_systems(base: str, api: dict[str, str], limit: float = 300.0) -> None:
    """An unreachable-system alert inhibits the record-posting pages a fault would raise: measure only once none is
    firing. (The collector's first probe runs come before the simulator's APIs answer; those runs are `unreached`,
    which no such rule reads, so this returns at once unless a probe that had answered failed.)"""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        listing = httpx.get(f"{base}/api/v1/alerts", headers=api, params={"state": "firing"}, timeout=30).json()
        if not any(a["labels"].get("category") == "system_unreachable" for a in listing["alerts"]):
            return
        time.sleep(2)
    print("an unreachable-system alert from the start is still firing: inhibited pages will not be seen", flush=True)


@dataclass(frozen=True)
class Stack:
    base: str
    api: dict[str, str]
    sim: str
    sim_auth: dict[str, str]
    work: Path
    alertmanager: str | None = None  # the comparison chain's Alertmanager, when it runs


def _prometheus_chain(
    work: Path, base: str, env: dict[str, str], hook: Hook, procs: list[subprocess.Popen[bytes]]
) -> str:
    """Prometheus and Alertmanager with their own defaults (scrape and evaluation every 1 m, group_wait 30 s) on the
    same collector: /metrics scraped, the same rules exported (`syncwatch rules export`), notifications to the hook
    under /am. Returns Alertmanager's URL."""

    def cli(*argv: str) -> str:
        return subprocess.run([SYNCWATCH, *argv], cwd=work, env=env, capture_output=True, text=True, check=True).stdout

    read_token = cli("token", "create", "--name", "prometheus", "--scope", "read").strip()
    cli("rules", "export", "--out", str(work / "rules.yml"))
    am_port, prom_port = free_port(), free_port()
    am_url = f"http://127.0.0.1:{am_port}"
    (work / "alertmanager.yml").write_text(yaml.safe_dump({
        "route": {"receiver": "hook", "group_by": ["alertname"]},  # group_wait 30 s, group_interval 5 m: defaults
        "receivers": [{"name": "hook", "webhook_configs": [{"url": hook.url.replace("/hook", "/am")}]}],
    }))  # fmt: skip
    (work / "prometheus.yml").write_text(yaml.safe_dump({
        "rule_files": [str(work / "rules.yml")],  # scrape_interval and evaluation_interval: the 1 m defaults
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [am_url.removeprefix("http://")]}]}]},
        "scrape_configs": [{
            "job_name": "syncwatch",
            "authorization": {"type": "Bearer", "credentials": read_token},
            "static_configs": [{"targets": [base.removeprefix("http://")]}],
        }],
    }))  # fmt: skip
    quiet = subprocess.DEVNULL
    procs.append(subprocess.Popen(["prometheus-alertmanager", f"--config.file={work / 'alertmanager.yml'}",
                                   f"--storage.path={work / 'am'}", f"--web.listen-address=127.0.0.1:{am_port}",
                                   "--cluster.listen-address="], stdout=quiet, stderr=quiet))  # fmt: skip
    wait_http(f"{am_url}/-/ready", procs[-1], timeout=60, what="alertmanager")
    prometheus = ["prometheus", f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'tsdb'}",
                  f"--web.listen-address=127.0.0.1:{prom_port}"]  # fmt: skip
    procs.append(subprocess.Popen(prometheus, stdout=quiet, stderr=quiet))
    wait_http(f"http://127.0.0.1:{prom_port}/-/ready", procs[-1], timeout=60, what="prometheus")
    return am_url


def measure(s: Stack, hook: Hook, name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Switch one fault on, wait for the first notification of an alert that was not pending or firing before (and
    note when it was firing in the API, also when its notification is held by a mute time interval), switch it off."""
    listing = httpx.get(f"{s.base}/api/v1/alerts", headers=s.api, timeout=30).json()["alerts"]
    before = {a["fingerprint"] for a in listing if a["state"] in ("pending", "firing")}
    # The healthy firm's own alerts just before the fault: each one is a false alert (the target is none).
    false_alerts = sorted(f"{a['rule']}:{a['state']}" for a in listing if a["state"] in ("pending", "firing"))
    am_before = set()
    if s.alertmanager:
        am_before = {a["fingerprint"] for a in httpx.get(f"{s.alertmanager}/api/v2/alerts", timeout=10).json()}
    am_found = None
    t0 = time.monotonic()
    httpx.post(f"{s.sim}/admin/faults/{name}", json={"on": True}, headers=s.sim_auth, timeout=10)
    found = None
    fired: tuple[float, dict[str, Any]] | None = None
    while time.monotonic() - t0 < args.timeout and (found is None or (s.alertmanager and am_found is None)):
        found = found or hook.firing_since(t0, before)
        if s.alertmanager:
            am_found = am_found or hook.firing_since(t0, am_before, path="/am")
        if fired is None:
            alert = _new_firing(httpx.get(f"{s.base}/api/v1/alerts", headers=s.api, timeout=30).json(), before)
            fired = None if alert is None else (time.monotonic() - t0, alert)
        time.sleep(0.5)
    httpx.post(f"{s.sim}/admin/faults/{name}", json={"on": False}, headers=s.sim_auth, timeout=10)
    row: dict[str, Any] = {"scenario": name, "latency_s": None, "alert": None, "healthy_alerts": false_alerts}
    if found is not None:
        row |= {
            "latency_s": round(found[0] - t0, 1),
            "alert": found[1]["labels"]["alertname"],
            "summary": found[1]["annotations"].get("summary"),
        }
    if s.alertmanager:
        row["prometheus_chain_s"] = None if am_found is None else round(am_found[0] - t0, 1)
        row["prometheus_chain_alert"] = None if am_found is None else am_found[1]["labels"]["alertname"]
    if fired is not None:
        row |= {"firing_s": round(fired[0], 1), "firing_alert": fired[1]["rule"]}
        row.setdefault("summary", fired[1]["annotations"].get("summary"))
    shown = f"{row['latency_s']:6.1f} s  {row['alert']}" if found else f"  none within {args.timeout:.0f} s"
    if fired is not None:
        shown += f"  (firing after {fired[0]:.1f} s: {fired[1]['rule']})"
    if s.alertmanager:
        chain = row["prometheus_chain_s"]
        shown += f"  [Prometheus + Alertmanager: {chain} s {row['prometheus_chain_alert'] or ''}]"
    if false_alerts:
        shown += f"  [active on the healthy firm before the fault: {', '.join(false_alerts)}]"
    print(f"{name:24s} {shown}", flush=True)
    return row


def p95(values: list[float | None]) -> float | None:
    """Nearest-rank p95 where a scenario not detected within the run counts as slower than every detected one."""
    if not values:
        return None
    ranked = sorted(values, key=lambda v: math.inf if v is None else v)
    return ranked[max(0, math.ceil(0.95 * len(ranked)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--consultants", type=int, default=200)
    parser.add_argument("--speed", type=float, default=60.0)
    parser.add_argument("--warmup-days", type=float, default=7.0)
    parser.add_argument("--settle", type=float, default=90.0, help="seconds after warm-up before measuring")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait per scenario")
    parser.add_argument("--cooldown", type=float, default=60.0, help="seconds after a fault is switched off")
    parser.add_argument("--scenarios", default=",".join(DEFAULT_SCENARIOS))
    parser.add_argument(
        "--shared",
        action="store_true",
        help="run every scenario in one stack (faster; alerts of one fault can mute or mask the next one's)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch directories")
    parser.add_argument(
        "--prometheus-chain",
        action="store_true",
        help="also run Prometheus + Alertmanager with their defaults on the same /metrics and exported rules, and"
        " time their first notification of the same fault",
    )
    parser.add_argument(
        "--no-mutes",
        action="store_true",
        help="default alert config without its mute time intervals (the period-close freeze holds warnings on"
        " days 1-3 and the last 2 of a month): what a day outside the freeze sees",
    )
    parser.add_argument(
        "--disable-probe",
        action="append",
        default=[],
        metavar="NAME",
        help="switch a built-in probe off (repeatable); integration_runtime off measures a process that hangs"
        " while its platform still says it runs",
    )
    args = parser.parse_args()

    names = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    hook = Hook()
    results: list[dict[str, Any]] = []
    try:
        if args.shared:
            with stack(args, hook) as s:
                for name in names:
                    results.append(measure(s, hook, name, args))
                    time.sleep(args.cooldown)
        else:  # a fresh firm and warehouse per scenario: nothing still firing from an earlier fault
            for name in names:
                with stack(args, hook) as s:
                    results.append(measure(s, hook, name, args))
    finally:
        hook.server.shutdown()
    notified = [r["latency_s"] for r in results]
    # Firing in the API counts where the notification is held on purpose (a mute time interval such as the
    # period-close freeze): the alert was detected, the routing chose silence.
    # The first sign is the earlier of the two (a warning can fire, held, before a page on the same fault is sent).
    detected = [min((v for v in (r["latency_s"], r.get("firing_s")) if v is not None), default=None) for r in results]
    summary = {
        "p95_notified_s": p95(notified),
        "p95_detected_s": p95(detected),
        "notified": f"{sum(v is not None for v in notified)}/{len(results)}",
        "detected": f"{sum(v is not None for v in detected)}/{len(results)}",
        "healthy_false_alerts": sum(len(r["healthy_alerts"]) for r in results),
    }
    print(
        f"notified {summary['notified']}, p95 {summary['p95_notified_s']} s; detected (firing, also when held)"
        f" {summary['detected']}, p95 {summary['p95_detected_s']} s (None: a scenario not detected within the run);"
        f" alerts active on the healthy firm before a fault: {summary['healthy_false_alerts']}"
    )
    out = ROOT / "bench" / "results" / "detection.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "at": datetime.now(UTC).isoformat(),
        "consultants": args.consultants,
        "speed": args.speed,
        "fresh_stack_per_scenario": not args.shared,
        "disabled_probes": args.disable_probe,
        "mutes": not args.no_mutes,
        "prometheus_chain": args.prometheus_chain,
        "results": results,
        **summary,
    }
    with out.open("a") as handle:
        handle.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
