"""HCM changes not reflected in the PSA: status (hire, leave, termination) and cost centre, per consultant, with
how long the HCM record has been ahead of the PSA (its staleness)."""

from __future__ import annotations

from probes.adapters import kantata_rows, workday_workers
from probes.interfaces import ProbeContext
from probes.model import Finding
from probes.reconcile.common import epoch

__all__ = ["check_worker_sync"]


def check_worker_sync(ctx: ProbeContext) -> list[Finding]:
    hcm, psa = ctx.client("hcm"), ctx.client("psa")
    tenant = str(ctx.options.get("hcm_tenant") or hcm.options.get("tenant") or "")
    workers = list(workday_workers(hcm, ctx.scope, tenant))
    users = {str(u.get("id")): u for u in kantata_rows(psa, ctx.scope, "/api/v1/users.json", "users")}
    findings = []
    for w in workers:
        wid = str(w["id"])
        user = users.get(wid)
        hcm_view = {"status": w.get("status"), "cost_center": w.get("costCenter")}
        psa_view = {"status": user.get("status"), "cost_center": user.get("cost_center")} if user else {}
        fields = [f for f in hcm_view if not user or hcm_view[f] != psa_view[f]]
        if not fields:
            continue
        changed = epoch(w.get("lastUpdated"), field="worker lastUpdated", system=hcm.system)
        findings.append(
            Finding(
                kind="worker_not_synced",
                object_type="consultant",
                object_id=wid,
                system="psa",
                tenant_id=str(w.get("legalEntity") or ""),
                consultant_id=wid,
                age_seconds=max(0.0, ctx.now - changed),
                detail={
                    "fields": fields if user else ["missing_in_psa"],
                    "hcm_status": hcm_view["status"],
                    "psa_status": psa_view.get("status"),
                    "hcm_cost_center": hcm_view["cost_center"],
                    "psa_cost_center": psa_view.get("cost_center"),
                },
            )
        )
    return findings
