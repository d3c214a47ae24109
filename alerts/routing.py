"""The route tree, inhibition and mute periods, with Alertmanager's semantics.

An alert walks the tree from the root: the first child whose matchers all match takes it (and its own children
are tried in turn); `continue: true` lets the next siblings match too. Where no child matches, the node itself
takes it. Unset timing and grouping fields are inherited from the parent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from alerts.config import AlertsConfig, InhibitRule, Route
from alerts.evaluate import Alert
from alerts.matchers import Matcher, parse_matcher

__all__ = ["Inhibitor", "ResolvedRoute", "group_key", "match_routes", "muted"]

# Defaults picked for the detection budget (first notification within a minute of a fault reaching the
# warehouse); Alertmanager's own are 30s / 5m / 4h. See docs/alerting.md.
DEFAULT_GROUP_WAIT, DEFAULT_GROUP_INTERVAL, DEFAULT_REPEAT_INTERVAL = 10.0, 60.0, 4 * 3600.0


@dataclass(frozen=True)
class ResolvedRoute:
    """A route node with its inherited settings filled in."""

    path: str
    receiver: str
    group_by: tuple[str, ...]
    group_wait: float
    group_interval: float
    repeat_interval: float
    mute_time_intervals: tuple[str, ...]


def _resolve(route: Route, parent: ResolvedRoute | None, path: str) -> ResolvedRoute:
    return ResolvedRoute(
        path=path,
        receiver=route.receiver or (parent.receiver if parent else "default"),
        group_by=route.group_by if route.group_by is not None else (parent.group_by if parent else ("alertname",)),
        group_wait=_pick(route.group_wait, parent.group_wait if parent else DEFAULT_GROUP_WAIT),
        group_interval=_pick(route.group_interval, parent.group_interval if parent else DEFAULT_GROUP_INTERVAL),
        repeat_interval=_pick(route.repeat_interval, parent.repeat_interval if parent else DEFAULT_REPEAT_INTERVAL),
        mute_time_intervals=route.mute_time_intervals or (parent.mute_time_intervals if parent else ()),
    )


def _pick(value: float | None, inherited: float) -> float:
    return inherited if value is None else value


def match_routes(root: Route, labels: dict[str, str]) -> list[ResolvedRoute]:
    """Every route node that takes an alert with these labels (usually one)."""
    top = _resolve(root, None, "0")
    return _walk(root, top, labels)


def _walk(route: Route, resolved: ResolvedRoute, labels: dict[str, str]) -> list[ResolvedRoute]:
    found: list[ResolvedRoute] = []
    for i, child in enumerate(route.routes):
        if all(m.matches(labels) for m in child.parsed_matchers()):
            found.extend(_walk(child, _resolve(child, resolved, f"{resolved.path}.{i}"), labels))
            if not child.continue_:
                break
    return found or [resolved]


def group_key(route: ResolvedRoute, labels: dict[str, str]) -> tuple[str, dict[str, str]]:
    """Alertmanager's shape: route path, then the group_by label values ("..." groups by every label). A label
    the alert lacks (or has empty, which Alertmanager drops) is left out, as Alertmanager's groupLabels do."""
    if route.group_by == ("...",):
        values = {k: v for k, v in sorted(labels.items()) if v}
    else:
        values = {name: labels[name] for name in route.group_by if labels.get(name)}
    inside = ",".join(f'{k}="{v}"' for k, v in values.items())
    return f"{route.path}:{{{inside}}}", values


def muted(route: ResolvedRoute, config: AlertsConfig, now: datetime) -> str | None:
    """The name of the time interval muting this route now, if any (a period-close freeze)."""
    for name in route.mute_time_intervals:
        interval = config.time_intervals.get(name)
        if interval is not None and interval.contains(now):
            return name
    return None


class Inhibitor:
    """Pending or firing source alerts mute firing target alerts that carry equal values for the `equal` labels."""

    def __init__(self, rules: Iterable[InhibitRule]):
        self.rules: list[tuple[list[Matcher], list[Matcher], tuple[str, ...]]] = [
            ([parse_matcher(m) for m in r.source_matchers], [parse_matcher(m) for m in r.target_matchers], r.equal)
            for r in rules
        ]

    def inhibited(self, alerts: Iterable[Alert]) -> dict[str, str]:
        """fingerprint -> fingerprint of the alert inhibiting it."""
        alerts = list(alerts)
        firing = [a for a in alerts if a.state == "firing"]
        # A pending source inhibits too: ERP going down makes per-record alerts fire at once, while the
        # unreachable alert waits out its `for`; without this the page would be the symptom, not the cause.
        active = [a for a in alerts if a.state in ("pending", "firing")]
        out: dict[str, str] = {}
        for sources_m, targets_m, equal in self.rules:
            sources = [a for a in active if all(m.matches(a.labels) for m in sources_m)]
            if not sources:
                continue
            for target in firing:
                if target.fingerprint in out or not all(m.matches(target.labels) for m in targets_m):
                    continue
                for source in sources:
                    if source.fingerprint != target.fingerprint and all(
                        source.labels.get(n, "") == target.labels.get(n, "") for n in equal
                    ):
                        out[target.fingerprint] = source.fingerprint
                        break
        return out
