"""The probes stage inside the real collector: scheduled and on-demand runs stored in the warehouse, the read
API, the Prometheus series, the monitor's own spans, and a probe that stops answering becoming visible."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from probes.reconcile import BUILTIN_PROBES
from simulator.apis.app import create_app as create_estate
from tests.conftest import ThreadedCollector, auth, free_port, make_settings

from .probe_support import estate_config, serve, set_secrets, simulate

pytestmark = pytest.mark.integration


def _slow_app(delay: float) -> FastAPI:
    app = FastAPI()

    @app.get("/slow")
    async def slow() -> dict[str, Any]:
        await asyncio.sleep(delay)
        return {"items": []}

    return app


@pytest.fixture
def running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ThreadedCollector, Any]]:
    set_secrets(monkeypatch)
    sim = simulate("dead_letter_buildup", days=21)
    with serve(create_estate(sim)) as base, serve(_slow_app(8)) as slow_base:
        config = estate_config(base)
        config["systems"]["slowapi"] = {"base_url": slow_base}
        config["systems"]["gone"] = {"base_url": f"http://127.0.0.1:{free_port()}", "max_retries": 1}
        config["builtin"] = {name: {"interval_seconds": 3600} for name in BUILTIN_PROBES}
        config["probes"] = [
            {
                "name": "dlq_queues",
                "system": "middleware",
                "path": "/api/v1/queues",
                "paging": {"style": "none", "items": "$.queues[*]"},
                "key": "$.name",
                "when": {"path": "$.depth", "op": ">", "value": 0},
                "finding": {"kind": "dead_letter_queue", "object_type": "queue", "age_from": "$.oldest_enqueued_at"},
                "interval_seconds": 3600,
            },
            {
                "name": "hangs",
                "system": "slowapi",
                "path": "/slow",
                "paging": {"items": "$.items[*]"},
                "key": "$.id",
                "finding": {"kind": "x", "object_type": "y"},
                "interval_seconds": 1,
                "timeout_seconds": 60,
            },  # fmt: skip
            {
                "name": "unreachable",
                "system": "gone",
                "path": "/x",
                "key": "$.id",
                "finding": {"kind": "x", "object_type": "y"},
                "interval_seconds": 3600,
            },  # fmt: skip
        ]
        path = tmp_path / "probes.yaml"
        path.write_text(yaml.safe_dump(config))
        # Alert evaluation's own interval is an hour here: an alert that fires within seconds of a probe run was
        # evaluated because the run stored new signals.
        settings = make_settings(tmp_path, probes_config=path, alerts_evaluation_interval_seconds=3600)
        from syncwatch.tokens import create_token
        from syncwatch.warehouse import apply_migrations, connect

        client = connect(settings)
        apply_migrations(client, settings.retention_days)
        secrets = {scope: create_token(client, f"t-{scope}", [scope])[1] for scope in ("read", "admin", "ingest")}
        with ThreadedCollector(settings) as collector:
            yield collector, (sim, secrets)
        client.command(f"DROP DATABASE IF EXISTS `{settings.database}`")


def test_runs_are_stored_served_and_exposed(running: tuple[ThreadedCollector, Any]) -> None:
    collector, (sim, secrets) = running
    read, admin = auth(secrets["read"]), auth(secrets["admin"])
    url = collector.url
    assert httpx.post(f"{url}/api/v1/probes/dead_letters/run", headers=read).status_code == 403
    r = httpx.post(f"{url}/api/v1/probes/dead_letters/run", headers=admin, timeout=120)
    assert r.status_code == 200, r.text
    run = r.json()
    expected = {
        m.message_id for m in sim.firm.dead_letters.values() if m.replayed_at is None or m.replayed_at > sim.now
    }
    assert run["outcome"] == "mismatch" and {f["object_id"] for f in run["findings"]} == expected
    assert run["api_calls"] >= 2
    r = httpx.post(f"{url}/api/v1/probes/dlq_queues/run", headers=admin, timeout=60)
    assert r.json()["outcome"] == "mismatch" and r.json()["findings"][0]["kind"] == "dead_letter_queue"
    r = httpx.post(f"{url}/api/v1/probes/unreachable/run", headers=admin, timeout=60)
    # never answered: not set up yet rather than an outage, and asked again in 30 s rather than in an hour
    assert r.json()["outcome"] == "unreached" and "ConnectError" in r.json()["error"]
    assert collector.app.state.service.scheduler.get_job("probe-first-contact:unreachable") is not None
    assert httpx.post(f"{url}/api/v1/probes/nope/run", headers=admin).status_code == 404

    listing = httpx.get(f"{url}/api/v1/probes", headers=read).json()
    by_name = {p["name"]: p for p in listing["probes"]}
    dl = by_name["dead_letters"]
    assert dl["system"] == "middleware" and dl["interval_seconds"] == 3600 and dl["stale"] is False
    # the scheduler's own first run (1-30 s after start) may have come after ours: either is the last run
    assert dl["last_run"]["started_at"] >= run["started_at"] and dl["last_run"]["outcome"] == "mismatch"
    assert dl["last_run"]["findings"] == len(expected)
    assert dl["budget"]["used_last_hour"] >= run["api_calls"] and dl["budget"]["max_concurrency"] == 2
    assert by_name["unreachable"]["last_run"]["outcome"] == "unreached"
    assert listing["systems"]["middleware"]["calls_since_start"] >= run["api_calls"]
    assert httpx.get(f"{url}/api/v1/probes").status_code == 401

    found = httpx.get(f"{url}/api/v1/probes/dead_letters/findings?limit=5", headers=read).json()
    assert found["run_id"] in (run["run_id"], dl["last_run"]["run_id"]) or found["observed_at"] >= run["started_at"]
    assert len(found["findings"]) == min(5, len(expected)) and {f["object_id"] for f in found["findings"]} <= expected
    assert {"kind", "object_type", "object_id", "tenant_id", "age_seconds", "amount", "currency", "detail"} <= set(
        found["findings"][0]
    )
    # a failed run has no findings to show: the last answering run's findings stay visible
    none_yet = httpx.get(f"{url}/api/v1/probes/unreachable/findings", headers=read).json()
    assert none_yet["run_id"] is None and none_yet["findings"] == []

    text = httpx.get(f"{url}/metrics", headers=read).text
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }
    assert samples[("syncwatch_probe_up", (("probe", "dead_letters"),))] == 1.0
    assert samples[("syncwatch_probe_up", (("probe", "unreachable"),))] == 0.0
    assert samples[("syncwatch_probe_outcome", (("outcome", "unreached"), ("probe", "unreachable")))] == 1.0
    assert samples[
        ("syncwatch_probe_findings", (("kind", "dead_letter_unreplayed"), ("probe", "dead_letters")))
    ] == len(expected)
    assert samples[("syncwatch_probe_api_calls_total", (("system", "middleware"),))] >= run["api_calls"]
    assert (
        samples[("syncwatch_probe_budget_remaining_calls", (("system", "middleware"),))] <= 100_000 - run["api_calls"]
    )
    assert samples[("syncwatch_probe_last_run_timestamp_seconds", (("probe", "dead_letters"),))] > time.time() - 300

    # the monitor observes itself: the run is a trace, each API call a span under it
    component = next(c for c in collector.service.components if c.name == "probes")
    component._provider.force_flush()
    client = collector.service.connect()
    spans = client.query(
        "SELECT SpanName, SpanAttributes, ParentSpanId FROM otel_traces WHERE TraceId = {t:String}",
        parameters={"t": run["run_id"]},
    ).result_rows
    names = [s[0] for s in spans]
    assert "probe dead_letters" in names
    calls = [s for s in spans if s[2]]
    assert len(calls) == run["api_calls"]
    from probes.tracing import http_method, http_status

    assert all(s[1]["syncwatch.system"] == "middleware" and s[1]["syncwatch.probe"] == "dead_letters" for s in calls)
    assert all(http_status(s[1]) == 200 and http_method(s[1]) == "GET" for s in calls)
    stored = client.query(
        "SELECT outcome, findings, api_calls FROM probe_runs WHERE run_id = {r:String}", parameters={"r": run["run_id"]}
    ).result_rows
    assert stored == [("mismatch", len(expected), run["api_calls"])]


def test_a_probe_without_results_for_three_intervals_is_stale(running: tuple[ThreadedCollector, Any]) -> None:
    collector, (_, secrets) = running
    read = auth(secrets["read"])
    deadline = time.monotonic() + 30
    while True:
        probes = {p["name"]: p for p in httpx.get(f"{collector.url}/api/v1/probes", headers=read).json()["probes"]}
        if probes["hangs"]["stale"] or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert probes["hangs"]["stale"] is True and probes["hangs"]["last_run"] is None
    assert probes["dead_letters"]["stale"] is False  # hourly, registered seconds ago
    text = httpx.get(f"{collector.url}/metrics", headers=read).text
    assert 'syncwatch_probe_stale{probe="hangs"} 1.0' in text
    assert 'syncwatch_probe_up{probe="hangs"} 0.0' in text


def test_a_stopped_integration_pages_right_after_the_run_that_finds_it(running: tuple[ThreadedCollector, Any]) -> None:
    collector, (sim, secrets) = running
    read, admin = auth(secrets["read"]), auth(secrets["admin"])
    r = httpx.post(f"{collector.url}/api/v1/probes/integration_runtime/run", headers=admin, timeout=60)
    assert r.status_code == 200, r.text
    run = r.json()
    assert run["outcome"] == "mismatch" and run["api_calls"] == 1
    (finding,) = run["findings"]
    assert finding["kind"] == "integration_stopped" and finding["object_id"] == "dead-letter-replay"
    assert finding["detail"]["status"] == "stopped" and finding["detail"]["status_reason"]
    deadline = time.monotonic() + 20
    stopped: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not stopped:
        alerts = httpx.get(f"{collector.url}/api/v1/alerts", headers=read, timeout=10).json()["alerts"]
        stopped = [a for a in alerts if a["rule"] == "IntegrationStopped" and a["state"] == "firing"]
        time.sleep(0.5)
    assert stopped, "IntegrationStopped did not fire after the run, with evaluation every hour"
    assert stopped[0]["labels"]["flow"] == "dead-letter-replay" and stopped[0]["severity"] == "critical"
    assert "dead-letter-replay (middleware to middleware) has been stopped" in stopped[0]["annotations"]["summary"]
