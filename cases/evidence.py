"""What the warehouse already knows about each problem, read from the business state (metrics/state.py) and the
events behind it: one `Evidence` per (cause, business key), healed or not.

- erp_rejection: time_entry.post_failed with retryable false, per entry and error category; healed when the entry
  is posted, written off or superseded.
- dead_letter: message.dead_lettered, per message; healed when it is replayed.
- exception: the middleware's exception.opened, per exception id; healed by its exception.resolved.
- unknown_billing_type: live approved entries on a project code no PSA project event classifies (the rule of
  metrics/coverage.py `unknown_projects`), per code; healed once the PSA gives the project a billing type.

Every query is fixed SQL; the only values from outside (the codes of open cases) are bound parameters.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from cases.model import Evidence
from metrics.slis._scan import CLASSIFIED_NUMBERS
from metrics.state import DEAD_LETTERS, ENTRIES, EXCEPTIONS, PROJECT_VIEWS

__all__ = ["gather"]

# The entries read for money and keys: only those the evidence names (entry_state is sorted by entry id, so the
# merged read skips the rest instead of merging every entry of the firm).
_REFUSED = """
SELECT entry_id FROM events
WHERE canonical_type = 'time_entry.post_failed' AND entry_id != '' AND NOT JSONExtractBool(data, 'retryable')
"""

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
WHERE d.dead_lettered_at IS NOT NULL
"""

_EXCEPTIONS = f"""
SELECT x.exception_id AS key, x.tenant AS tenant, x.flow AS flow, x.severity AS severity, x.category AS category,
       x.object_type AS object_type, x.object_id AS object_id, x.opened_at AS first_seen,
       x.resolved_at AS resolved_at, e.currency AS currency, e.amount AS amount, e.project AS project,
       e.consultant AS consultant
FROM ({EXCEPTIONS}) AS x
LEFT JOIN (SELECT * FROM ({ENTRIES}) WHERE entry_id IN (SELECT object_id FROM exception_state)) AS e
    ON e.entry_id = x.object_id AND x.object_id != ''
WHERE x.opened_at IS NOT NULL
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


def gather(client: Client, open_unknown_billing: Iterable[str], now: datetime) -> list[Evidence]:
    """Every problem the warehouse knows of, healed or not; `open_unknown_billing`: the project codes of the
    unknown-billing-type cases not yet closed (their healing is that they are no longer unclassified)."""
    return [
        *_rejections(client),
        *_dead_letters(client),
        *_exceptions(client),
        *_unknown_billing(client, open_unknown_billing, now),
    ]
