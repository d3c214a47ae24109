"""The dispatcher's two cadences at explicit times: an Alertmanager push is told again of every firing alert each
resend interval, with endsAt a few re-sends ahead, while a webhook on the same route keeps its group and repeat
timers; pure re-sends stay out of the delivery log; empty labels are absent from what every notifier sees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.config import parse_config
from alerts.dispatch import Dispatcher
from alerts.errors import DeliveryFailed
from alerts.evaluate import FIRING, RESOLVED, Alert
from alerts.notifiers.alertmanager import alertmanager_alerts, alertmanager_valid_for
from alerts.notifiers.base import Delivery, Message, Notifier, alertmanager_fingerprint
from alerts.routing import ResolvedRoute, group_key

T0 = datetime(2026, 3, 12, 9, 0, tzinfo=UTC)
CONFIG = parse_config("""
rules: []
route: {receiver: default, group_by: [alertname, target_system], group_wait: 5s, group_interval: 1m,
        repeat_interval: 4h}
receivers:
  - name: default
    integrations: [{type: alertmanager, url: "http://am.invalid"}, {type: webhook, url: "http://hook.invalid"}]
""")


class Recording:
    def __init__(self, integration: str, fail: bool = False) -> None:
        self.integration, self.send_resolved, self.fail = integration, True, fail
        self.sent: list[Message] = []

    def send(self, message: Message) -> None:
        if self.fail:
            raise DeliveryFailed("down", retryable=False)
        self.sent.append(message)


class RecordingPush(Recording):
    resend_interval = 60.0


def _alert(state: str = FIRING, resolved_at: datetime | None = None) -> Alert:
    labels = {"alertname": "ErpUnreachable", "severity": "critical", "target_system": ""}
    return Alert("fp1", "ErpUnreachable", state, "critical", "finance-systems", labels, {"summary": "ERP down"},
                 T0, fired_at=T0, resolved_at=resolved_at)  # fmt: skip


def _dispatcher(push: Recording, hook: Recording) -> tuple[Dispatcher, list[object]]:
    logged: list[object] = []
    notifiers: dict[str, list[tuple[str, Notifier]]] = {"default": [("alertmanager#0", push), ("webhook#1", hook)]}

    def send(notifier: Notifier, message: Message) -> Delivery:
        try:
            notifier.send(message)
            return Delivery(True, 1)
        except DeliveryFailed as exc:
            return Delivery(False, 1, str(exc))

    return Dispatcher(CONFIG, notifiers, external_url="http://sw", log_delivery=logged.append, send=send), logged


def _run(d: Dispatcher, alerts: dict[str, Alert], start: int, end: int) -> list[object]:
    return [r for s in range(start, end) for r in d.tick(T0 + timedelta(seconds=s), alerts, [], {})]


def test_the_push_is_resent_every_minute_and_the_webhook_is_not() -> None:
    push, hook = RecordingPush("alertmanager"), Recording("webhook")
    d, logged = _dispatcher(push, hook)
    firing = {"fp1": _alert()}
    records = _run(d, firing, 0, 30 * 60)
    assert len(push.sent) == 30  # at once, then each minute of a half-hour outage
    assert [m.now - T0 for m in push.sent[:3]] == [timedelta(0), timedelta(minutes=1), timedelta(minutes=2)]
    assert len(hook.sent) == 1  # group_wait, then nothing new to say within repeat_interval
    assert len(records) == len(logged) == 2  # the first push and the webhook; re-sends change nothing
    assert d.health[("default", "alertmanager#0")].sent == 30
    resolved = {"fp1": _alert(RESOLVED, T0 + timedelta(minutes=30))}
    _run(d, resolved, 30 * 60, 32 * 60)
    assert [m.status for m in push.sent[-1:]] + [m.status for m in hook.sent] == ["resolved", "firing", "resolved"]
    assert len(push.sent) == 31  # a resolved alert is told once, not re-sent


def test_pushed_alerts_stay_valid_past_several_resends_and_resolve_at_their_end() -> None:
    valid_for = alertmanager_valid_for(15, 60)
    assert valid_for == timedelta(minutes=4)
    assert alertmanager_valid_for(120, 60) == timedelta(minutes=8)
    push, hook = RecordingPush("alertmanager"), Recording("webhook")
    d, _ = _dispatcher(push, hook)
    _run(d, {"fp1": _alert()}, 0, 1)
    (pushed,) = alertmanager_alerts(push.sent[0], valid_for)
    assert pushed["endsAt"] == (T0 + valid_for).isoformat().replace("+00:00", "Z")
    assert pushed["labels"] == {"alertname": "ErpUnreachable", "severity": "critical"}
    _run(d, {"fp1": _alert(RESOLVED, T0 + timedelta(seconds=30))}, 30, 31)
    (ended,) = alertmanager_alerts(push.sent[-1], valid_for)
    assert ended["endsAt"] == "2026-03-12T09:00:30Z"


def test_a_failed_push_is_logged_and_retried_after_the_failure_delay() -> None:
    push, hook = RecordingPush("alertmanager", fail=True), Recording("webhook")
    d, logged = _dispatcher(push, hook)
    d.failure_retry = 15.0
    _run(d, {"fp1": _alert()}, 0, 10)
    assert d.health[("default", "alertmanager#0")].failed == 1  # not every second
    push.fail = False
    _run(d, {"fp1": _alert()}, 10, 20)
    assert len(push.sent) == 1 and push.sent[0].now == T0 + timedelta(seconds=15)
    assert [getattr(r, "outcome", None) for r in logged if getattr(r, "integration", "") == "alertmanager#0"] == [
        "failed",
        "sent",
    ]


@pytest.mark.parametrize("group_by", [("alertname", "target_system"), ("...",)])
def test_the_webhook_body_leaves_absent_labels_out(group_by: tuple[str, ...]) -> None:
    route = ResolvedRoute("0", "default", group_by, 5, 60, 3600, ())
    key, labels = group_key(route, _alert().labels)
    push, hook = RecordingPush("alertmanager"), Recording("webhook")
    d, _ = _dispatcher(push, hook)
    _run(d, {"fp1": _alert()}, 0, 6)
    body = hook.sent[0].webhook_json()
    assert "target_system" not in labels and "target_system" not in key
    assert "target_system" not in body["groupLabels"] and "target_system" not in body["commonLabels"]
    assert body["alerts"][0]["labels"] == {"alertname": "ErpUnreachable", "severity": "critical"}
    assert body["alerts"][0]["fingerprint"] == alertmanager_fingerprint(body["alerts"][0]["labels"])
    # What Alertmanager 0.25 posted for this label set (measured); startsAt as Go writes a whole second.
    assert alertmanager_fingerprint({"alertname": "A1", "severity": "critical"}) == "70ae0576423d1244"
    assert body["alerts"][0]["startsAt"] == "2026-03-12T09:00:00Z"
