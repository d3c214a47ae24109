"""The one writer of cases: the scheduled maintenance (evidence -> cases) and people's actions go through here.

Both read a case, decide its next version in Python (cases/model.py) and write it; one lock keeps them from
deciding on the same old version at once (one collector process owns the queue, as it owns the scheduled stages).
A run over unchanged evidence writes nothing, so reruns leave the same cases and the same audit log.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from clickhouse_connect.driver.client import Client

from cases.evidence import gather
from cases.model import Action, AuditEntry, Case, Policy, act, reconcile
from cases.routing import load_policy
from cases.store import append_audit, load_case, load_cases, write_cases
from syncwatch.settings import Settings

__all__ = ["CaseKeeper", "Maintained", "UnknownCase"]

log = logging.getLogger("syncwatch.cases")


class UnknownCase(KeyError):
    """No case has this id."""


@dataclass(frozen=True, slots=True)
class Maintained:
    evidence: int
    changed: int
    audit: dict[str, int]  # audit entries written, per action (opened, repeated, auto_resolved, reopened, ...)


class CaseKeeper:
    def __init__(self, connect: Callable[[], Client], policy: Policy | None = None) -> None:
        """`policy`: routing, SLAs and calendars; by default the file SYNCWATCH_EXCEPTIONS_ROUTING_FILE names (read
        now, so a bad file fails the start, not every run), else the packaged one."""
        self._connect = connect
        self.policy = policy or load_policy(Settings().exceptions_routing_file)
        self._client: Client | None = None
        self._lock = threading.Lock()

    def _db(self) -> Client:
        if self._client is None:
            self._client = self._connect()
        return self._client

    def maintain(self, now: datetime | None = None) -> Maintained:
        """Open, update, auto-resolve and reopen cases from what the warehouse knows now."""
        now = now or datetime.now(UTC)
        with self._lock:
            client = self._db()
            cases = load_cases(client)
            by_key = {(c.cause, c.business_key): c for c in cases.values()}
            unknown_billing = [
                c.business_key for c in cases.values() if c.kind == "unknown_billing_type" and not c.closed
            ]
            probe_cases = [
                (c.cause, c.business_key) for c in cases.values() if c.kind == "probe_finding" and not c.closed
            ]
            evidence = gather(client, unknown_billing, now, probe_cases)
            changed: list[Case] = []
            entries: list[AuditEntry] = []
            for ev in evidence:
                case, audit = reconcile(by_key.get((ev.cause, ev.key)), ev, now, self.policy)
                if audit and case is not None:
                    changed.append(case)
                    entries += audit
            # The case first: a crash in between loses an audit line, never writes one for a change not made.
            write_cases(client, changed)
            append_audit(client, entries)
        counts: dict[str, int] = {}
        for entry in entries:
            counts[entry.action] = counts.get(entry.action, 0) + 1
        return Maintained(len(evidence), len(changed), counts)

    def maintain_logged(self) -> None:
        """For the scheduler: a failed run is logged and the next one tries again."""
        try:
            done = self.maintain()
        except Exception as exc:
            self._client = None  # the warehouse went away: reconnect next time
            log.warning("exception case maintenance failed: %s", str(exc).splitlines()[0][:300] if str(exc) else exc)
            return
        if done.changed:
            actions = ", ".join(f"{k} {v}" for k, v in done.audit.items())
            log.info("exception cases: %d changed (%s)", done.changed, actions)

    def act(self, case_id: str, action: Action, actor: str, now: datetime | None = None) -> tuple[Case, AuditEntry]:
        """Apply a person's action. Raises UnknownCase, or ActionRefused when it does not apply to the case."""
        now = now or datetime.now(UTC)
        with self._lock:
            client = self._db()
            case = load_case(client, case_id)
            if case is None:
                raise UnknownCase(case_id)
            new, entry = act(case, action, actor, now, self.policy)
            write_cases(client, [new])
            append_audit(client, [entry])
        return new, entry
