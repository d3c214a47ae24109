"""Closed-won deals with no project 24 hours later (the CRM's project object carries the opportunity id)."""

from __future__ import annotations

from datetime import timedelta

from probes.adapters import soql_rows
from probes.interfaces import ProbeContext
from probes.model import Finding
from probes.reconcile.common import epoch, money, opt_int, to_date

__all__ = ["check_deals_without_project"]


def check_deals_without_project(ctx: ProbeContext) -> list[Finding]:
    crm = ctx.client("crm")
    after = opt_int(ctx.options, "after_seconds", 24 * 3600)
    since = to_date(ctx.now) - timedelta(days=opt_int(ctx.options, "lookback_days", 120))
    deals = list(
        soql_rows(
            crm,
            ctx.scope,
            "SELECT Id, AccountId, Amount, CurrencyIsoCode, CloseDate, LastModifiedDate FROM Opportunity "
            f"WHERE StageName = 'Closed Won' AND CloseDate >= {since}",
        )
    )
    with_project = {
        str(r.get("opportunity__c"))
        for r in soql_rows(crm, ctx.scope, "SELECT Id, Opportunity__c FROM pse__Proj__c WHERE Opportunity__c != null")
    }
    findings = []
    for deal in deals:
        deal_id = str(deal.get("id"))
        if deal_id in with_project:
            continue
        # CloseDate is a date; the stage change's time is the last modification (never earlier than the close).
        closed = epoch(deal.get("lastmodifieddate"), field="Opportunity LastModifiedDate", system=crm.system)
        age = ctx.now - closed
        if age <= after:
            continue
        findings.append(
            Finding(
                kind="deal_without_project",
                object_type="deal",
                object_id=deal_id,
                system="crm",
                age_seconds=age,
                amount=money(deal.get("amount")),
                currency=str(deal.get("currencyisocode") or ""),
                detail={"account_id": deal.get("accountid"), "close_date": deal.get("closedate")},
            )
        )
    return findings
