"""What the warehouse already knows about each problem, read from the business state (metrics/state.py) and the
events behind it: one `Evidence` per (cause, business key), healed or not.

- erp_rejection: time_entry.post_failed with retryable false, per entry and error category; healed when the entry
  is posted, written off or superseded.
- dead_letter: message.dead_lettered, per message; healed when it is replayed.
- exception: the middleware's exception.opened, per exception id; healed by its exception.resolved.
- unknown_billing_type: live approved entries on a project code no PSA project event classifies (the rule of
  metrics/coverage.py `unknown_projects`), per code; healed once the PSA gives the project a billing type.
- probe_finding: the findings of each probe's latest run that got an answer (probe_findings), per finding kind and
  record; healed when a later answer of the same probe no longer reports it, and only then: a probe whose latest
  run failed (blind) or that has not answered for 3 of its intervals (stale) heals nothing.

Every query is fixed SQL; the only values from outside (the codes of open cases) are bound parameters.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from clickhouse_connect.driver.client import Client

from cases.model import Evidence
from metrics.slis._scan import CLASSIFIED_NUMBERS
from metrics.state import DEAD_LETTERS, ENTRIES, EXCEPTIONS, PROJECT_VIEWS

__all__ = ["PROBE_KINDS", "gather"]

# The probe findings that are work on one record. Left out: dead_letter_unreplayed (the dead_letter cases, from the
# events), integration_stopped and period_closed_early (a system's state: alerts page on them, docs/alerting.md).
PROBE_KINDS = ("approved_not_posted", "project_mismatch", "rate_card_expiring", "assignment_without_rate_card",
               "duplicate_posting", "worker_not_synced", "deal_without_project")  # fmt: skip
# A probe is stale after 3 of its intervals without a run, as on /api/v1/probes; the interval is read from its
# last runs' spacing, and a probe with one run is given the longest built-in interval (rate_cards, 6 h).
_STALE_INTERVALS = 3
_LONGEST_INTERVAL = 6 * 3600.0
_FIRST_REPORT_WITHIN = timedelta(days=7)

# The entries read for money and keys: only those the evidence names (entry_state is sorted by entry id, so the
# merged read skips the rest instead of merging every entry of the firm).
_REFUSED = """
SELECT entry_id FROM events
WHERE canonical_type = 'time_entry.post_failed' AND entry_id != '' AND NOT JSONExtractBool(data, 'retryable')
"""


# Healed problems matter only to the cases still open on them (to close them): a problem that healed before the
# job saw it opens nothing, and a closed case stays closed. Reading only those keeps a run to the open problems,
# not every refusal, dead letter and exception of the retention (docs/benchmarks.md "Exception queue").
def _open_keys(kind: str) -> str:
    return (
        "SELECT business_key FROM exception_cases FINAL"
        f" WHERE kind = '{kind}' AND state NOT IN ('resolved', 'auto_resolved')"
    )


_REJECTIONS = f"""
SELECT f.entry_id AS key, f.category AS category, f.code AS code, f.message AS message, f.first_seen AS first_seen,
       f.last_seen AS last_seen, f.n AS n, f.flow AS flow, f.systems AS systems,
       e.tenant AS tenant, e.consultant AS consultant, e.project AS project, e.currency AS currency,
       e.amount AS amount, e.posted_at AS posted_at, e.written_off_at AS written_off_at,
       e.superseded_at AS superseded_at
FROM (
    SELECT entry_id, JSONExtractString(data, 'error_category') AS category,
           argMax(JSONExtractString(data, 'error_code'), time) AS code,
           argMax(JSONExtractString(data, 'error_message'), time) AS message,
           min(time) AS first_seen, max(time) AS last_seen, uniqExact(source, id) AS n, any(flow) AS flow,
           groupUniqArray(source_system) AS sources, groupUniqArray(target_system) AS targets,
           arrayFilter(s -> s != '', arrayDistinct(arrayConcat(sources, targets))) AS systems
    FROM events
    WHERE canonical_type = 'time_entry.post_failed' AND entry_id != '' AND NOT JSONExtractBool(data, 'retryable')
    GROUP BY entry_id, category
) AS f
LEFT JOIN (SELECT * FROM ({ENTRIES}) WHERE entry_id IN ({_REFUSED})) AS e ON e.entry_id = f.entry_id
WHERE (e.posted_at IS NULL AND e.written_off_at IS NULL AND e.superseded_at IS NULL)
   OR f.entry_id IN ({_open_keys("erp_rejection")})
"""

_DEAD_LETTERS = f"""
SELECT d.message_id AS key, d.tenant AS tenant, d.flow AS flow, d.queue AS queue, d.reason AS reason,
       d.object_id AS object_id, d.dead_lettered_at AS first_seen, d.replayed_at AS replayed_at,
       n.last_seen AS last_seen, n.n AS n, n.systems AS systems,
       e.currency AS currency, e.amount AS amount, e.project AS project, e.consultant AS consultant
FROM ({DEAD_LETTERS}) AS d
LEFT JOIN (
    SELECT message_id, max(time) AS last_seen, uniqExact(source, id) AS n,
           arrayFilter(s -> s != '', arrayDistinct(arrayConcat(groupUniqArray(source_system),
                                                               groupUniqArray(target_system)))) AS systems
    FROM events WHERE canonical_type = 'message.dead_lettered' AND message_id != '' GROUP BY message_id
) AS n ON n.message_id = d.message_id
LEFT JOIN (SELECT * FROM ({ENTRIES}) WHERE entry_id IN (SELECT object_id FROM dead_letter_state)) AS e
    ON e.entry_id = d.object_id AND d.object_id != ''
WHERE d.dead_lettered_at IS NOT NULL AND (d.replayed_at IS NULL OR d.message_id IN ({_open_keys("dead_letter")}))
"""

_EXCEPTIONS = f"""
SELECT x.exception_id AS key, x.tenant AS tenant, x.flow AS flow, x.severity AS severity, x.category AS category,
       x.object_type AS object_type, x.object_id AS object_id, x.opened_at AS first_seen,
       x.resolved_at AS resolved_at, e.currency AS currency, e.amount AS amount, e.project AS project,
       e.consultant AS consultant
FROM ({EXCEPTIONS}) AS x
LEFT JOIN (SELECT * FROM ({ENTRIES}) WHERE entry_id IN (SELECT object_id FROM exception_state)) AS e
    ON e.entry_id = x.object_id AND x.object_id != ''
WHERE x.opened_at IS NOT NULL AND (x.resolved_at IS NULL OR x.exception_id IN ({_open_keys("exception")}))
"""

_UNKNOWN_BILLING = f"""
SELECT e.project AS key, any(e.tenant) AS tenant, count() AS n, min(e.approved_at) AS first_seen,
       max(e.approved_at) AS last_seen, groupArray((e.currency, e.amount)) AS amounts,
       if(uniqExact(e.consultant) = 1, any(e.consultant), '') AS consultant
FROM ({ENTRIES}) AS e
WHERE e.approved_at IS NOT NULL AND e.superseded_at IS NULL AND e.written_off_at IS NULL AND e.project != ''
  AND e.project_number NOT IN ({CLASSIFIED_NUMBERS})
GROUP BY e.project
"""

# For codes no longer unclassified: the billing type the PSA gives them now ('' when it still gives none).
_BILLING_TYPES = f"""
SELECT code, max(billing_type) AS billing_type, max(created_at) AS at
FROM ({PROJECT_VIEWS}) WHERE system = 'psa' AND code IN {{codes:Array(String)}}
GROUP BY code
"""


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _rows(client: Client, sql: str, parameters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    result = client.query(sql, parameters=parameters or {})
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _money(currency: str | None, amount: Any) -> dict[str, float]:
    if amount is None or not currency:
        return {}
    return {currency: round(float(amount), 4)}


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")


def _rejections(client: Client) -> list[Evidence]:
    out = []
    for r in _rows(client, _REJECTIONS):
        category = r["category"] or r["code"] or "UNKNOWN"
        healed: tuple[datetime | None, str] = (None, "")
        for column, says in (("posted_at", "time_entry.posted"), ("written_off_at", "time_entry.written_off"),
                             ("superseded_at", "time_entry.adjusted (superseded)")):  # fmt: skip
            moment = _utc(r[column])
            if moment is not None and (healed[0] is None or moment < healed[0]):
                healed = (moment, f"{says} at {_stamp(moment)}")
        detail = f"ERP refused the entry: {r['code']}" + (f" ({r['message']})" if r["message"] else "")
        out.append(
            Evidence(
                kind="erp_rejection",
                cause=f"erp_rejection:{category}",
                key=r["key"],
                category=category,
                first_seen=_utc(r["first_seen"]) or datetime.now(UTC),
                last_seen=_utc(r["last_seen"]) or datetime.now(UTC),
                occurrences=int(r["n"]),
                systems=tuple(sorted(r["systems"])),
                flow=r["flow"] or "psa-to-erp-time",
                tenant=r["tenant"] or "",
                project=r["project"] or "",
                consultant=r["consultant"] or "",
                money=_money(r["currency"], r["amount"]),
                detail=detail,
                healed_at=healed[0],
                healed_by=healed[1],
            )
        )
    return out


def _dead_letters(client: Client) -> list[Evidence]:
    out = []
    for r in _rows(client, _DEAD_LETTERS):
        first = _utc(r["first_seen"]) or datetime.now(UTC)
        replayed = _utc(r["replayed_at"])
        out.append(
            Evidence(
                kind="dead_letter",
                cause="dead_letter",
                key=r["key"],
                category=r["queue"] or "",
                first_seen=first,
                last_seen=max(first, _utc(r["last_seen"]) or first),
                occurrences=max(1, int(r["n"] or 0)),
                systems=tuple(sorted(r["systems"] or ())),
                flow=r["flow"] or "",
                tenant=r["tenant"] or "",
                project=r["project"] or "",
                consultant=r["consultant"] or "",
                money=_money(r["currency"], r["amount"]),
                detail=f"dead-lettered on queue {r['queue']!s}: {r['reason']!s}"
                + (f" (record {r['object_id']})" if r["object_id"] else ""),
                healed_at=replayed,
                healed_by="" if replayed is None else f"message.replayed at {_stamp(replayed)}",
            )
        )
    return out


def _exceptions(client: Client) -> list[Evidence]:
    out = []
    for r in _rows(client, _EXCEPTIONS):
        first = _utc(r["first_seen"]) or datetime.now(UTC)
        resolved = _utc(r["resolved_at"])
        category = r["category"] or "uncategorised"
        out.append(
            Evidence(
                kind="exception",
                cause=f"exception:{category}",
                key=r["key"],
                category=category,
                severity=r["severity"] or "",
                first_seen=first,
                last_seen=first,
                occurrences=1,
                systems=("middleware",),
                flow=r["flow"] or "",
                tenant=r["tenant"] or "",
                project=r["project"] or "",
                consultant=r["consultant"] or "",
                money=_money(r["currency"], r["amount"]),
                detail=f"{r['severity'] or '?'} {category} on {r['object_type'] or 'record'} {r['object_id']}",
                healed_at=resolved,
                healed_by="" if resolved is None else f"exception.resolved at {_stamp(resolved)}",
            )
        )
    return out


def _unknown_billing(client: Client, open_codes: Iterable[str], now: datetime) -> list[Evidence]:
    out, seen = [], set()
    for r in _rows(client, _UNKNOWN_BILLING):
        money: dict[str, float] = {}
        for currency, amount in r["amounts"]:
            if currency and amount is not None:
                money[currency] = round(money.get(currency, 0.0) + float(amount), 4)
        seen.add(r["key"])
        out.append(
            Evidence(
                kind="unknown_billing_type",
                cause="unknown_billing_type",
                key=r["key"],
                first_seen=_utc(r["first_seen"]) or now,
                last_seen=_utc(r["last_seen"]) or now,
                occurrences=int(r["n"]),
                systems=("psa",),
                flow="psa-to-erp-time",
                tenant=r["tenant"] or "",
                project=r["key"],
                consultant=r["consultant"] or "",
                money=money,
                detail=f"{int(r['n'])} approved time entries on project {r['key']}, which no PSA project event"
                " gives a billing type",
            )
        )
    # The codes of open cases that left the set: healed, and by what.
    gone = sorted(set(open_codes) - seen)
    if gone:
        types = {r["code"]: r for r in _rows(client, _BILLING_TYPES, {"codes": gone})}
        for code in gone:
            found = types.get(code)
            if found and found["billing_type"]:
                says = f"the PSA gives project {code} the billing type {found['billing_type']}"
            else:
                says = f"no live approved entry on project {code} is left"
            out.append(
                Evidence(
                    kind="unknown_billing_type",
                    cause="unknown_billing_type",
                    key=code,
                    first_seen=now,
                    last_seen=datetime(1970, 1, 1, tzinfo=UTC),
                    occurrences=0,
                    healed_at=now,
                    healed_by=says,
                )
            )
    return out


# Each probe's latest run, its latest run that got an answer, and the spacing of its last three runs.
_PROBE_RUNS = """
SELECT probe, argMax(run_id, started_at) AS last_run, max(started_at) AS last_at,
       argMax(outcome, started_at) AS last_outcome,
       argMaxIf(run_id, started_at, outcome IN ('ok', 'mismatch')) AS answer_run,
       maxIf(started_at, outcome IN ('ok', 'mismatch')) AS answer_at,
       countIf(outcome IN ('ok', 'mismatch')) AS answers,
       arraySlice(arrayReverseSort(groupArray(toFloat64(started_at))), 1, 3) AS recent
FROM probe_runs GROUP BY probe
"""

# The findings of the answering runs, each with when its record was first reported. The first report is looked for
# in the last week only: a case opens from it once and keeps its opened_at, the finding's age carries the start of
# problems older than that, and the whole retention (a probe every 15 minutes for 90 days) is not read every minute.
_FINDINGS = """
SELECT f.kind AS kind, f.object_id AS key, f.probe AS probe, f.run_id AS run_id, f.observed_at AS observed_at,
       f.system AS system, f.tenant_id AS tenant, f.object_type AS object_type, f.project_code AS project,
       f.consultant_id AS consultant, f.age_seconds AS age, f.amount AS amount, f.currency AS currency,
       f.detail AS detail, h.first_observed AS first_observed, h.first_age AS first_age
FROM probe_findings AS f
LEFT JOIN (
    SELECT kind, object_id, min(observed_at) AS first_observed, argMin(age_seconds, observed_at) AS first_age
    FROM probe_findings WHERE kind IN {kinds:Array(String)} AND observed_at >= {since:DateTime64(3, 'UTC')}
    GROUP BY kind, object_id
) AS h ON h.kind = f.kind AND h.object_id = f.object_id
WHERE f.kind IN {kinds:Array(String)} AND (f.probe, f.run_id) IN {runs:Array(Tuple(String, String))}
"""

# Which probe last reported each record of an open case (the one whose answers can heal it).
_REPORTED_BY = """
SELECT kind, object_id, argMax(probe, observed_at) FROM probe_findings
WHERE kind IN {kinds:Array(String)} AND object_id IN {keys:Array(String)} GROUP BY kind, object_id
"""


@dataclass(frozen=True, slots=True)
class _ProbeState:
    answer_run: str
    answer_at: datetime | None
    can_heal: bool  # its latest run answered and is not stale


def _probe_states(client: Client, now: datetime) -> dict[str, _ProbeState]:
    out = {}
    for r in _rows(client, _PROBE_RUNS):
        recent = list(r["recent"])
        # The shortest recent spacing: a probe down for a day then run once must not look fresh for three days.
        gaps = [a - b for a, b in zip(recent, recent[1:], strict=False)]
        interval = min(gaps) if gaps else _LONGEST_INTERVAL
        answer_at = _utc(r["answer_at"]) if int(r["answers"]) else None
        last_at = _utc(r["last_at"]) or now
        answered_last = r["last_outcome"] in ("ok", "mismatch")
        fresh = (now - last_at).total_seconds() <= _STALE_INTERVALS * max(interval, 1.0)
        out[r["probe"]] = _ProbeState(r["answer_run"] if answer_at else "", answer_at, answered_last and fresh)
    return out


def _probe_findings(client: Client, open_cases: Iterable[tuple[str, str]], now: datetime) -> list[Evidence]:
    """One Evidence per (finding kind, record) in each probe's latest answer; and, for open cases no longer in it,
    the healing by that answer where the probe can heal (neither blind nor stale)."""
    states = _probe_states(client, now)
    runs = [(probe, s.answer_run) for probe, s in states.items() if s.answer_run]
    out, seen = [], set()
    # The week before the oldest answer read: a stale probe's last answer may be older than a week itself.
    oldest = min((s.answer_at for s in states.values() if s.answer_run and s.answer_at), default=now)
    since = oldest.astimezone(UTC).replace(tzinfo=None) - _FIRST_REPORT_WITHIN
    params = {"kinds": list(PROBE_KINDS), "runs": runs, "since": since}
    rows = _rows(client, _FINDINGS, params) if runs else []
    for r in rows:
        if (r["kind"], r["key"]) in seen:  # one record reported twice in a run: one case
            continue
        seen.add((r["kind"], r["key"]))
        observed = _utc(r["observed_at"]) or now
        first_observed = _utc(r["first_observed"])
        if first_observed is None or first_observed <= _EPOCH:  # the join's default: no earlier report was read
            first_observed = observed
        # The problem began its age before the probe first saw it (an entry approved days before the run).
        first = first_observed - timedelta(seconds=float(r["first_age"] or 0.0))
        detail = json.loads(r["detail"]) if r["detail"] else {}
        said = ", ".join(f"{k}: {v}" for k, v in detail.items() if isinstance(v, str | int | float))[:300]
        out.append(
            Evidence(
                kind="probe_finding",
                cause=f"probe_finding:{r['kind']}",
                key=r["key"],
                category=r["kind"],
                first_seen=first,
                last_seen=first,  # a finding reported again by each run is not a new occurrence
                occurrences=1,
                systems=tuple(sorted({s for s in str(r["system"]).split(",") if s})),
                tenant=r["tenant"] or "",
                project=r["project"] or "",
                consultant=r["consultant"] or "",
                customer=str(detail.get("customer") or ""),
                money=_money(r["currency"], r["amount"]),
                detail=f"probe {r['probe']} reports {r['kind']} on {r['object_type']} {r['key']}"
                + (f" ({said})" if said else ""),
            )
        )
    gone = [(cause.removeprefix("probe_finding:"), key) for cause, key in open_cases]
    gone = [(kind, key) for kind, key in gone if (kind, key) not in seen]
    if not gone:
        return out
    params = {"kinds": sorted({k for k, _ in gone}), "keys": sorted({key for _, key in gone})}
    reported_by = {(k, key): probe for k, key, probe in _rows_raw(client, _REPORTED_BY, params)}
    for kind, key in gone:
        state = states.get(reported_by.get((kind, key), ""))
        if state is None or not state.can_heal or state.answer_at is None:
            continue  # blind, stale or its findings expired: the case stays as it is
        out.append(
            Evidence(
                kind="probe_finding",
                cause=f"probe_finding:{kind}",
                key=key,
                first_seen=state.answer_at,
                last_seen=_EPOCH,
                occurrences=0,
                healed_at=state.answer_at,
                healed_by=f"probe {reported_by[(kind, key)]} run {state.answer_run} at {_stamp(state.answer_at)}"
                " no longer reports it",
            )
        )
    return out


def _rows_raw(client: Client, sql: str, parameters: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in client.query(sql, parameters=parameters).result_rows]


def gather(
    client: Client,
    open_unknown_billing: Iterable[str],
    now: datetime,
    open_probe_cases: Iterable[tuple[str, str]] = (),
) -> list[Evidence]:
    """Every problem the warehouse knows of, healed or not; `open_unknown_billing`: the project codes of the
    unknown-billing-type cases not yet closed (their healing is that they are no longer unclassified);
    `open_probe_cases`: (cause, key) of the probe-finding cases not yet closed (healed by a probe's later answer)."""
    return [
        *_rejections(client),
        *_dead_letters(client),
        *_exceptions(client),
        *_unknown_billing(client, open_unknown_billing, now),
        *_probe_findings(client, open_probe_cases, now),
    ]
