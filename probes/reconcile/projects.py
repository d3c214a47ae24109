"""Project master data across CRM, PSA and ERP: code, status, customer, currency and billing type.

Records are matched on what each pair of systems shares: CRM and PSA on the PSA project id (the CRM holds the PSA
project object), PSA and ERP on the project code, and, for projects a rename left with different codes, on the
project name. A project active in any system and different anywhere is one finding, keyed by its ERP code (the
code finance books against) or its PSA code when the ERP has none.
"""

from __future__ import annotations

from typing import Any

from probes.adapters import kantata_rows, soql_rows, suiteql_rows
from probes.interfaces import ProbeContext
from probes.model import Finding
from probes.reconcile.common import epoch, opt_int

__all__ = ["check_project_master_data"]

FIELDS = ("code", "status", "customer", "currency", "billing_type")


def _crm(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row.get("id")),
        "code": row.get("project_code__c"),
        "status": row.get("pse__stage__c"),
        "customer": row.get("pse__account__c"),
        "currency": row.get("currencyisocode"),
        "billing_type": row.get("billing_type__c"),
        "name": row.get("name"),
    }


def _psa(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row.get("id")),
        "code": row.get("code"),
        "status": row.get("status"),
        "customer": row.get("customer_id"),
        "currency": row.get("currency"),
        "billing_type": row.get("billing_type"),
        "name": row.get("title"),
        "updated_at": row.get("updated_at"),
    }


def _erp(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row.get("id")),
        "code": row.get("entityid"),
        "status": row.get("status"),
        "customer": row.get("customer"),
        "currency": row.get("currency"),
        "billing_type": row.get("billingtype"),
        "name": row.get("companyname"),
        "tenant": row.get("subsidiary"),
    }


def check_project_master_data(ctx: ProbeContext) -> list[Finding]:
    crm_rows = [
        _crm(r)
        for r in soql_rows(
            ctx.client("crm"),
            ctx.scope,
            "SELECT Id, Name, Project_Code__c, pse__Stage__c, pse__Account__c, CurrencyIsoCode, Billing_Type__c "
            "FROM pse__Proj__c",
        )
    ]
    psa_rows = [_psa(r) for r in kantata_rows(ctx.client("psa"), ctx.scope, "/api/v1/workspaces.json", "workspaces")]
    erp_rows = [
        _erp(r)
        for r in suiteql_rows(
            ctx.client("erp"),
            ctx.scope,
            "SELECT id, entityid, companyname, customer, currency, billingtype, status, subsidiary FROM job",
        )
    ]
    grace = opt_int(ctx.options, "missing_grace_seconds", 7200)  # a new project reaches the ERP within minutes

    crm_by_id = {r["id"]: r for r in crm_rows}
    crm_by_code = {r["code"]: r for r in crm_rows}
    erp_by_code = {r["code"]: r for r in erp_rows}
    erp_by_name: dict[Any, list[dict[str, Any]]] = {}
    for r in erp_rows:
        erp_by_name.setdefault(r["name"], []).append(r)
    matched_erp: set[str] = set()
    triples: list[tuple[dict[str, Any] | None, dict[str, Any], dict[str, Any] | None]] = []
    for psa in psa_rows:
        crm = crm_by_id.get(psa["id"]) or crm_by_code.get(psa["code"])
        erp = erp_by_code.get(psa["code"])
        if erp is None:  # renamed on one side: same project name, one unmatched ERP record
            candidates = [r for r in erp_by_name.get(psa["name"], []) if r["id"] not in matched_erp]
            erp = candidates[0] if len(candidates) == 1 else None
        if erp is not None:
            matched_erp.add(erp["id"])
        triples.append((crm, psa, erp))

    findings: list[Finding] = []
    for crm, psa, erp in triples:
        statuses = [psa["status"], crm["status"] if crm else None, erp["status"] if erp else None]
        if "active" not in statuses:
            continue
        if erp is None or crm is None:
            age = (
                max(0.0, ctx.now - epoch(psa["updated_at"], field="workspace updated_at")) if psa["updated_at"] else 0.0
            )
            if age < grace:
                continue  # still in flight between systems
            missing = [name for name, rec in (("crm", crm), ("erp", erp)) if rec is None]
            findings.append(_finding(ctx, psa, crm, erp, [f"missing_in_{m}" for m in missing], age))
            continue
        differing = [f for f in FIELDS if not (psa[f] == crm[f] == erp[f])]
        if differing:
            findings.append(_finding(ctx, psa, crm, erp, differing, 0.0))
    for erp in erp_rows:
        if erp["id"] not in matched_erp and erp["status"] == "active":
            findings.append(_finding(ctx, None, None, erp, ["missing_in_psa"], 0.0))
    return findings


def _finding(
    ctx: ProbeContext,
    psa: dict[str, Any] | None,
    crm: dict[str, Any] | None,
    erp: dict[str, Any] | None,
    fields: list[str],
    age: float,
) -> Finding:
    code = str((erp or psa or crm or {}).get("code") or "")
    views = {name: rec for name, rec in (("crm", crm), ("psa", psa), ("erp", erp)) if rec is not None}
    return Finding(
        kind="project_mismatch",
        object_type="project",
        object_id=code,
        system="erp",
        tenant_id=str((erp or {}).get("tenant") or ""),
        project_code=code,
        age_seconds=age,
        detail={
            "fields": fields,
            "values": {f: {name: rec.get(f) for name, rec in views.items()} for f in FIELDS},
        },
    )
