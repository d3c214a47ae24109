"""The alerting loop: evaluate rules on fresh signals, persist what changed, dispatch notifications.

`evaluate()` runs every SYNCWATCH_ALERTS_EVALUATION_INTERVAL_SECONDS (15 s), `dispatch()` every second (group
timers are seconds, and a notification should not wait for the next evaluation). Both are safe to call with an
explicit `now`, which is how tests and the benchmark replay history.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from alerts.config import AlertsConfig
from alerts.dispatch import Dispatcher
from alerts.evaluate import FIRING, PENDING, RESOLVED, Alert, Transition, Verdict, evaluate
from alerts.matchers import Matcher
from alerts.signals import SignalSource
from alerts.store import Ack, AlertStore, NotificationRecord, Silence

__all__ = ["AlertEngine", "EvaluationStats"]

log = logging.getLogger("syncwatch.alerts")
RESOLVED_KEPT = timedelta(minutes=15)


@dataclass
class EvaluationStats:
    evaluations: int = 0
    failures: int = 0
    last_at: datetime | None = None
    last_duration: float = 0.0
    last_error: str = ""


class AlertEngine:
    def __init__(
        self,
        config: AlertsConfig,
        source: SignalSource,
        store: AlertStore | None,
        dispatcher: Dispatcher,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.source = source
        self.store = store
        self.dispatcher = dispatcher
        self.clock = clock
        self.alerts: dict[str, Alert] = {}
        # The last successful evaluation's verdicts, one per observed alert instance (served on /metrics).
        self.verdicts: list[Verdict] = []
        self.silences: list[Silence] = []
        self.acks: dict[tuple[str, datetime], Ack] = {}
        self.stats = EvaluationStats()
        self._lock = threading.Lock()
        # Silences and acks are written by the API while a scheduled evaluation reloads them from the store: one
        # lock around each reload and each API change, or a reload read before the change would overwrite it.
        self._operator_lock = threading.Lock()
        # The scheduler's dispatch (every second) and one called by hand must not interleave: the last to finish
        # would publish silenced/inhibited from silences it read before the other began.
        self._dispatch_lock = threading.Lock()

    def start(self) -> None:
        """Carry on from the last run: alert states, silences, acknowledgements, what was delivered."""
        if self.store is None:
            return
        self.alerts = self.store.load_active()
        self.silences = self.store.silences()
        self.acks = self.store.acks()
        self.dispatcher.restore(self.store.last_deliveries())
        if self.alerts:
            log.info("resumed %d alerts from the warehouse", len(self.alerts))

    # -- the two jobs ---------------------------------------------------------------------------------------------
    def evaluate(self, now: datetime | None = None) -> list[Transition]:
        now = now or self.clock()
        started = time.perf_counter()
        try:
            slis = self.source.sli_values(now)
            probes = self.source.probe_state(now)
            with self._lock:
                before = dict(self.alerts)
                verdicts: list[Verdict] = []
                transitions = evaluate(self.config, slis, probes, now, self.alerts, verdicts)
                self.verdicts = verdicts
                self._prune(now)
                changed = [a for fp, a in self.alerts.items() if _changed(before.get(fp), a)]
                changed += [t.alert for t in transitions if t.to_state == "inactive"]
            if self.store is not None:
                self.store.save(changed)
                self.store.record(transitions, now)
                with self._operator_lock:
                    self.silences = self.store.silences()
                    self.acks = self.store.acks()
        except Exception as exc:
            # The scheduler must keep evaluating; the failure is counted and shown (metrics, API).
            self.stats.failures += 1
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("alert evaluation failed")
            return []
        finally:
            self.stats.last_duration = time.perf_counter() - started
        self.stats.evaluations += 1
        self.stats.last_at = now
        for t in transitions:
            log.info(
                "alert %s %s -> %s: %s", t.alert.rule, t.from_state, t.to_state, t.alert.annotations.get("summary", "")
            )
        return transitions

    def dispatch(self, now: datetime | None = None) -> list[NotificationRecord]:
        now = now or self.clock()
        with self._dispatch_lock:
            with self._lock:
                snapshot = dict(self.alerts)
            with self._operator_lock:
                silences, acks = list(self.silences), dict(self.acks)
            return self.dispatcher.tick(now, snapshot, silences, acks)

    def step(self, now: datetime) -> tuple[list[Transition], list[NotificationRecord]]:
        """One evaluation then one dispatch at `now` (replays and tests)."""
        return self.evaluate(now), self.dispatch(now)

    def _prune(self, now: datetime) -> None:
        for fp, alert in list(self.alerts.items()):
            if alert.state != RESOLVED or alert.resolved_at is None:
                continue
            if now - alert.resolved_at > RESOLVED_KEPT and not self.dispatcher.pending_resolve(fp):
                del self.alerts[fp]

    # -- operations from the API and CLI -------------------------------------------------------------------------
    def acknowledge(self, fingerprint: str, by: str, comment: str = "") -> Ack | None:
        alert = self.alerts.get(fingerprint)
        if alert is None or alert.state not in (PENDING, FIRING) or self.store is None:
            return None
        with self._operator_lock:
            ack = self.store.acknowledge(alert, by, comment, self.clock())
            self.acks[(ack.fingerprint, ack.active_since)] = ack
        return ack

    def add_silence(self, silence: Silence) -> None:
        with self._operator_lock:
            self.silences = [s for s in self.silences if s.id != silence.id] + [silence]

    def public_alerts(self, state: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            alerts = sorted(self.alerts.values(), key=lambda a: (_rank(a.severity), a.active_since or self.clock()))
        out = []
        for a in alerts:
            if state and a.state != state:
                continue
            ack = self.acks.get((a.fingerprint, a.active_since)) if a.active_since else None
            item = a.public(ack.acknowledged_by if ack else None)
            item["silenced_by"] = self.dispatcher.silenced.get(a.fingerprint)
            item["inhibited_by"] = self.dispatcher.inhibited.get(a.fingerprint)
            out.append(item)
        return out

    def silenced_now(self, matchers: list[Matcher]) -> list[str]:
        with self._lock:
            return [a.fingerprint for a in self.alerts.values() if all(m.matches(a.labels) for m in matchers)]


def _changed(old: Alert | None, new: Alert) -> bool:
    if old is None:
        return True
    return (old.state, old.annotations, old.value) != (new.state, new.annotations, new.value)


def _rank(severity: str) -> int:
    return {"critical": 0, "warning": 1}.get(severity, 2)
