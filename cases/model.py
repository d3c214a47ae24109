"""Cases, their lifecycle and their defaults, as pure functions over values (no warehouse, no clock of their own).

A case is one problem with one business record: (cause, business key). `reconcile` turns what the warehouse knows
about a record (an `Evidence`) into the case's next version, `act` applies what a person did; both return the new
case and the audit entries saying what changed, and neither edits its input.

States: open -> acknowledged -> in_progress -> waiting -> resolved, and auto_resolved (the record healed). Every
action may be taken from every state that is not closed, except reopen, which only a closed case takes.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from functools import cache
from typing import Any, Protocol

from cases.calendar import Calendar, add_business_seconds

__all__ = [
    "ACTIONS",
    "CLOSED",
    "KINDS",
    "STATES",
    "SYSTEM_ACTOR",
    "Action",
    "ActionRefused",
    "AuditEntry",
    "Case",
    "Evidence",
    "Policy",
    "Route",
    "act",
    "add_business_seconds",
    "case_id",
    "reconcile",
    "route",
]

STATES = ("open", "acknowledged", "in_progress", "waiting", "resolved", "auto_resolved")
CLOSED = ("resolved", "auto_resolved")
ACTIONS = ("acknowledge", "assign", "start", "wait", "comment", "resolve", "reopen")
KINDS = ("erp_rejection", "dead_letter", "exception", "unknown_billing_type", "probe_finding")
SYSTEM_ACTOR = "syncwatch"  # the maintenance job, in the audit log; token names are people and programs

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Route:
    owner_team: str
    severity: str
    escalation_team: str = ""
    sla_seconds: float = 86400.0  # business time on the tenant's calendar


class Policy(Protocol):
    """Routing, SLAs and calendars (cases/routing.py, from a YAML file): what the lifecycle asks of configuration."""

    def route(self, ev: Evidence) -> Route: ...

    def sla_seconds(self, case: Case) -> float: ...

    def calendar(self, tenant: str) -> Calendar: ...


@cache
def default_policy() -> Policy:
    """The packaged cases/routing.yaml: the routing defaults and UTC Monday-Friday business time."""
    from cases.routing import load_policy  # routing reads this module's values; imported when first needed

    return load_policy()


def route(kind: str, category: str = "", severity: str = "") -> Route:
    """The owner team, severity, escalation team and SLA of a new case by its cause on the default routing
    (docs/exceptions.md "Routing"). A severity the source gave (an exception.opened's) is kept."""
    cause = f"{kind}:{category}" if category else kind
    return default_policy().route(Evidence(kind, cause, "", _EPOCH, _EPOCH, 0, severity=severity))


def case_id(cause: str, key: str) -> str:
    """Stable across runs and rebuilds: the same problem with the same record is always the same case."""
    return "EX-" + hashlib.sha256(f"{cause}\x00{key}".encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the warehouse says about one (cause, key) now. `healed_by` names the event that fixed the record."""

    kind: str
    cause: str
    key: str
    first_seen: datetime
    last_seen: datetime
    occurrences: int
    severity: str = ""
    category: str = ""
    systems: tuple[str, ...] = ()
    flow: str = ""
    tenant: str = ""
    project: str = ""
    consultant: str = ""
    money: dict[str, float] = field(default_factory=dict)
    detail: str = ""
    healed_at: datetime | None = None
    customer: str = ""  # known for some probe findings; routing may match on it
    healed_by: str = ""


@dataclass(frozen=True, slots=True)
class Case:
    case_id: str
    kind: str
    cause: str
    business_key: str
    severity: str
    systems: tuple[str, ...]
    flow: str
    tenant: str
    project: str
    consultant: str
    money: dict[str, float]
    detail: str
    occurrences: int
    opened_at: datetime
    last_seen: datetime
    due_at: datetime
    owner_team: str
    assignee: str = ""
    state: str = "open"
    waiting_reason: str = ""
    waiting_since: datetime | None = None
    resolution: str = ""
    resolution_note: str = ""
    resolved_at: datetime | None = None
    resolved_by: str = ""
    updated_at: datetime = _EPOCH

    @property
    def closed(self) -> bool:
        return self.state in CLOSED

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["systems"] = list(self.systems)
        for name in ("opened_at", "last_seen", "due_at", "waiting_since", "resolved_at", "updated_at"):
            value = out[name]
            out[name] = None if value is None else value.isoformat().replace("+00:00", "Z")
        return out


@dataclass(frozen=True, slots=True)
class AuditEntry:
    case_id: str
    at: datetime
    actor: str
    action: str
    detail: dict[str, Any]
    before: dict[str, Any]
    after: dict[str, Any]


# What the audit log shows of a case before and after a change: the fields a person works with.
_TRACKED = ("state", "owner_team", "assignee", "waiting_reason", "resolution", "resolution_note", "due_at",
            "occurrences", "last_seen", "money")  # fmt: skip


def _diff(before: Case | None, after: Case) -> tuple[dict[str, Any], dict[str, Any]]:
    new = after.as_json()
    if before is None:
        return {}, {k: new[k] for k in _TRACKED}
    old = before.as_json()
    changed = [k for k in _TRACKED if old[k] != new[k]]
    return {k: old[k] for k in changed}, {k: new[k] for k in changed}


def _open(ev: Evidence, policy: Policy) -> Case:
    r = policy.route(ev)
    return Case(
        case_id=case_id(ev.cause, ev.key),
        kind=ev.kind,
        cause=ev.cause,
        business_key=ev.key,
        severity=r.severity,
        systems=ev.systems,
        flow=ev.flow,
        tenant=ev.tenant,
        project=ev.project,
        consultant=ev.consultant,
        money=dict(ev.money),
        detail=ev.detail,
        occurrences=ev.occurrences,
        opened_at=ev.first_seen,
        last_seen=ev.last_seen,
        due_at=policy.calendar(ev.tenant).add(ev.first_seen, r.sla_seconds),
        owner_team=r.owner_team,
        updated_at=ev.last_seen,
    )


def _due(policy: Policy, case: Case, start: datetime) -> datetime:
    """The case's SLA after `start`, on its tenant's calendar."""
    return policy.calendar(case.tenant).add(start, policy.sla_seconds(case))


def reconcile(
    case: Case | None, ev: Evidence, now: datetime, policy: Policy | None = None
) -> tuple[Case | None, list[AuditEntry]]:
    """The case after this evidence, and what to append to the audit log; (case, []) when nothing changed, so a
    rerun over the same evidence writes nothing.

    - no case and a healed record: nothing to work (it healed before anyone had to);
    - no case: open one, due its cause's SLA in business time after the problem was first seen;
    - repeats (more occurrences, a later sighting, other money) update the case in place;
    - the record healed and the case is not closed: auto_resolved, naming the healing event;
    - the problem is still there and the case is closed: reopened when closed by the system, or when new evidence
      arrived after a person resolved it (a person may close a case whose record stays broken, e.g. written off
      elsewhere; only a new sighting says the problem persists).

    `policy` routes, sets SLAs and says the tenants' calendars (default: the packaged routing file)."""
    policy = policy or default_policy()
    if case is None:
        if ev.healed_at is not None:
            return None, []
        opened = _open(ev, policy)
        before, after = _diff(None, opened)
        # The escalation team is the routing's word at opening; the case row does not carry it.
        detail = {"evidence": ev.detail, "occurrences": ev.occurrences,
                  "escalation_team": policy.route(ev).escalation_team}  # fmt: skip
        return opened, [AuditEntry(opened.case_id, now, SYSTEM_ACTOR, "opened", detail, before, after)]
    entries: list[AuditEntry] = []
    current = case
    unchanged = (
        ev.occurrences <= current.occurrences
        and ev.last_seen <= current.last_seen
        and (not ev.money or ev.money == current.money)
        and (not ev.detail or ev.detail == current.detail)
    )
    # Most evidence of a run is what the case already says: skip building a copy only to compare it (the job reads
    # every open problem every minute; docs/benchmarks.md "Exception queue").
    seen = (
        current
        if unchanged
        else replace(
            current,
            occurrences=max(current.occurrences, ev.occurrences),
            last_seen=max(current.last_seen, ev.last_seen),
            money=dict(ev.money) if ev.money else current.money,
            detail=ev.detail or current.detail,
        )
    )
    if seen != current:
        repeated = seen.occurrences > current.occurrences or seen.last_seen > current.last_seen
        if repeated and current.state == "resolved" and ev.healed_at is None:
            due = _due(policy, seen, seen.last_seen)
            reopened = replace(seen, state="open", resolved_at=None, resolved_by="", due_at=due, updated_at=now)
            before, after = _diff(current, reopened)
            detail = {"evidence": ev.detail, "occurrences": ev.occurrences, "reason": "the problem was seen again"}
            entries.append(AuditEntry(case.case_id, now, SYSTEM_ACTOR, "reopened", detail, before, after))
            current = reopened
        else:
            seen = replace(seen, updated_at=now)
            before, after = _diff(current, seen)
            detail = {"evidence": ev.detail, "occurrences": ev.occurrences}
            entries.append(AuditEntry(case.case_id, now, SYSTEM_ACTOR, "repeated" if repeated else "updated", detail,
                                      before, after))  # fmt: skip
            current = seen
    if ev.healed_at is not None and not current.closed:
        healed = replace(
            _leave_waiting(current, now, policy),
            state="auto_resolved",
            resolution="healed",
            resolution_note=ev.healed_by,
            resolved_at=ev.healed_at,
            resolved_by=SYSTEM_ACTOR,
            updated_at=now,
        )
        before, after = _diff(current, healed)
        entries.append(AuditEntry(case.case_id, now, SYSTEM_ACTOR, "auto_resolved", {"evidence": ev.healed_by},
                                  before, after))  # fmt: skip
        current = healed
    elif ev.healed_at is None and current.state == "auto_resolved":
        due = _due(policy, current, max(now, current.last_seen))
        reopened = replace(current, state="open", resolution="", resolution_note="", resolved_at=None,
                           resolved_by="", due_at=due, updated_at=now)  # fmt: skip
        before, after = _diff(current, reopened)
        detail = {"evidence": ev.detail, "reason": "the record is broken again"}
        entries.append(AuditEntry(case.case_id, now, SYSTEM_ACTOR, "reopened", detail, before, after))
        current = reopened
    return (current, entries) if entries else (case, [])


class ActionRefused(ValueError):
    """The action does not apply to the case as it is (a closed case cannot be started, an open one reopened)."""


@dataclass(frozen=True, slots=True)
class Action:
    """What a person asks; `team`/`assignee` for assign, `reason` for wait, `code`/`note` for resolve, `note` for
    comment and reopen."""

    action: str
    team: str = ""
    assignee: str = ""
    reason: str = ""
    code: str = ""
    note: str = ""

    def fields(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v and k != "action"}


def _leave_waiting(case: Case, now: datetime, policy: Policy) -> Case:
    """Waiting pauses the SLA clock: the business time spent waiting moves the due time later."""
    if case.state != "waiting" or case.waiting_since is None:
        return replace(case, waiting_reason="", waiting_since=None)
    calendar = policy.calendar(case.tenant)
    paused = calendar.between(case.waiting_since, now)
    due = calendar.add(case.due_at, paused)
    return replace(case, due_at=due, waiting_reason="", waiting_since=None)


def act(case: Case, action: Action, actor: str, now: datetime, policy: Policy | None = None) -> tuple[Case, AuditEntry]:
    """The case after a person's action, and its audit entry. Raises ActionRefused when it does not apply."""
    policy = policy or default_policy()
    name = action.action
    if name not in ACTIONS:
        raise ActionRefused(f"unknown action {name!r}; actions are {', '.join(ACTIONS)}")
    if name == "reopen":
        if not case.closed:
            raise ActionRefused(f"case {case.case_id} is {case.state}, not closed: only a closed case reopens")
        due = _due(policy, case, now)
        new = replace(case, state="open", resolution="", resolution_note="", resolved_at=None, resolved_by="",
                      due_at=due)  # fmt: skip
    elif case.closed and name != "comment":
        raise ActionRefused(f"case {case.case_id} is {case.state}; reopen it first")
    elif name == "comment":
        if not action.note.strip():
            raise ActionRefused("comment: a note is required")
        new = case
    elif name == "acknowledge":
        new = replace(_leave_waiting(case, now, policy), state="acknowledged")
    elif name == "start":
        new = replace(_leave_waiting(case, now, policy), state="in_progress")
    elif name == "assign":
        if not action.team and not action.assignee:
            raise ActionRefused("assign: name a team, a person (assignee) or both")
        new = replace(case, owner_team=action.team or case.owner_team, assignee=action.assignee or case.assignee)
    elif name == "wait":
        if not action.reason.strip():
            raise ActionRefused("wait: a reason is required (e.g. waiting on client)")
        base = _leave_waiting(case, now, policy)
        new = replace(base, state="waiting", waiting_reason=action.reason, waiting_since=now)
    else:  # resolve
        if not action.code.strip():
            raise ActionRefused("resolve: a resolution code is required (e.g. fixed_in_erp, written_off)")
        new = replace(_leave_waiting(case, now, policy), state="resolved", resolution=action.code,
                      resolution_note=action.note, resolved_at=now, resolved_by=actor)  # fmt: skip
    new = replace(new, updated_at=now)
    before, after = _diff(case, new)
    return new, AuditEntry(case.case_id, now, actor, name, action.fields(), before, after)
