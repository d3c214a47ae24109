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
from cases.model import Action, AuditEntry, Case, Evidence, Policy, act, case_id, reconcile
from cases.routing import load_policy
from cases.store import append_audit, list_cases, load_case, write_cases
from syncwatch.settings import Settings

__all__ = ["CaseKeeper", "Maintained", "UnknownCase"]

log = logging.getLogger("syncwatch.cases")


# The cases not closed whose healing is that their evidence is gone (no event says so): their keys go to the evidence
# queries, which report them healed when the problem is no longer there.
_HEALED_BY_ABSENCE = """
SELECT kind, cause, business_key FROM exception_cases FINAL
WHERE kind IN ('unknown_billing_type', 'probe_finding') AND state NOT IN ('resolved', 'auto_resolved')
"""
_IDS_A_READ = 10_000  # case ids bound in one query


def _cases_named(client: Client, evidence: list[Evidence], now: datetime) -> dict[tuple[str, str], Case]:
    """The stored cases this evidence is about, by (cause, key): read by id (the table's key), not every case the
    queue ever had, so a run costs what the open problems cost (docs/benchmarks.md "Exception queue")."""
    ids = sorted({case_id(ev.cause, ev.key) for ev in evidence})
    found: dict[tuple[str, str], Case] = {}
    for i in range(0, len(ids), _IDS_A_READ):
        chunk = ids[i : i + _IDS_A_READ]
        for c in list_cases(client, now=now, ids=chunk, limit=len(chunk)).cases:
            found[(c.cause, c.business_key)] = c
    return found


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
            healed_by_absence = [
                (str(r[0]), str(r[1]), str(r[2])) for r in client.query(_HEALED_BY_ABSENCE).result_rows
            ]
            unknown_billing = [key for kind, _, key in healed_by_absence if kind == "unknown_billing_type"]
            probe_cases = [(cause, key) for kind, cause, key in healed_by_absence if kind == "probe_finding"]
            evidence = gather(client, unknown_billing, now, probe_cases)
            by_key = _cases_named(client, evidence, now)
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
