"""Budgets, the probes file, secrets, JSON paths, outcomes as values and the Prometheus series."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from probes.budget import BudgetLimits, Deadline, SystemBudget
from probes.config import load_probes_file, parse_probes_file
from probes.errors import BadResponse, ConfigError, DeadlineExceeded, Throttled, Unreachable
from probes.exposition import ProbeMetrics
from probes.jsonpath import first, select
from probes.model import Finding, Outcome, ProbeRun
from probes.runner import run_probe
from probes.secrets import resolve_secret
from probes.tracing import http_method, http_status

from .support import FakeTime, make_client


def test_hourly_budget_rolls_and_seeds() -> None:
    fake = FakeTime()
    budget = SystemBudget("crm", BudgetLimits(5, 2, 1e9), wall=fake.clock, monotonic=fake.clock, sleep=fake.sleep)
    budget.seed([fake.now - 7200, fake.now - 1800, fake.now - 60])  # the first is older than an hour
    assert budget.used_last_hour() == 2 and budget.remaining() == 3
    assert budget.can_afford(3) and not budget.can_afford(4)
    fake.now += 1800
    assert budget.used_last_hour() == 1


def test_rate_pacing_spaces_calls() -> None:
    fake = FakeTime()
    budget = SystemBudget("psa", BudgetLimits(100, 1, 4.0), wall=fake.clock, monotonic=fake.clock, sleep=fake.sleep)
    deadline = Deadline(60, clock=fake.clock)
    start = fake.now
    for _ in range(5):
        with budget.slot(deadline):
            pass
    assert fake.now - start == pytest.approx(1.0)  # 5 calls at 4 a second: 4 gaps of 0.25 s


def test_concurrency_cap_holds_under_threads() -> None:
    budget = SystemBudget("erp", BudgetLimits(1000, 2, 1e9))
    active = peak = 0
    lock = threading.Lock()

    def call() -> None:
        nonlocal active, peak
        with budget.slot(Deadline(10)):
            with lock:
                active += 1
                peak = max(peak, active)
            time.sleep(0.02)
            with lock:
                active -= 1

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 2 and budget.total_calls == 8


def test_secret_references(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_SECRET", "abc")
    assert resolve_secret("env:X_SECRET", what="t").reveal() == "abc"
    (tmp_path / "s").write_text("  from-file\n")
    assert resolve_secret(f"file:{tmp_path / 's'}", what="t").reveal() == "from-file"
    with pytest.raises(ConfigError, match="not accepted"):
        resolve_secret("hunter2", what="t")
    with pytest.raises(ConfigError, match="not set"):
        resolve_secret("env:NOPE_NOT_SET", what="t")
    with pytest.raises(ConfigError, match="cannot read"):
        resolve_secret(f"file:{tmp_path / 'missing'}", what="t")


def test_probes_file_validation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K", "key")
    good = tmp_path / "p.yaml"
    good.write_text(
        "systems:\n  middleware: {base_url: 'http://x', auth: {type: api_key, key: 'env:K'}}\n"
        "builtin:\n  dead_letters: {interval_seconds: 60}\n"
        "probes:\n  - {name: q, system: middleware, path: /q, key: $.id, finding: {kind: k, object_type: o}}\n"
    )
    cfg = load_probes_file(good)
    active, skipped = cfg.builtin_probes()
    by_name = {p.name: p for p in active}
    assert sorted(by_name) == ["dead_letters", "integration_runtime"] and by_name["dead_letters"].interval_seconds == 60
    assert "time_posting" in skipped and "erp" in skipped["time_posting"]
    assert [p.name for p in cfg.declarative_probes()] == ["q"]
    with pytest.raises(ConfigError, match="unknown probe"):
        parse_probes_file({"builtin": {"nope": {}}}).builtin_probes()
    with pytest.raises(ConfigError, match="systems.erp.budget.calls_per_hour"):
        parse_probes_file({"systems": {"erp": {"base_url": "x", "budget": {"calls_per_hour": 0}}}})
    with pytest.raises(ConfigError, match="not configured"):
        parse_probes_file(
            {
                "probes": [
                    {
                        "name": "q",
                        "system": "zz",
                        "path": "/",
                        "key": "$.id",
                        "finding": {"kind": "k", "object_type": "o"},
                    }
                ]
            }
        ).declarative_probes()
    no_dollar = {"name": "q", "system": "a", "path": "/", "key": "id", "finding": {"kind": "k", "object_type": "o"}}
    with pytest.raises(ConfigError, match="JSON path"):
        parse_probes_file({"systems": {"a": {"base_url": "x"}}, "probes": [no_dollar]}).declarative_probes()
    bad = tmp_path / "bad.yaml"
    bad.write_text("systems: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_probes_file(bad)
    secret_in_file = {"systems": {"a": {"base_url": "x", "auth": {"type": "bearer", "token": "plaintext"}}}}
    with pytest.raises(ConfigError) as err:
        from probes.fleet import ProbeFleet

        ProbeFleet(parse_probes_file(secret_in_file))
    assert "plaintext" not in str(err.value)


def test_json_paths() -> None:
    doc = {"a": {"b": [{"c": 1}, {"c": 2}], "m": {"x": {"v": 1}, "y": {"v": 2}}}, "k-1": 3}
    assert select("$.a.b[*].c", doc) == [1, 2]
    assert select("$.a.m.*.v", doc) == [1, 2]
    assert first("$.a.b[-1].c", doc) == 2 and first("$['k-1']", doc) == 3 and first("$.zz", doc) is None
    with pytest.raises(ConfigError):
        select("a.b", doc)


def test_http_attributes_under_both_spellings() -> None:
    assert http_status({"http.status_code": 200}) == 200
    assert http_status({"http.response.status_code": "429"}) == 429
    assert http_status({"http.response.status_code": "", "http.status_code": "503"}) == 503
    assert http_status({}) is None
    assert http_method({"http.request.method": "POST"}) == "POST" and http_method({"http.method": "GET"}) == "GET"


class _Probe:
    def __init__(self, behaviour: Any, cost: int = 1) -> None:
        self.name, self.systems, self.interval_seconds, self.timeout_seconds = "p", ("erp",), 60.0, 5.0
        self.cost, self.description, self._b = {"erp": cost}, "", behaviour

    def run(self, ctx: Any) -> list[Finding]:
        if isinstance(self._b, Exception):
            raise self._b
        return list(self._b)


@pytest.mark.parametrize(
    ("behaviour", "outcome"),
    [
        ([], Outcome.OK),
        ([Finding("approved_not_posted", "time_entry", "TE-1")], Outcome.MISMATCH),
        (Throttled("429"), Outcome.THROTTLED),
        (DeadlineExceeded("late"), Outcome.TIMEOUT),
        (Unreachable("refused"), Outcome.FAILED),
        (BadResponse("garbage"), Outcome.FAILED),
        (ConfigError("no system"), Outcome.UNKNOWN),
        (KeyError("bug"), Outcome.FAILED),
    ],
)
def test_outcomes_are_values(behaviour: Any, outcome: Outcome) -> None:
    client, _ = make_client(lambda r: httpx.Response(200))
    run = run_probe(_Probe(behaviour), {"erp": client})
    assert run.outcome is outcome and len(run.run_id) == 32
    assert (run.error == "") == outcome.healthy_answer


def test_no_connection_is_an_outage_only_once_the_probe_has_had_an_answer() -> None:
    client, _ = make_client(lambda r: httpx.Response(200))
    never = run_probe(_Probe(Unreachable("refused")), {"erp": client}, answered_before=False)
    assert never.outcome is Outcome.UNREACHED and "refused" in never.error and not never.outcome.healthy_answer
    # An answer that is an error (the ERP up but failing) is an outage from the first run.
    erroring = run_probe(_Probe(BadResponse("garbage")), {"erp": client}, answered_before=False)
    assert erroring.outcome is Outcome.FAILED


def test_a_run_that_cannot_be_afforded_does_not_start() -> None:
    client, _ = make_client(lambda r: httpx.Response(200), limits=BudgetLimits(10, 1, 1e9))
    run = run_probe(_Probe([], cost=11), {"erp": client})
    assert run.outcome is Outcome.THROTTLED and "declares 11" in run.error and run.api_calls == 0
    missing = run_probe(_Probe([]), {})
    assert missing.outcome is Outcome.UNKNOWN


def test_prometheus_series() -> None:
    now = 10_000.0
    runs = {
        "a": ProbeRun(
            "r1",
            "a",
            "erp",
            now - 30,
            Outcome.MISMATCH,
            1500.0,
            4,
            findings=(Finding("duplicate_posting", "time_entry", "1"),),
        ),
        "b": ProbeRun("r2", "b", "crm", now - 1000, Outcome.OK, 10.0, 1),
        "c": ProbeRun("r3", "c", "psa", now - 5, Outcome.FAILED, 10.0, 1, error="down"),
    }
    fake = FakeTime(now=now)
    budget = SystemBudget("erp", BudgetLimits(100, 2, 1e9), wall=fake.clock, monotonic=fake.clock)
    with budget.slot(Deadline(5, clock=fake.clock)):
        pass
    registry = CollectorRegistry()
    registry.register(
        ProbeMetrics(
            probes=lambda: {
                "a": (60.0, ("duplicate_posting", "approved_not_posted")),
                "b": (60.0, ()),
                "c": (60.0, ()),
                "d": (60.0, ()),
            },  # fmt: skip
            since=lambda: now - 100,
            last_runs=lambda: runs,
            budgets=lambda: {"erp": budget},
            now=lambda: now,
        )
    )
    v = registry.get_sample_value
    assert v("syncwatch_probe_up", {"probe": "a"}) == 1.0
    assert v("syncwatch_probe_up", {"probe": "b"}) == 0.0 and v("syncwatch_probe_stale", {"probe": "b"}) == 1.0
    assert v("syncwatch_probe_up", {"probe": "c"}) == 0.0 and v("syncwatch_probe_stale", {"probe": "c"}) == 0.0
    assert v("syncwatch_probe_stale", {"probe": "d"}) == 0.0  # registered 100 s ago: not yet 3 intervals
    assert v("syncwatch_probe_findings", {"probe": "a", "kind": "duplicate_posting"}) == 1.0
    assert v("syncwatch_probe_findings", {"probe": "a", "kind": "approved_not_posted"}) == 0.0
    assert v("syncwatch_probe_outcome", {"probe": "c", "outcome": "failed"}) == 1.0
    assert v("syncwatch_probe_last_run_timestamp_seconds", {"probe": "a"}) == now - 30
    assert v("syncwatch_probe_api_calls_total", {"system": "erp"}) == 1.0
    assert v("syncwatch_probe_budget_remaining_calls", {"system": "erp"}) == 99.0


def test_the_example_probes_file_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIM_CLIENT_SECRET", "x")
    monkeypatch.setenv("SIM_API_KEY", "y")
    from probes.fleet import ProbeFleet

    path = Path(__file__).resolve().parents[3] / "probes" / "examples" / "simulated-estate.yaml"
    fleet = ProbeFleet(load_probes_file(path))
    assert fleet.skipped == {} and "dead_letter_queues" in fleet.probes and "time_posting" in fleet.probes
    assert fleet.describe("duplicate_postings")["cost"] == {"erp": 250}
    fleet.close()


def test_a_shutdown_stops_a_run_at_its_next_call() -> None:
    stopping = False
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal stopping, calls
        calls += 1
        stopping = True  # the host starts shutting down while the first call is out
        return httpx.Response(200, json={})

    client, _ = make_client(handler)

    class TwoCalls(_Probe):
        def run(self, ctx: Any) -> list[Finding]:
            client.get_json(ctx.scope, "/a")
            client.get_json(ctx.scope, "/b")
            return []

    run = run_probe(TwoCalls([]), {"erp": client}, cancelled=lambda: stopping)
    assert run.outcome is Outcome.TIMEOUT and "shutting down" in run.error and calls == 1


def test_periods_that_must_be_open_follow_the_close_day() -> None:
    from datetime import date

    from probes.reconcile.reachability import periods_that_must_be_open

    assert periods_that_must_be_open(date(2026, 12, 3), 6) == [date(2026, 11, 1), date(2026, 12, 1)]
    assert periods_that_must_be_open(date(2026, 12, 6), 6) == [date(2026, 12, 1)]
    assert periods_that_must_be_open(date(2027, 1, 2), 6) == [date(2026, 12, 1), date(2027, 1, 1)]
    assert periods_that_must_be_open(date(2026, 12, 1), 1) == [date(2026, 12, 1)]
