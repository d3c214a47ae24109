"""A healthy simulated firm, and what the console and the alert rules make of it.

Shared by tests/integration/metrics/test_healthy_firm.py (CI, 500 consultants) and bench/healthy.py (5,000). A
firm with no fault injected must read green: every SLI `ok` over its 30-day window and no alert rule of
alerts/config/default.yaml that reads SLIs starting to fire at any of the instants it is evaluated at; on-call
learns to ignore a console that is red when all is well.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from alerts.config import load_config
from alerts.evaluate import observe
from alerts.signals import ProbeState, SliValue

__all__ = ["ENDS", "SEEDS", "backfill", "firing", "slis_at", "table"]

SYNCWATCH = str(Path(sys.executable).parent / "syncwatch")
# Ends that put the window's close at different places in the calendar: mid-month Friday, a Tuesday just after a
# month end (period close in the last days), a Sunday month start. Ends stay in the past: the collector
# quarantines events from the future.
ENDS = ("2026-11-20T00:00:00Z", "2026-12-01T09:00:00Z", "2026-11-01T00:00:00Z")
SEEDS = (42, 7, 11)


def backfill(consultants: int, seed: int, end: str, base_url: str, token: str, workdir: Path,
             faults: tuple[str, ...] = (), days: int = 37, timeout: float = 900) -> None:  # fmt: skip
    """Send a firm's history to the collector: a week of warm-up before the 30-day window (the first week of a
    run has no in-flight history)."""
    args = [SYNCWATCH, "simulate", "backfill", "--consultants", str(consultants), "--days", str(days),
            "--seed", str(seed), "--end", end, "--no-spans", "--base-url", base_url, "--token", token]  # fmt: skip
    for fault in faults:
        args += ["--fault", fault]
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=workdir)
    if done.returncode != 0:
        raise RuntimeError(f"backfill failed: {done.stderr[-2000:]}")


def slis_at(base_url: str, headers: dict[str, str], end: datetime, days: int = 30) -> dict[str, dict[str, Any]]:
    """Every SLI over the `days` before `end`, with the per-flow rows the flow rules read under `flows`."""
    params = {"from": _iso(end - timedelta(days=days)), "to": _iso(end)}
    response = httpx.get(f"{base_url}/api/v1/slis", params=params, headers=headers, timeout=300)
    response.raise_for_status()
    found: dict[str, dict[str, Any]] = {s["name"]: s for s in response.json()["slis"]}
    rows = httpx.get(f"{base_url}/api/v1/slis/flow_silence/breakdown", params={**params, "by": "flow"},
                     headers=headers, timeout=300)  # fmt: skip
    rows.raise_for_status()
    found["flow_silence"]["flows"] = rows.json()["rows"]
    return found


def firing(slis: dict[str, dict[str, Any]], end: datetime) -> list[str]:
    """The SLI rules of the default alert config whose observation would start an alert at `end` (a `for` only
    delays it), ignoring business-hours intervals (stricter than the engine)."""
    values = [_value(s, "", "", end) for s in slis.values()]
    values += [_value(r, "flow", r["key"], end, "flow_silence") for r in slis["flow_silence"].get("flows", [])]
    out = []
    for rule in load_config().rules:
        if rule.kind not in ("sli", "burn_rate"):
            continue  # probe rules need the systems' APIs; absent_sli reads snapshot times
        for obs in observe(rule, values, ProbeState(), end):
            if obs.fire:
                out.append(f"{rule.name} {obs.labels} value {obs.value!r}")
    return out


def table(slis: dict[str, dict[str, Any]]) -> list[tuple[str, Any, str, Any]]:
    """(SLI, value, status, objective) rows, in the API's order."""
    return [(n, s["value"], s["status"], s["objective"]["target"]) for n, s in slis.items()]


def _value(s: dict[str, Any], dimension: str, key: str, end: datetime, name: str = "") -> SliValue:
    objective = s.get("objective") or {}
    return SliValue(
        sli=name or s["name"], dimension=dimension, key=key, time=end, value=s["value"], good=s["good"],
        total=s["total"], objective=objective.get("target"), status=s["status"],
        budget_remaining=s.get("error_budget_remaining"), burn=s.get("burn_rates") or {}, details=s["details"],
    )  # fmt: skip


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
