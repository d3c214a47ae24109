"""Fault scenarios against the real chain, replayed over history.

How the evaluation is replayed: the simulator backfills 6 weeks of a 200-consultant firm through the collector's
HTTP ingest (a clean stretch, then `erp_outage`, `silent_flow` and `duplicate_submissions` at known times).
Then, step by step through a window of that history, the metrics stage's own snapshot job runs `as of` the step
(writing sli_snapshots rows stamped with that instant, exactly as its live job does every 30 s), and the alert
engine evaluates and dispatches at the same instant, reading those rows through the warehouse SignalSource: the
live path, with the clock replaced. Probes read the systems' current state, not history, so probe-based rules
have no input in a replay (they are covered by test_dispatch.py with probe rows, and live by bench/detection.py).
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from clickhouse_connect.driver.client import Client

from alerts.component import build_engine
from alerts.config import load_config
from alerts.engine import AlertEngine
from alerts.evaluate import Transition
from alerts.warehouse_signals import WarehouseSignals
from metrics.evaluate import Evaluator
from metrics.slis import NAMES
from metrics.slo import load_slos
from metrics.snapshots import SnapshotJob
from syncwatch.settings import Settings
from syncwatch.tokens import create_token
from syncwatch.warehouse import apply_migrations, connect
from tests.conftest import ThreadedCollector, make_settings
from tests.unit.alerts.support import HttpReceiver

# A replay runs the metrics stage's full snapshot (every SLI, overall and per flow) at each step: minutes.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]
SYNCWATCH = str(Path(sys.executable).parent / "syncwatch")
END = datetime(2026, 12, 5, tzinfo=UTC)  # a Saturday; the run starts on Monday 2026-10-19
START = datetime(2026, 10, 19, tzinfo=UTC)
ERP_OUTAGE = (29, 2)  # Tue 17 Nov 00:00 for 2 days
SILENT_FLOW = (36, 1)  # Tue 24 Nov 00:00 for 1 day
DUPLICATES = (43, 1)  # Tue 1 Dec 00:00 for 1 day


@dataclasses.dataclass
class History:
    settings: Settings
    client: Client


def _backfill(tmp: Path, consultants: int, days: int, end: datetime, faults: list[str]) -> History:
    # The history is fixed and may end after today: the collector rejects events more than its clock skew ahead
    # of its own clock, so which of them landed would depend on the hour the test ran (on 2026-12-02 a clean week
    # fired ProjectsDifferAcrossSystems in one run and passed in the next).
    ahead = max(0, int((end - datetime.now(UTC)).total_seconds()))
    settings = make_settings(tmp, max_future_skew_seconds=ahead + 86400)
    client = connect(settings)
    apply_migrations(client, settings.retention_days)
    token = create_token(client, "sim", ["ingest"])[1]
    with ThreadedCollector(settings) as collector:
        args = [SYNCWATCH, "simulate", "backfill", "--consultants", str(consultants), "--days", str(days),
                "--no-spans", "--base-url", collector.url, "--token", token, "--end", end.isoformat()]  # fmt: skip
        args += [arg for fault in faults for arg in ("--fault", fault)]
        done = subprocess.run(args, capture_output=True, text=True, timeout=900, cwd=tmp)
        assert done.returncode == 0, done.stderr[-2000:]
    return History(settings, client)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    h = _backfill(
        tmp_path_factory.mktemp("alerts-history"), 200, 47, END,
        [f"erp_outage@{ERP_OUTAGE[0]}+{ERP_OUTAGE[1]}", f"silent_flow@{SILENT_FLOW[0]}+{SILENT_FLOW[1]}",
         f"duplicate_submissions@{DUPLICATES[0]}+{DUPLICATES[1]}"],
    )  # fmt: skip
    yield h
    h.client.command(f"DROP DATABASE IF EXISTS `{h.settings.database}`")


def _replay(h: History, hook: HttpReceiver, start: datetime, end: datetime, step: timedelta) -> list[Transition]:
    config = load_config(extra_integrations={"default": [{"type": "webhook", "url": hook.url}]})
    # Probes do not run in a replay: their absent-data rule would only report that.
    config = dataclasses.replace(config, rules=tuple(r for r in config.rules if r.kind != "absent_probe"))
    client = connect(h.settings, create_database=False)
    engine: AlertEngine = build_engine(h.settings, config, WarehouseSignals(client), None, httpx.Client(timeout=5))
    job = SnapshotJob(Evaluator(load_slos(h.settings.slo_file, known=set(NAMES))), lambda: client)
    transitions: list[Transition] = []
    now = start
    while now <= end:
        job.run(as_of=now)
        transitions += engine.evaluate(now)
        engine.dispatch(now)
        engine.dispatch(now + timedelta(seconds=60))  # past every group_wait
        now += step
    return transitions


def _day(n: float) -> datetime:
    return START + timedelta(days=n)


def test_a_clean_week_fires_nothing(history: History) -> None:
    with HttpReceiver() as hook:
        # Mon 9 Nov to Mon 16 Nov: mid-month, past the month-start spike of closed-period failures (whose
        # 3-day burn rightly opens a ticket), a weekend included, no fault.
        transitions = _replay(history, hook, _day(21), _day(28), timedelta(hours=3))
        fired = [
            (t.alert.rule, t.alert.fired_at, t.alert.annotations["summary"])
            for t in transitions
            if t.to_state == "firing"
        ]
        assert fired == []
        assert hook.received == []


def _fired_and_resolved(transitions: list[Transition], rules: set[str]) -> tuple[list[Transition], list[Transition]]:
    fired = [t for t in transitions if t.to_state == "firing" and t.alert.rule in rules]
    resolved = [t for t in transitions if t.to_state == "resolved" and t.alert.rule in rules]
    return fired, resolved


def _burn_pages(sli: str) -> set[str]:
    """The two page-level rules generated for an SLO (alerts.config.burn_rate_rules)."""
    camel = "".join(part.capitalize() for part in sli.split("_"))
    return {f"{camel}BurnRate1h", f"{camel}BurnRate6h"}


def _paged(
    history: History, fault: tuple[int, int], until_after: float, step: timedelta, pages: set[str]
) -> tuple[list[Transition], list[Transition], datetime, list[dict[str, Any]]]:
    """Replay from before the fault to `until_after` days past its end: the page transitions, the first page's
    time and the notification bodies delivered."""
    begin, days = fault
    with HttpReceiver() as hook:
        transitions = _replay(history, hook, _day(begin - 0.25), _day(begin + days + until_after), step)
    fired, resolved = _fired_and_resolved(transitions, pages)
    assert fired, [(t.alert.rule, t.to_state) for t in transitions]
    first = min(t.alert.fired_at for t in fired if t.alert.fired_at)
    return fired, resolved, first, [r.body for r in hook.received]


def test_erp_outage_pages_on_first_pass_burn_and_resolves_after(history: History) -> None:
    begin, days = ERP_OUTAGE
    pages = _burn_pages("time_posting_first_pass")
    fired, resolved, first, bodies = _paged(history, ERP_OUTAGE, 1.5, timedelta(hours=2), pages)
    assert _day(begin) <= first <= _day(begin + 1)
    assert resolved and max(t.alert.resolved_at for t in resolved if t.alert.resolved_at) > _day(begin + days)
    summary = fired[0].alert.annotations["summary"]
    assert summary.startswith("Time posting (first pass) burns its error budget") and "x (" in summary
    notified = {a["labels"]["alertname"]: a["status"] for body in bodies for a in body["alerts"]}
    assert any(notified.get(p) == "resolved" for p in pages)


def test_silent_flow_fires_flow_silent_and_resolves_when_events_return(history: History) -> None:
    begin, days = SILENT_FLOW
    with HttpReceiver() as hook:
        transitions = _replay(history, hook, _day(begin - 0.25), _day(begin + days + 1), timedelta(hours=2))
    fired, resolved = _fired_and_resolved(transitions, {"FlowSilent"})
    seen = [
        (t.alert.labels.get("flow"), t.to_state, t.alert.updated_at)
        for t in transitions
        if t.alert.rule == "FlowSilent"
    ]
    assert [t.alert.labels["flow"] for t in fired] == ["psa-to-erp-time"], seen
    # silent past 3x its hourly cadence, inside business hours (from 06:00), on the 2-hour replay grid
    assert _day(begin) < fired[0].alert.fired_at <= _day(begin) + timedelta(hours=12)  # type: ignore[operator]
    assert "Flow psa-to-erp-time is silent: no event for" in fired[0].alert.annotations["summary"]
    assert resolved and resolved[0].alert.resolved_at > _day(begin + days)  # type: ignore[operator]
    statuses = [r.body["status"] for r in hook.received if r.body["groupLabels"].get("alertname") == "FlowSilent"]
    # one episode: a page, reminders every repeat_interval (4 h) while it lasts, one resolve
    episode_hours = (resolved[0].alert.resolved_at - fired[0].alert.fired_at).total_seconds() / 3600  # type: ignore[operator]
    assert statuses[0] == "firing" and statuses[-1] == "resolved" and set(statuses[1:-1]) <= {"firing"}
    assert len(statuses) <= 2 + episode_hours // 4
    # The entries the stopped connector leaves behind tell it sooner than the silence does.
    (waiting, *_), _ = _fired_and_resolved(transitions, {"ConnectorNotPickingUpTime"})
    assert _day(begin) < waiting.alert.fired_at <= fired[0].alert.fired_at, seen  # type: ignore[operator]
    assert "for the PSA-to-ERP connector, which normally picks time up within" in waiting.alert.annotations["summary"]


def test_duplicate_submissions_page_on_burn_within_the_hour(history: History) -> None:
    begin, _ = DUPLICATES
    pages = _burn_pages("duplicate_submission_rate")
    fired, _, first, bodies = _paged(history, DUPLICATES, 0.5, timedelta(minutes=30), pages)
    # business hours of the fault's first day: postings (and so duplicates) run from the morning
    assert _day(begin) <= first <= _day(begin + 0.75), first
    assert all(t.alert.severity == "critical" for t in fired)
    summary = fired[0].alert.annotations["summary"]
    assert summary.startswith("Duplicate submissions burns its error budget"), summary
    assert any(a["labels"]["alertname"] in pages for body in bodies for a in body["alerts"])


# Master data and rate cards are kept as their latest values (each system's current view of a project, a card's
# current dates), so a replay over history sees today's master data at every step. Their rules are evaluated on a
# history that ends while the faults still hold: the latest values are then the faulted ones.
MID_FAULT_END = datetime(2026, 11, 21, tzinfo=UTC)  # Saturday; the faults start Friday 20 Nov 00:00 (day 9)


@pytest.fixture(scope="module")
def mid_fault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    h = _backfill(tmp_path_factory.mktemp("alerts-mid-fault"), 60, 10, MID_FAULT_END,
                  ["crm_rename@9", "expired_rate_card@9"])  # fmt: skip
    yield h
    h.client.command(f"DROP DATABASE IF EXISTS `{h.settings.database}`")


def test_renamed_projects_and_a_lapsed_rate_card_fire_from_the_events_at_once(mid_fault: History) -> None:
    """A renamed project or a lapsed rate card is in the business state as soon as its sync event arrives: the
    event-based rules fire at the first evaluation (not at the next probe run) and name the projects involved.
    (How soon after the fault starts is measured live by bench/detection.py: the state is the latest one here.)"""
    start = MID_FAULT_END - timedelta(days=1) + timedelta(hours=1)
    with HttpReceiver() as hook:
        transitions = _replay(mid_fault, hook, start, start + timedelta(hours=1), timedelta(minutes=30))
    says = {
        "ProjectsDifferAcrossSystems": "active projects differ between PSA and ERP",
        "RateCardMissing": "planned billable hours in the next 14 days",
    }
    for rule, text in says.items():
        fired, _ = _fired_and_resolved(transitions, {rule})
        assert len(fired) == 1, (rule, [(t.alert.rule, t.to_state, t.alert.updated_at) for t in transitions])
        assert fired[0].alert.fired_at == start
        summary = fired[0].alert.annotations["summary"]
        assert text in summary and "PRJ-" in summary, summary
    notified = {a["labels"]["alertname"] for r in hook.received for a in r.body["alerts"]}
    assert set(says) <= notified


def test_snapshots_carry_each_burn_window_volume(mid_fault: History) -> None:
    """The fast page's guard (min_events_window) reads a burn window's judged count from the stored snapshot."""
    at = MID_FAULT_END - timedelta(hours=12)
    SnapshotJob(Evaluator(load_slos()), lambda: mid_fault.client).run(as_of=at)
    (details,) = mid_fault.client.query(
        "SELECT details FROM sli_snapshots WHERE sli = 'time_posting_first_pass' AND dimension = ''"
        " AND time = {at:DateTime64(3, 'UTC')}",
        parameters={"at": at},
    ).result_rows[0]
    windows = orjson.loads(details)["windows"]
    assert set(windows) == {"5m", "30m", "1h", "6h", "1d", "3d"}
    assert windows["3d"]["judged"] >= windows["1h"]["judged"] >= windows["5m"]["judged"] >= 0
    assert windows["3d"]["judged"] > 0 and 0 <= windows["3d"]["bad"] <= windows["3d"]["judged"]
