"""From alert states to notifications: groups, timers, silences, inhibition, mutes, acks, and a delivery log.

Per (route, group) and per integration, the dispatcher remembers what it last delivered (the firing set, the
acknowledged set, when). It sends when the group has something new (an alert firing that was not delivered,
an alert resolved that was, a new acknowledgement) or when `repeat_interval` has passed with alerts still firing
and not all acknowledged.

An integration that keeps alert state elsewhere and lets it expire (`Resending`: the Alertmanager push) follows
Prometheus instead: told at once of what fires or resolves, and told again of everything still firing every
`resend_interval`, outside the group timers, so that the `endsAt` it was given never passes while SyncWatch
still shows the alert firing. Re-sends that change nothing are not written to the delivery log.

That memory is rebuilt from the alert_notifications table at start, so a restart
neither repeats what was delivered nor drops what was not.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from alerts.config import AlertsConfig
from alerts.evaluate import FIRING, RESOLVED, Alert
from alerts.notifiers.base import AlertView, Delivery, Message, Notifier, Resending, deliver, present_labels
from alerts.routing import Inhibitor, ResolvedRoute, group_key, match_routes, muted
from alerts.store import Ack, NotificationRecord, Silence

__all__ = ["Delivered", "Dispatcher", "GroupState", "ReceiverHealth"]

log = logging.getLogger("syncwatch.alerts")


@dataclass
class Delivered:
    firing: frozenset[str] = frozenset()
    acked: frozenset[str] = frozenset()
    sent_at: datetime | None = None


@dataclass
class GroupState:
    key: str
    route: ResolvedRoute
    labels: dict[str, str]
    next_flush: datetime
    members: set[str] = field(default_factory=set)
    delivered: dict[str, Delivered] = field(default_factory=dict)  # integration id -> last delivery


@dataclass
class ReceiverHealth:
    receiver: str
    integration: str
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    last_error: str = ""
    consecutive_failures: int = 0
    sent: int = 0
    failed: int = 0

    def public(self) -> dict[str, object]:
        return {
            "receiver": self.receiver,
            "integration": self.integration,
            "healthy": self.consecutive_failures == 0,
            "last_attempt": _iso(self.last_attempt),
            "last_success": _iso(self.last_success),
            "last_error": self.last_error,
            "consecutive_failures": self.consecutive_failures,
            "sent": self.sent,
            "failed": self.failed,
        }


LogFn = Callable[[NotificationRecord], None]
DeliverFn = Callable[[Notifier, Message], Delivery]
# Whether this process may send the notification with this key (syncwatch/lease.py Lease.claim): False when it
# lost the worker lease, or another worker already claimed the same notification.
ClaimFn = Callable[[str], bool]


class Dispatcher:
    def __init__(
        self,
        config: AlertsConfig,
        notifiers: dict[str, list[tuple[str, Notifier]]],
        *,
        external_url: str,
        log_delivery: LogFn | None = None,
        send: DeliverFn = deliver,
        failure_retry: float = 15.0,
        claim: ClaimFn | None = None,
    ) -> None:
        self.config = config
        self.notifiers = notifiers  # receiver -> [(integration id, notifier)]
        self.external_url = external_url.rstrip("/")
        self.log_delivery = log_delivery
        self.send = send
        self.failure_retry = failure_retry
        self.claim = claim
        self.inhibitor = Inhibitor(config.inhibit_rules)
        self.groups: dict[str, GroupState] = {}
        self.restored: dict[tuple[str, str], Delivered] = {}
        self.health: dict[tuple[str, str], ReceiverHealth] = {
            (receiver, iid): ReceiverHealth(receiver, iid) for receiver, items in notifiers.items() for iid, _ in items
        }
        self.inhibited: dict[str, str] = {}
        self.silenced: dict[str, str] = {}
        self.muted_groups: dict[str, str] = {}
        self.retry_at: dict[tuple[str, str], datetime] = {}  # (group key, integration id) of a failed push

    # -- restart ----------------------------------------------------------------------------------------------
    def restore(self, records: list[NotificationRecord]) -> None:
        # Replaces what this dispatcher remembers: a worker taking the lease over restores what the previous
        # holder delivered (syncwatch/lease.py), and its own memory from an earlier turn is stale.
        self.groups.clear()
        self.restored.clear()
        self.retry_at.clear()
        for rec in records:
            if rec.outcome == "sent":
                self.restored[(rec.group_key, rec.integration)] = Delivered(
                    frozenset(rec.firing), frozenset(), rec.time
                )
            health = self.health.get((rec.receiver, rec.integration))
            if health is not None:
                health.last_success = rec.time

    def pending_resolve(self, fingerprint: str) -> bool:
        """Whether some integration was told this alert fires and has not yet been told it resolved."""
        return any(fingerprint in d.firing for g in self.groups.values() for d in g.delivered.values()) or any(
            fingerprint in d.firing for d in self.restored.values()
        )

    # -- one pass -----------------------------------------------------------------------------------------------
    def tick(
        self,
        now: datetime,
        alerts: dict[str, Alert],
        silences: list[Silence],
        acks: dict[tuple[str, datetime], Ack],
    ) -> list[NotificationRecord]:
        live = [a for a in alerts.values() if a.state in (FIRING, RESOLVED)]
        self.inhibited = self.inhibitor.inhibited(alerts.values())
        silenced: dict[str, str] = {}
        for a in live:
            hit = next((s.id for s in silences if s.silences(a.labels, now)), None)
            if hit:
                silenced[a.fingerprint] = hit
        self.silenced = silenced  # swapped whole: the API reads it from another thread while a tick runs
        for alert in live:
            for route in match_routes(self.config.route, alert.labels):
                key, labels = group_key(route, alert.labels)
                group = self.groups.get(key)
                if group is None:
                    if alert.state != FIRING and not self._told_firing(key, alert.fingerprint):
                        continue  # a resolved alert nobody was told about needs no group
                    group = GroupState(key, route, labels, now + timedelta(seconds=route.group_wait))
                    for iid, _ in self.notifiers.get(route.receiver, []):
                        group.delivered[iid] = self.restored.pop((key, iid), Delivered())
                    self.groups[key] = group
                group.members.add(alert.fingerprint)
        out: list[NotificationRecord] = []
        for key, group in list(self.groups.items()):
            group.members &= set(alerts)
            if now >= group.next_flush:
                out.extend(self._flush(group, now, alerts, acks))
            out.extend(self._push(group, now, alerts))
            if not group.members:
                del self.groups[key]
        return out

    def _told_firing(self, key: str, fp: str) -> bool:
        return any(k == key and fp in d.firing for (k, _), d in self.restored.items())

    def _flush(
        self, group: GroupState, now: datetime, alerts: dict[str, Alert], acks: dict[tuple[str, datetime], Ack]
    ) -> list[NotificationRecord]:
        group.next_flush = now + timedelta(seconds=group.route.group_interval)
        mute = muted(group.route, self.config, now)
        if mute:
            self.muted_groups[group.key] = mute
            return []
        self.muted_groups.pop(group.key, None)
        members = [alerts[fp] for fp in sorted(group.members)]
        visible = [
            a
            for a in members
            if a.state == FIRING and a.fingerprint not in self.inhibited and a.fingerprint not in self.silenced
        ]
        visible_fps = frozenset(a.fingerprint for a in visible)
        acked = {
            a.fingerprint: ack.acknowledged_by
            for a in visible
            if (ack := acks.get((a.fingerprint, a.active_since or now))) is not None
        }
        records = []
        for iid, notifier in self.notifiers.get(group.route.receiver, []):
            if isinstance(notifier, Resending):
                continue  # told every tick by _push
            last = group.delivered.setdefault(iid, Delivered())
            resolved = [a for a in members if a.state == RESOLVED and a.fingerprint in last.firing]
            new_firing = visible_fps - last.firing
            new_acks = frozenset(acked) - last.acked
            repeat_due = (
                bool(visible_fps)
                and last.sent_at is not None
                and (now - last.sent_at).total_seconds() >= group.route.repeat_interval
                and not visible_fps <= frozenset(acked)
            )
            tell_resolved = resolved if notifier.send_resolved else []
            if not (new_firing or tell_resolved or new_acks or repeat_due):
                # Nothing to say; forget alerts that left quietly (silenced, inhibited, or resolved unsent).
                last.firing = last.firing & visible_fps
                continue
            if self.claim is not None:
                key = _claim_key(group, iid, visible, tell_resolved, acked, now if repeat_due else None)
                if not self.claim(key):
                    log.info("notification of group %s to %s left to the worker that claimed it", group.key, iid)
                    group.delivered[iid] = Delivered(visible_fps, frozenset(acked), now)
                    continue
            message = self._message(group, visible, tell_resolved, acked, now)
            result = self.send(notifier, message)
            if result.ok:
                group.delivered[iid] = Delivered(visible_fps, frozenset(acked), now)
            else:
                group.next_flush = min(group.next_flush, now + timedelta(seconds=self.failure_retry))
            records.append(self._record(group, iid, message, visible_fps, tell_resolved, result, now))
        return records

    def _push(self, group: GroupState, now: datetime, alerts: dict[str, Alert]) -> list[NotificationRecord]:
        """Tell each `Resending` integration of what changed at once, and of everything firing again when due."""
        pushers = [(iid, n) for iid, n in self.notifiers.get(group.route.receiver, []) if isinstance(n, Resending)]
        if not pushers or muted(group.route, self.config, now):
            return []
        members = [alerts[fp] for fp in sorted(group.members)]
        visible = [
            a
            for a in members
            if a.state == FIRING and a.fingerprint not in self.inhibited and a.fingerprint not in self.silenced
        ]
        visible_fps = frozenset(a.fingerprint for a in visible)
        records = []
        for iid, notifier in pushers:
            if now < self.retry_at.get((group.key, iid), now):
                continue
            last = group.delivered.setdefault(iid, Delivered())
            resolved = [a for a in members if a.state == RESOLVED and a.fingerprint in last.firing]
            changed = bool(visible_fps - last.firing or resolved)
            resend_due = bool(visible_fps) and (
                last.sent_at is None or (now - last.sent_at).total_seconds() >= notifier.resend_interval
            )
            if not (changed or resend_due):
                last.firing = last.firing & visible_fps
                continue
            message = self._message(group, visible, resolved, {}, now)
            result = self.send(notifier, message)
            if result.ok:
                self.retry_at.pop((group.key, iid), None)
                group.delivered[iid] = Delivered(visible_fps, frozenset(), now)
            else:
                self.retry_at[(group.key, iid)] = now + timedelta(seconds=self.failure_retry)
            if changed or not result.ok:
                records.append(self._record(group, iid, message, visible_fps, resolved, result, now))
            else:
                self._account(group.route.receiver, iid, result, now)
        return records

    def _record(
        self,
        group: GroupState,
        iid: str,
        message: Message,
        firing: frozenset[str],
        resolved: list[Alert],
        result: Delivery,
        now: datetime,
    ) -> NotificationRecord:
        record = NotificationRecord(
            now,
            group.route.receiver,
            iid,
            group.key,
            message.status,
            tuple(sorted(firing)),
            tuple(a.fingerprint for a in resolved),
            "sent" if result.ok else "failed",
            result.attempts,
            result.error,
        )
        self._account(group.route.receiver, iid, result, now)
        if self.log_delivery is not None:
            try:
                self.log_delivery(record)
            except Exception:
                log.exception("could not record a notification in the warehouse")
        return record

    def _message(
        self, group: GroupState, firing: list[Alert], resolved: list[Alert], acked: dict[str, str], now: datetime
    ) -> Message:
        views = [self._view(a, acked.get(a.fingerprint), now) for a in firing + resolved]
        return Message(
            receiver=group.route.receiver,
            group_key=group.key,
            status="firing" if firing else "resolved",
            alerts=tuple(views),
            group_labels=group.labels,
            external_url=self.external_url,
            now=now,
        )

    def _view(self, alert: Alert, acked_by: str | None, now: datetime) -> AlertView:
        return AlertView(
            fingerprint=alert.fingerprint,
            status="resolved" if alert.state == RESOLVED else "firing",
            labels=present_labels(alert.labels),
            annotations=alert.annotations,
            starts_at=alert.fired_at or alert.active_since or now,
            ends_at=alert.resolved_at if alert.state == RESOLVED else None,
            generator_url=f"{self.external_url}/api/v1/alerts?fingerprint={alert.fingerprint}",
            acknowledged_by=acked_by,
        )

    def _account(self, receiver: str, iid: str, result: Delivery, now: datetime) -> None:
        health = self.health.setdefault((receiver, iid), ReceiverHealth(receiver, iid))
        health.last_attempt = now
        if result.ok:
            health.last_success, health.consecutive_failures, health.last_error = now, 0, ""
            health.sent += 1
        else:
            health.consecutive_failures += 1
            health.failed += 1
            health.last_error = result.error


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _claim_key(
    group: GroupState,
    iid: str,
    firing: list[Alert],
    resolved: list[Alert],
    acked: dict[str, str],
    repeat_at: datetime | None,
) -> str:
    """One notification's identity across workers: group, integration, and the state told (each alert by its
    fingerprint and the start of its episode, so a later episode is a new notification); a repeat by its interval."""

    def episode(a: Alert) -> str:
        return f"{a.fingerprint}@{a.active_since.isoformat() if a.active_since else ''}"

    state = "|".join(
        [
            ",".join(sorted(episode(a) for a in firing)),
            ",".join(sorted(episode(a) for a in resolved)),
            ",".join(sorted(acked)),
            str(int(repeat_at.timestamp() // group.route.repeat_interval)) if repeat_at else "",
        ]
    )
    return f"{group.key}|{iid}|{hashlib.sha256(state.encode()).hexdigest()[:32]}"
