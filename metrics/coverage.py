"""What each SLI could not see: the records its definition is about that it had to leave out, by reason, with
their money per currency, next to the records it measured (docs/slis.md "Coverage").

An SLI that silently drops what it cannot classify tells a finance team that all is well: an entry on a project no
PSA event describes is neither billable nor not, an entry whose attempt 1 never arrived has no first pass. Such
records are counted here, never guessed into a number, and an SLI whose left-out share is above the threshold
(SloConfig.partial_above, 1% by default) reads `partial` instead of `ok` (metrics/evaluate.py).

One query per kind of record (entries, projects, HCM changes, exceptions, flows) serves every SLI that reads it,
over the SLO window, once per evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from metrics.catalogue import Reading
from metrics.query import Db, timestamp
from metrics.slis._scan import CLASSIFIED_NUMBERS
from metrics.state import CHANGES, ENTRIES, EXCEPTIONS, PROJECT_VIEWS, currency_of
from metrics.windows import Window

__all__ = ["FLOW_OF", "REASONS", "Coverage", "LeftOut", "flow_coverage", "measure_coverage", "unknown_sources"]

# Why a record was left out; docs/slis.md lists the same.
REASONS = {
    "no_first_attempt_known": "an entry none of whose posting events is attempt 1 (only retries arrived)",
    "no_approval_known": "an entry posted in the window whose approval never arrived (no timesheet.approved or"
    " time_entry.adjusted names it)",
    "no_project_named": "an approved entry whose project no time_entry event has named yet",
    "unknown_billing_type": "an approved entry whose project no PSA project event describes with a billing type"
    " (missing master data)",
    "unknown_system": "a project event whose system neither its extensions nor its source prefix tell",
    "no_change_known": "an HCM change synced to the PSA whose worker.changed never arrived",
    "no_opening_known": "an exception resolved in the window whose exception.opened never arrived",
    "unknown_flow": "an event of no known flow (no flow extension, a type outside the catalogue, no systems)",
}
AGE_BUCKETS = ("0-7", "8-30", "31-60", ">60")
AS_OF = "{as_of:DateTime64(6, 'UTC')}"
F0 = "{f0:DateTime64(6, 'UTC')}"


@dataclass(frozen=True, slots=True)
class LeftOut:
    count: int
    money: dict[str, float] = field(default_factory=dict)  # per currency, never converted

    def as_json(self) -> dict[str, Any]:
        return {"count": self.count, "money": self.money}


@dataclass(frozen=True, slots=True)
class Coverage:
    """`included`: records the SLI measured; `money_included`: their money per currency, for SLIs whose number is
    money (left-out money then counts against the threshold too)."""

    included: float
    left_out: dict[str, LeftOut] = field(default_factory=dict)
    money_included: dict[str, float] | None = None
    details: dict[str, Any] = field(default_factory=dict)  # further figures of what was left out

    @property
    def missing(self) -> int:
        return sum(item.count for item in self.left_out.values())

    @property
    def considered(self) -> float:
        return self.included + self.missing

    @property
    def ratio(self) -> float:
        """Share of the records considered that the SLI measured (1 when there were none)."""
        return 1.0 if self.considered == 0 else self.included / self.considered

    def _money(self) -> dict[str, tuple[float, float]]:
        """Per currency: (money measured, money left out)."""
        if self.money_included is None:
            return {}
        left: dict[str, float] = {}
        for item in self.left_out.values():
            for currency, amount in item.money.items():
                left[currency] = left.get(currency, 0.0) + amount
        currencies = sorted({*self.money_included, *left})
        return {c: (self.money_included.get(c, 0.0), left.get(c, 0.0)) for c in currencies}

    def money_ratios(self) -> dict[str, float]:
        return {c: 1.0 if inside + out <= 0 else inside / (inside + out) for c, (inside, out) in self._money().items()}

    def lowest_ratio(self) -> float:
        """The smaller of the records' share measured and each currency's money share measured."""
        return min([self.ratio, *self.money_ratios().values()])

    def short(self, partial_above: float) -> bool:
        """More than `partial_above` of the records, or of the money in any currency, was left out (shares left
        out computed as such, so that exactly the threshold is not above it)."""
        shares = [self.missing / self.considered if self.considered else 0.0]
        shares += [out / (inside + out) for inside, out in self._money().values() if inside + out > 0]
        return any(share > partial_above for share in shares)

    def as_json(self, partial_above: float) -> dict[str, Any]:
        return {
            "considered": self.considered,
            "included": self.included,
            "left_out": {reason: item.as_json() for reason, item in sorted(self.left_out.items())},
            "ratio": self.ratio,
            "money_ratio": self.money_ratios(),
            "lowest_ratio": self.lowest_ratio(),
            "complete": not self.short(partial_above),
            **self.details,
        }


def _left(rows: list[dict[str, Any]], count: str, money: str | None = None) -> LeftOut:
    """One reason's count and money per currency from rows grouped by currency."""
    total = sum(int(r[count]) for r in rows)
    amounts = {} if money is None else {r["currency"] or "?": float(r[money]) for r in rows if r[money]}
    return LeftOut(total, amounts)


def _only(found: Mapping[str, LeftOut]) -> dict[str, LeftOut]:
    return {reason: item for reason, item in found.items() if item.count}


def _entries(db: Db, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Per currency: the entries each entry-based SLI left out, with their money; unclassified open WIP per age."""
    first_unknown = f"e.first_attempt_at >= {F0} AND e.first_attempt_at < {AS_OF} AND e.first_attempt_known = 0"
    no_approval = f"e.posted_at >= {F0} AND e.posted_at < {AS_OF} AND e.approved_at IS NULL"
    live = "e.approved_at IS NOT NULL AND e.superseded_at IS NULL AND e.written_off_at IS NULL"
    approved_in = f"e.approved_at >= {F0} AND e.approved_at < {AS_OF}"
    unbilled = f"e.approved_at <= {AS_OF} AND (e.invoice_ready_at IS NULL OR e.invoice_ready_at > {AS_OF})"
    # The classified lookup runs only for live approved entries (the short-circuit AND of the inner filter).
    sql = f"""
        SELECT {currency_of("e.currency_code")} AS currency,
               countIf(e.fa_unknown) AS n_first, sumIf(e.amount, e.fa_unknown) AS m_first,
               countIf(e.no_approval) AS n_approval, sumIf(e.amount, e.no_approval) AS m_approval,
               countIf(e.approved_in AND e.unnamed) AS n_unnamed,
               countIf(e.approved_in AND e.unclassified) AS n_unclassified,
               sumIf(e.amount, e.approved_in AND e.unclassified) AS m_unclassified,
               countIf(e.unbilled AND e.unnamed) AS n_wip_unnamed,
               countIf(e.unbilled AND e.unclassified) AS n_wip_unclassified,
               sumIf(e.amount, e.unbilled AND e.unclassified) AS m_wip_unclassified,
               {", ".join(f"sumIf(e.amount, e.unbilled AND e.unclassified AND {cond}) AS wip_{n}"
                          for n, cond in enumerate(_AGE_CONDITIONS))}
        FROM (
            SELECT e.*, ({first_unknown}) AS fa_unknown, ({no_approval}) AS no_approval,
                   ({live} AND {approved_in}) AS approved_in, ({live} AND {unbilled}) AS unbilled,
                   e.project = '' AS unnamed,
                   e.project != '' AND ({live}) AND e.project_number NOT IN ({CLASSIFIED_NUMBERS}) AS unclassified,
                   (toUnixTimestamp64Milli({AS_OF}) - toUnixTimestamp64Milli(e.approved_at)) / 86400000.0 AS age_days
            FROM ({ENTRIES}) AS e
            WHERE ({first_unknown}) OR ({no_approval}) OR ({live} AND ({approved_in} OR {unbilled}))
        ) AS e
        WHERE e.fa_unknown OR e.no_approval OR e.unnamed OR e.unclassified
        GROUP BY e.currency_code ORDER BY currency"""  # fmt: skip
    return db.rows(sql, params)


_AGE_CONDITIONS = ("e.age_days <= 7", "e.age_days > 7 AND e.age_days <= 30", "e.age_days > 30 AND e.age_days <= 60",
                   "e.age_days > 60")  # fmt: skip


def unknown_projects(db: Db, params: dict[str, Any], limit: int = 10) -> list[dict[str, Any]]:
    """The project codes approved entries use that no PSA project event classifies, most money first: the
    projects missing from the PSA's master data as SyncWatch has received it."""
    live = "e.approved_at IS NOT NULL AND e.superseded_at IS NULL AND e.written_off_at IS NULL"
    sql = f"""
        SELECT e.project AS project, count() AS entries,
               groupArray(({currency_of("e.currency_code")}, e.amount)) AS amounts, sum(e.amount) AS total
        FROM ({ENTRIES}) AS e
        WHERE {live} AND e.project != ''
          AND (e.approved_at >= {F0} OR e.invoice_ready_at IS NULL OR e.invoice_ready_at > {AS_OF})
          AND e.approved_at < {AS_OF} AND e.project_number NOT IN ({CLASSIFIED_NUMBERS})
        GROUP BY e.project ORDER BY total DESC, project LIMIT {{limit:UInt32}}"""
    out = []
    for r in db.rows(sql, {**params, "limit": limit}):
        money: dict[str, float] = {}
        for currency, amount in r["amounts"]:
            money[currency or "?"] = money.get(currency or "?", 0.0) + float(amount)
        out.append({"project": r["project"], "entries": int(r["entries"]), "money": money})
    return out


def unclassified_wip(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Open WIP on projects of unknown billing type, per currency and age bucket (the buckets of unbilled WIP)."""
    return {
        r["currency"] or "?": {bucket: float(r[f"wip_{n}"]) for n, bucket in enumerate(AGE_BUCKETS)}
        for r in rows
        if r["n_wip_unclassified"]
    }


def _count(db: Db, sql: str, params: dict[str, Any]) -> int:
    rows = db.rows(sql, params)
    return int(rows[0]["n"]) if rows else 0


def measure_coverage(db: Db, window: Window, readings: Mapping[str, Reading]) -> dict[str, Coverage]:
    """Coverage of each SLI in `readings` (its overall reading over `window`, the SLO window)."""
    params = {"f0": timestamp(window.start), "as_of": timestamp(window.end)}
    names = set(readings)
    out: dict[str, Coverage] = {}

    def included(name: str) -> float:
        return float(readings[name].total) if name in readings else 0.0

    entry_slis = {"time_posting_first_pass", "time_posting_eventual", "billing_sync_latency",
                  "invoice_readiness_lag", "unbilled_wip_at_risk"}  # fmt: skip
    if names & entry_slis:
        rows = _entries(db, params)
        unclassified = any(r["n_unclassified"] or r["n_wip_unclassified"] for r in rows)
        projects = {"unknown_projects": unknown_projects(db, params)} if unclassified else {}
        no_approval = _left(rows, "n_approval", "m_approval")
        for name in ("time_posting_eventual", "billing_sync_latency"):
            out[name] = Coverage(included(name), _only({"no_approval_known": no_approval}))
        out["time_posting_first_pass"] = Coverage(
            included("time_posting_first_pass"),
            _only({"no_first_attempt_known": _left(rows, "n_first", "m_first")}),
        )
        out["invoice_readiness_lag"] = Coverage(
            included("invoice_readiness_lag"),
            _only({"no_project_named": _left(rows, "n_unnamed"),
                   "unknown_billing_type": _left(rows, "n_unclassified", "m_unclassified")}),
            details=projects,
        )  # fmt: skip
        wip = readings.get("unbilled_wip_at_risk")
        wip_details = wip.details if wip else {}
        wip_money = {
            currency: float(sum(buckets.values()))
            for currency, buckets in wip_details.get("by_currency_and_age", {}).items()
        }
        out["unbilled_wip_at_risk"] = Coverage(
            float(wip_details.get("entries", 0)),
            _only({"no_project_named": _left(rows, "n_wip_unnamed"),
                   "unknown_billing_type": _left(rows, "n_wip_unclassified", "m_wip_unclassified")}),
            money_included=wip_money,
            details={"unclassified_by_currency_and_age": unclassified_wip(rows), **projects},
        )  # fmt: skip
    if "master_data_consistency" in names:
        unknown = _count(db, f"SELECT uniqExact(project_key) AS n FROM ({PROJECT_VIEWS}) WHERE system = ''", params)
        out["master_data_consistency"] = Coverage(
            included("master_data_consistency"), _only({"unknown_system": LeftOut(unknown)})
        )
    if "resource_plan_freshness" in names:
        sql = f"""SELECT count() AS n FROM ({CHANGES}) AS c
                  WHERE c.entered_at IS NULL AND c.synced_at >= {F0} AND c.synced_at < {AS_OF}"""
        out["resource_plan_freshness"] = Coverage(
            included("resource_plan_freshness"), _only({"no_change_known": LeftOut(_count(db, sql, params))})
        )
    if "exception_sla_compliance" in names:
        sql = f"""SELECT count() AS n FROM ({EXCEPTIONS}) AS x
                  WHERE x.opened_at IS NULL AND x.resolved_at >= {F0} AND x.resolved_at < {AS_OF}"""
        out["exception_sla_compliance"] = Coverage(
            included("exception_sla_compliance"), _only({"no_opening_known": LeftOut(_count(db, sql, params))})
        )
    if "flow_silence" in names:
        out["flow_silence"] = _flows(db, params, included("flow_silence"))
    for name in names - set(out):  # complete by construction: every record they read is classified
        out[name] = Coverage(included(name))
    return {name: out[name] for name in readings}


def _flows(db: Db, params: dict[str, Any], flows: float) -> Coverage:
    """Flow silence judges flows; events of no known flow are left out of every flow (counted only when any)."""
    hours = "hour >= toStartOfHour({f0:DateTime64(6, 'UTC')}) AND hour <= {as_of:DateTime64(6, 'UTC')}"
    sql = f"SELECT count() AS n FROM flow_activity WHERE flow = 'unassigned' AND {hours}"
    if not _count(db, sql, params):
        return Coverage(flows)
    # Events per (flow, tenant, hour) row are distinct; rows are disjoint, so their sum is exact.
    rows = db.rows(
        f"""SELECT flow = 'unassigned' AS unknown, sum(n) AS events FROM (
                SELECT flow, tenant_id, hour, uniqExactMerge(events) AS n FROM flow_activity
                WHERE {hours} GROUP BY flow, tenant_id, hour) GROUP BY unknown""",
        params,
    )
    by_kind = {bool(r["unknown"]): int(r["events"]) for r in rows}
    return Coverage(float(by_kind.get(False, 0)), _only({"unknown_flow": LeftOut(by_kind.get(True, 0))}))


# The flow whose records an SLI without a flow of its own reads (catalogue.Definition.flow names the others).
FLOW_OF = {"master_data_consistency": "psa-to-erp-projects", "exception_sla_compliance": "exceptions",
           "dead_letter_backlog": "dead-letter-replay", "rate_card_exposure": "psa-rate-cards"}  # fmt: skip


def flow_coverage(per_sli: Mapping[str, tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per flow, from each SLI's (flow, Coverage.as_json): per reason the most any of its SLIs left out (the same
    entry is left out of invoice readiness and of unbilled WIP: it is one record of the flow, counted once)."""
    flows: dict[str, dict[str, Any]] = {}
    for name, (flow, cov) in sorted(per_sli.items()):
        if not flow:
            continue
        entry = flows.setdefault(flow, {"flow": flow, "slis": [], "left_out": {}, "complete": True})
        entry["slis"].append(name)
        entry["complete"] = entry["complete"] and cov["complete"]
        for reason, item in cov["left_out"].items():
            kept = entry["left_out"].setdefault(reason, {"count": 0, "money": {}})
            kept["count"] = max(kept["count"], item["count"])
            for currency, amount in item["money"].items():
                kept["money"][currency] = max(kept["money"].get(currency, 0.0), amount)
    return sorted(flows.values(), key=lambda f: (f["complete"], f["flow"]))


def unknown_sources(db: Db, window: Window, limit: int = 100) -> list[dict[str, Any]]:
    """The sources whose events in the window name no system (no extension, no configured prefix), most first."""
    sql = """
        SELECT source, uniqExact(id) AS events, arraySort(groupUniqArray(10)(canonical_type)) AS types
        FROM events
        WHERE time >= {f0:DateTime64(6, 'UTC')} AND time < {as_of:DateTime64(6, 'UTC')}
          AND source_system = '' AND target_system = ''
        GROUP BY source ORDER BY events DESC, source LIMIT {limit:UInt32}"""
    params = {"f0": timestamp(window.start), "as_of": timestamp(window.end), "limit": limit}
    return [
        {"source": r["source"], "events": int(r["events"]), "types": list(r["types"])} for r in db.rows(sql, params)
    ]
