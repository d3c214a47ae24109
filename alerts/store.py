"""Alert state, history, silences, acknowledgements and the notification log in the warehouse (migration 0004).

Every write is an INSERT: state and silences are versioned rows (ReplacingMergeTree, read with FINAL), history
and notifications append. One `AlertStore` per thread: queries on one client serialise.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from clickhouse_connect.driver.client import Client

from alerts.evaluate import Alert, Transition
from alerts.matchers import Matcher

__all__ = ["Ack", "AlertStore", "NotificationRecord", "Silence"]

_STATE_COLUMNS = [
    "fingerprint",
    "rule",
    "state",
    "severity",
    "team",
    "labels",
    "annotations",
    "active_since",
    "fired_at",
    "resolved_at",
    "last_breach_at",
    "value",
    "updated_at",
]


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    created_at: datetime

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def silences(self, labels: dict[str, str], now: datetime) -> bool:
        return self.active(now) and all(m.matches(labels) for m in self.matchers)

    def public(self, now: datetime) -> dict[str, Any]:
        state = "active" if self.active(now) else ("pending" if now < self.starts_at else "expired")
        return {
            "id": self.id,
            "matchers": [m.to_json() for m in self.matchers],
            "starts_at": _iso(self.starts_at),
            "ends_at": _iso(self.ends_at),
            "created_by": self.created_by,
            "comment": self.comment,
            "created_at": _iso(self.created_at),
            "state": state,
        }


@dataclass(frozen=True)
class Ack:
    fingerprint: str
    active_since: datetime
    acknowledged_by: str
    comment: str
    time: datetime


@dataclass(frozen=True)
class NotificationRecord:
    time: datetime
    receiver: str
    integration: str
    group_key: str
    status: str
    firing: tuple[str, ...]
    resolved: tuple[str, ...]
    outcome: str
    attempts: int
    error: str


class AlertStore:
    def __init__(self, client: Client):
        self.client = client

    # -- state and history ------------------------------------------------------------------------------------
    def save(self, alerts: list[Alert]) -> None:
        if not alerts:
            return
        now = datetime.now(UTC)
        rows = [
            [
                a.fingerprint,
                a.rule,
                a.state,
                a.severity,
                a.team,
                a.labels,
                a.annotations,
                a.active_since,
                a.fired_at,
                a.resolved_at,
                a.last_breach_at,
                a.value,
                a.updated_at or now,
            ]
            for a in alerts
        ]
        self.client.insert("alert_state", rows, column_names=_STATE_COLUMNS)

    def load_active(self) -> dict[str, Alert]:
        """Pending, firing, and resolved-but-recent alerts, as of the last evaluation before a restart."""
        rows = self.client.query(
            f"SELECT {', '.join(_STATE_COLUMNS)} FROM alert_state FINAL "
            "WHERE state IN ('pending', 'firing') OR (state = 'resolved' AND "
            "resolved_at > (SELECT max(updated_at) FROM alert_state) - INTERVAL 1 DAY)"
        ).result_rows
        out = {}
        for r in rows:
            alert = Alert(
                fingerprint=r[0],
                rule=r[1],
                state=r[2],
                severity=r[3],
                team=r[4],
                labels=dict(r[5]),
                annotations=dict(r[6]),
                active_since=_utc(r[7]),
                fired_at=_utc(r[8]),
                resolved_at=_utc(r[9]),
                last_breach_at=_utc(r[10]),
                value=r[11],
                updated_at=_utc(r[12]),
            )
            out[alert.fingerprint] = alert
        return out

    def record(self, transitions: list[Transition], now: datetime) -> None:
        if not transitions:
            return
        rows = [
            [
                now,
                t.alert.fingerprint,
                t.alert.rule,
                t.from_state,
                t.to_state,
                t.alert.severity,
                t.alert.labels,
                t.alert.annotations.get("summary", ""),
                t.alert.value,
            ]
            for t in transitions
        ]
        self.client.insert(
            "alert_history",
            rows,
            column_names=[
                "time",
                "fingerprint",
                "rule",
                "from_state",
                "to_state",
                "severity",
                "labels",
                "summary",
                "value",
            ],
        )

    def history(self, limit: int = 100, fingerprint: str | None = None) -> list[dict[str, Any]]:
        where = "WHERE fingerprint = {fp:String}" if fingerprint else ""
        rows = self.client.query(
            "SELECT time, fingerprint, rule, from_state, to_state, severity, labels, summary, value "
            f"FROM alert_history {where} ORDER BY time DESC, to_state LIMIT {{limit:UInt32}}",
            parameters={"limit": limit, "fp": fingerprint or ""},
        ).result_rows
        return [
            {
                "time": _iso(r[0]),
                "fingerprint": r[1],
                "rule": r[2],
                "from_state": r[3],
                "to_state": r[4],
                "severity": r[5],
                "labels": dict(r[6]),
                "summary": r[7],
                "value": r[8],
            }
            for r in rows
        ]

    # -- silences ---------------------------------------------------------------------------------------------
    def create_silence(
        self, matchers: list[Matcher], starts_at: datetime, ends_at: datetime, created_by: str, comment: str
    ) -> Silence:
        now = datetime.now(UTC)
        silence = Silence(uuid.uuid4().hex, tuple(matchers), starts_at, ends_at, created_by, comment, now)
        self._write_silence(silence, now)
        return silence

    def expire_silence(self, silence_id: str, now: datetime | None = None) -> Silence | None:
        now = now or datetime.now(UTC)
        current = next((s for s in self.silences() if s.id == silence_id), None)
        if current is None:
            return None
        if current.ends_at > now:
            current = Silence(
                current.id,
                current.matchers,
                min(current.starts_at, now),
                now,
                current.created_by,
                current.comment,
                current.created_at,
            )
            self._write_silence(current, now)
        return current

    def _write_silence(self, s: Silence, now: datetime) -> None:
        # The version column is the wall clock, whatever `now` the caller replays: the latest write wins.
        now = max(datetime.now(UTC), now)
        matchers = orjson.dumps([m.to_json() for m in s.matchers]).decode()
        self.client.insert(
            "alert_silences",
            [[s.id, matchers, s.starts_at, s.ends_at, s.created_by, s.comment, s.created_at, now]],
            column_names=[
                "id",
                "matchers",
                "starts_at",
                "ends_at",
                "created_by",
                "comment",
                "created_at",
                "updated_at",
            ],
        )

    def silences(self, limit: int = 1000) -> list[Silence]:
        """The latest silences, active or expired (expired ones stay listed for the record)."""
        rows = self.client.query(
            "SELECT id, matchers, starts_at, ends_at, created_by, comment, created_at FROM alert_silences FINAL "
            "ORDER BY created_at DESC LIMIT {limit:UInt32}",
            parameters={"limit": limit},
        ).result_rows
        out = []
        for r in rows:
            matchers = tuple(
                Matcher.make(m["name"], m["value"], m.get("is_regex", False), m.get("is_equal", True))
                for m in orjson.loads(r[1])
            )
            out.append(Silence(r[0], matchers, _utc(r[2]), _utc(r[3]), r[4], r[5], _utc(r[6])))  # type: ignore[arg-type]
        return out

    # -- acknowledgements -------------------------------------------------------------------------------------
    def acknowledge(self, alert: Alert, by: str, comment: str, now: datetime) -> Ack:
        assert alert.active_since is not None
        ack = Ack(alert.fingerprint, alert.active_since, by, comment, now)
        self.client.insert(
            "alert_acks",
            [[ack.fingerprint, ack.active_since, ack.acknowledged_by, ack.comment, ack.time]],
            column_names=["fingerprint", "active_since", "acknowledged_by", "comment", "time"],
        )
        return ack

    def acks(self) -> dict[tuple[str, datetime], Ack]:
        rows = self.client.query(
            "SELECT fingerprint, active_since, acknowledged_by, comment, time FROM alert_acks FINAL"
        ).result_rows
        return {(r[0], _utc(r[1])): Ack(r[0], _utc(r[1]), r[2], r[3], _utc(r[4])) for r in rows}  # type: ignore[misc,arg-type]

    # -- notification log -------------------------------------------------------------------------------------
    def log_notification(self, rec: NotificationRecord) -> None:
        self.client.insert(
            "alert_notifications",
            [
                [
                    rec.time,
                    rec.receiver,
                    rec.integration,
                    rec.group_key,
                    rec.status,
                    list(rec.firing),
                    list(rec.resolved),
                    rec.outcome,
                    rec.attempts,
                    rec.error[:2000],
                ]
            ],
            column_names=[
                "time",
                "receiver",
                "integration",
                "group_key",
                "status",
                "firing",
                "resolved",
                "outcome",
                "attempts",
                "error",
            ],
        )

    def last_deliveries(self) -> list[NotificationRecord]:
        """The last successful delivery of each (receiver, integration, group): what a restart must not repeat."""
        rows = self.client.query(
            "SELECT argMax(time, time), receiver, integration, group_key, argMax(status, time), argMax(firing, time), "
            "argMax(resolved, time), 'sent', argMax(attempts, time), '' FROM alert_notifications "
            "WHERE outcome = 'sent' GROUP BY receiver, integration, group_key"
        ).result_rows
        return [
            NotificationRecord(_utc(r[0]), r[1], r[2], r[3], r[4], tuple(r[5]), tuple(r[6]), r[7], int(r[8]), r[9])  # type: ignore[arg-type]
            for r in rows
        ]

    def notifications(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = self.client.query(
            "SELECT time, receiver, integration, group_key, status, firing, resolved, outcome, attempts, error "
            "FROM alert_notifications ORDER BY time DESC LIMIT {limit:UInt32}",
            parameters={"limit": limit},
        ).result_rows
        return [
            {
                "time": _iso(r[0]),
                "receiver": r[1],
                "integration": r[2],
                "group_key": r[3],
                "status": r[4],
                "firing": list(r[5]),
                "resolved": list(r[6]),
                "outcome": r[7],
                "attempts": r[8],
                "error": r[9],
            }
            for r in rows
        ]


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat().replace("+00:00", "Z")
