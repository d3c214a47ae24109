"""Routing, grouping timers, inhibition, silences, mute intervals, acknowledgements and restarts, end to end from
signal rows in real chDB tables to a real webhook receiver on loopback. Time is passed explicitly (replay)."""

from __future__ import annotations

import calendar
import dataclasses
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from clickhouse_connect.driver.client import Client

from alerts.component import build_engine
from alerts.config import AlertsConfig, load_config, parse_config
from alerts.engine import AlertEngine
from alerts.matchers import parse_matcher
from alerts.store import AlertStore, Silence
from alerts.warehouse_signals import WarehouseSignals
from syncwatch.settings import Settings
from tests.unit.alerts.support import HttpReceiver, ensure_signal_tables, insert_probe_run

pytestmark = pytest.mark.integration
# The 12th of a recent month: outside the period-close freeze, and inside the warehouse's retention TTL (rows
# older than SYNCWATCH_RETENTION_DAYS are dropped on insert).
T0 = (datetime.now(UTC) - timedelta(days=40)).replace(day=12, hour=9, minute=0, second=0, microsecond=0)


def _engine(
    settings: Settings, warehouse: Client, url: str, config: AlertsConfig | None = None, store: AlertStore | None = None
) -> AlertEngine:
    ensure_signal_tables(warehouse)
    cfg = config or load_config(extra_integrations={"default": [{"type": "webhook", "url": url}]})
    # No SLI rows are written here: leave the absent-data rules (tested in the unit tests) out.
    cfg = dataclasses.replace(cfg, rules=tuple(r for r in cfg.rules if not r.kind.startswith("absent")))
    store = store or AlertStore(warehouse)
    engine = build_engine(settings, cfg, WarehouseSignals(warehouse), store, httpx.Client(timeout=5))
    engine.start()
    return engine


def _findings(n: int, project: str = "PRJ-1") -> list[dict[str, Any]]:
    """n approved entries of USD 500 each, 30 h old (ApprovedTimeNotPosted fires above 20)."""
    return [{"kind": "approved_not_posted", "object_id": f"TE-{i}", "project_code": project, "amount": 500,
             "age_seconds": 30 * 3600} for i in range(n)]  # fmt: skip


def _replay(engine: AlertEngine, start: datetime, seconds: int, step: int = 5) -> None:
    for s in range(0, seconds + 1, step):
        now = start + timedelta(seconds=s)
        if s % 15 == 0:
            engine.evaluate(now)
        engine.dispatch(now)


def test_group_wait_then_one_notification_then_resolve_and_no_repeats(settings: Settings, warehouse: Client) -> None:
    with HttpReceiver() as hook:
        engine = _engine(settings, warehouse, hook.url)
        insert_probe_run(warehouse, T0, "time_posting", "erp", "mismatch", _findings(30))
        engine.evaluate(T0)
        engine.dispatch(T0 + timedelta(seconds=4))
        assert hook.received == []  # critical route: group_wait 5 s
        _replay(engine, T0 + timedelta(seconds=5), 600)
        assert len(hook.received) == 1, [[a["labels"]["alertname"] for a in r.body["alerts"]] for r in hook.received]
        body = hook.received[0].body
        assert body["version"] == "4" and body["status"] == "firing" and body["receiver"] == "default"
        assert body["groupLabels"] == {"alertname": "ApprovedTimeNotPosted", "target_system": "erp"}
        (alert,) = body["alerts"]
        assert alert["labels"]["alertname"] == "ApprovedTimeNotPosted" and alert["status"] == "firing"
        assert alert["annotations"]["summary"].startswith("30 approved entries worth USD 15,000")
        assert set(alert) >= {"startsAt", "endsAt", "generatorURL", "fingerprint"}
        insert_probe_run(warehouse, T0 + timedelta(seconds=700), "time_posting", "erp", "ok", [])
        _replay(engine, T0 + timedelta(seconds=705), 120)
        assert [r.body["status"] for r in hook.received] == ["firing", "resolved"]
        assert hook.received[1].body["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
        history = engine.store.history(10) if engine.store else []
        assert [h["to_state"] for h in history][:2] == ["resolved", "firing"]


def test_restart_neither_repeats_nor_loses(settings: Settings, warehouse: Client) -> None:
    with HttpReceiver() as hook:
        first = _engine(settings, warehouse, hook.url)
        insert_probe_run(warehouse, T0, "time_posting", "erp", "mismatch", _findings(25))
        _replay(first, T0, 30)
        assert len(hook.received) == 1
        # Restart: a new engine over the same warehouse. Still firing: nothing new to say.
        second = _engine(settings, warehouse, hook.url)
        assert [a["state"] for a in second.public_alerts()] == ["firing"]
        _replay(second, T0 + timedelta(seconds=35), 120)
        assert len(hook.received) == 1
        # The fault ends while a third instance starts: the resolve still goes out, once.
        insert_probe_run(warehouse, T0 + timedelta(seconds=200), "time_posting", "erp", "ok", [])
        third = _engine(settings, warehouse, hook.url)
        _replay(third, T0 + timedelta(seconds=205), 120)
        assert [r.body["status"] for r in hook.received] == ["firing", "resolved"]


def test_erp_unreachable_inhibits_posting_alerts_on_erp(settings: Settings, warehouse: Client) -> None:
    with HttpReceiver() as hook:
        engine = _engine(settings, warehouse, hook.url)
        # The time-posting probe's last answer found 25 unposted entries; the ERP then stopped answering.
        insert_probe_run(warehouse, T0 - timedelta(minutes=5), "time_posting", "erp", "mismatch", _findings(25))
        insert_probe_run(
            warehouse,
            T0,
            "erp_reachability",
            "erp",
            "failed",
            [],
            error="erp: POST /services/rest/query/v1/suiteql answered 503",
        )
        _replay(engine, T0, 120)
        names = [a["labels"]["alertname"] for r in hook.received for a in r.body["alerts"]]
        assert "ErpUnreachable" in names and "ApprovedTimeNotPosted" not in names
        posting = [a for a in engine.public_alerts() if a["rule"] == "ApprovedTimeNotPosted"]
        assert posting and posting[0]["state"] == "firing" and posting[0]["inhibited_by"]


def test_silence_holds_until_it_expires(settings: Settings, warehouse: Client) -> None:
    with HttpReceiver() as hook:
        engine = _engine(settings, warehouse, hook.url)
        assert engine.store is not None
        silence = engine.store.create_silence(
            [parse_matcher('alertname="ApprovedTimeNotPosted"')], T0, T0 + timedelta(minutes=10), "ops", "ERP upgrade"
        )
        engine.add_silence(silence)
        insert_probe_run(warehouse, T0, "time_posting", "erp", "mismatch", _findings(25))
        _replay(engine, T0, 300)
        assert hook.received == []
        assert engine.public_alerts()[0]["silenced_by"] == silence.id
        engine.store.expire_silence(silence.id, T0 + timedelta(seconds=301))
        engine.silences = engine.store.silences()
        _replay(engine, T0 + timedelta(seconds=305), 120)
        assert [r.body["status"] for r in hook.received] == ["firing"]


class _SlowReload(AlertStore):
    """A store whose next silence reload pauses after its read: an API change lands in between."""

    def __init__(self, client: Client) -> None:
        super().__init__(client)
        self.read_done = threading.Event()
        self.pause_next = False

    def silences(self, limit: int = 1000) -> list[Silence]:
        found = super().silences(limit)
        if self.pause_next:
            self.pause_next = False
            self.read_done.set()
            time.sleep(0.5)
        return found


def test_a_silence_created_during_an_evaluation_is_kept(settings: Settings, warehouse: Client) -> None:
    """The scheduled evaluation reloads silences from the store while the API adds one: the reload read before
    the silence was stored must not overwrite it (a CI run saw the silence lost, the alert not silenced)."""
    with HttpReceiver() as hook:
        store = _SlowReload(warehouse)
        engine = _engine(settings, warehouse, hook.url, store=store)
        insert_probe_run(warehouse, T0, "time_posting", "erp", "mismatch", _findings(25))
        store.pause_next = True
        reload = threading.Thread(target=engine.evaluate, args=(T0,))
        reload.start()
        assert store.read_done.wait(30)
        silence = store.create_silence(
            [parse_matcher('alertname="ApprovedTimeNotPosted"')], T0, T0 + timedelta(hours=2), "ops", "ERP upgrade"
        )
        engine.add_silence(silence)
        reload.join(30)
        assert [s.id for s in engine.silences] == [silence.id]
        _replay(engine, T0 + timedelta(seconds=5), 300)
        assert hook.received == []
        assert engine.public_alerts()[0]["silenced_by"] == silence.id


def test_period_close_mutes_tickets_but_not_pages(settings: Settings, warehouse: Client) -> None:
    close = T0.replace(day=calendar.monthrange(T0.year, T0.month)[1], hour=10)  # last day of the month
    with HttpReceiver() as hook:
        engine = _engine(settings, warehouse, hook.url)
        findings = _findings(25) + [{"kind": "duplicate_posting", "object_id": "TE-9", "amount": 10, "age_seconds": 60}]
        insert_probe_run(warehouse, close, "time_posting", "erp", "mismatch", findings)
        _replay(engine, close, 900)
        names = {a["labels"]["alertname"] for r in hook.received for a in r.body["alerts"]}
        assert names == {"ApprovedTimeNotPosted"}  # DuplicatePostings (warning) waits for the freeze to end
        assert any(a["rule"] == "DuplicatePostings" and a["state"] == "firing" for a in engine.public_alerts())


def test_ack_stops_repeats(settings: Settings, warehouse: Client) -> None:
    raw = open(load_config().source).read().replace("repeat_interval: 4h", "repeat_interval: 2m")
    with HttpReceiver() as hook:
        config = parse_config(raw.replace("integrations: []", f"integrations: [{{type: webhook, url: '{hook.url}'}}]"))
        engine = _engine(settings, warehouse, hook.url, config)
        insert_probe_run(warehouse, T0, "time_posting", "erp", "mismatch", _findings(25))
        _replay(engine, T0, 300)
        assert len(hook.received) == 3  # first at group_wait, repeats at 2 and 4 min (plus group_interval ticks)
        fp = engine.public_alerts()[0]["fingerprint"]
        engine.clock = lambda: T0 + timedelta(seconds=301)
        assert engine.acknowledge(fp, "alice") is not None
        _replay(engine, T0 + timedelta(seconds=305), 600)
        assert len(hook.received) == 4  # the acknowledgement itself, then silence
        assert hook.received[-1].body["alerts"][0]["status"] == "firing"
        assert engine.public_alerts()[0]["acknowledged_by"] == "alice"
