"""CRM/PSA, Salesforce-like: GET /services/data/v61.0/query?q=SELECT ... with nextRecordsUrl paging (2,000 a
batch), a rolling daily allocation reported in Sforce-Limit-Info, and an OAuth2 token endpoint.

Objects: Opportunity (closed-won deals), Account, pse__Proj__c (projects as CRM holds them).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool

from simulator.apis import querylang
from simulator.apis.auth import read_form
from simulator.apis.context import ApiContext
from simulator.calendar import iso_date, iso_time
from simulator.model import ENTITIES

__all__ = ["API_VERSION", "OBJECTS", "router"]

API_VERSION = "v61.0"
BATCH = 2000
OBJECTS = {
    "opportunity": (
        "id",
        "accountid",
        "amount",
        "currencyisocode",
        "closedate",
        "stagename",
        "project_code__c",
        "lastmodifieddate",
    ),
    "account": ("id", "name", "currencyisocode"),
    "pse__proj__c": (
        "id",
        "name",
        "project_code__c",
        "pse__stage__c",
        "pse__account__c",
        "currencyisocode",
        "billing_type__c",
        "opportunity__c",
        "lastmodifieddate",
    ),
}
_TYPE_NAMES = {"opportunity": "Opportunity", "account": "Account", "pse__proj__c": "pse__Proj__c"}


def _rows(ctx: ApiContext, table: str) -> Iterator[dict[str, Any]]:
    firm = ctx.sim.firm
    if table == "opportunity":
        for d in firm.deals.values():
            yield {
                "id": d.opportunity_id,
                "accountid": d.account_id,
                "amount": d.amount,
                "currencyisocode": d.currency,
                "closedate": iso_date(d.closed_at),
                "stagename": "Closed Won",
                "project_code__c": firm.projects[d.project_code].crm_code if d.project_code else None,
                "lastmodifieddate": iso_time(d.closed_at),
            }
    elif table == "account":
        currency = {e.tenant: e.currency for e in ENTITIES}
        for c in firm.customers.values():
            yield {"id": c.id, "name": c.name, "currencyisocode": currency[c.tenant]}
    elif table == "pse__proj__c":
        for p in firm.projects.values():
            if p.psa_created_at is None or p.psa_created_at > ctx.sim.now:
                continue
            yield {
                "id": p.psa_id,
                "name": p.name,
                "project_code__c": p.crm_code,
                "pse__stage__c": p.crm_status,
                "pse__account__c": p.customer_id,
                "currencyisocode": p.currency,
                "billing_type__c": p.billing_type,
                "opportunity__c": p.opportunity_id,
                "lastmodifieddate": iso_time(p.updated_at),
            }


def _attributes(table: str, row: dict[str, Any]) -> dict[str, Any]:
    name = _TYPE_NAMES[table]
    return {"attributes": {"type": name, "url": f"/services/data/{API_VERSION}/sobjects/{name}/{row.get('id')}"}}


def router(ctx: ApiContext) -> APIRouter:
    api = APIRouter()
    cursors: dict[str, tuple[str, list[dict[str, Any]]]] = {}

    @api.post("/services/oauth2/token")
    async def token(request: Request) -> dict[str, object]:
        form = await read_form(request)
        issued = ctx.tokens.issue("crm", form.get("client_id"), form.get("client_secret"), form.get("grant_type"))
        return {**issued, "instance_url": "", "token_type": "Bearer"}

    def _guard(request: Request, response: Response) -> None:
        ctx.tokens.require_bearer(request, "crm")
        response.headers["Sforce-Limit-Info"] = ctx.limits.salesforce_daily.use()

    @api.get(f"/services/data/{API_VERSION}/query")
    async def query(request: Request, response: Response, q: str) -> dict[str, Any]:
        _guard(request, response)
        with ctx.limits.salesforce.slot():
            await ctx.service_time()
            return await run_in_threadpool(_first_page, q)

    @api.get(f"/services/data/{API_VERSION}/query/{{locator}}")
    async def more(request: Request, response: Response, locator: str) -> dict[str, Any]:
        _guard(request, response)
        cursor, _, start = locator.rpartition("-")
        held = cursors.get(cursor)
        if held is None or not start.isdigit():
            raise HTTPException(400, [{"errorCode": "INVALID_QUERY_LOCATOR", "message": "invalid query locator"}])
        table, rows = held
        return _page(table, rows, int(start), cursor)

    def _first_page(text: str) -> dict[str, Any]:
        try:
            parsed = querylang.parse(text)
            if parsed.table not in OBJECTS:
                raise querylang.QueryError(f"sObject type '{parsed.table}' is not supported.")
            with ctx.sim.lock:
                result = querylang.run(parsed, _rows(ctx, parsed.table), OBJECTS[parsed.table])
                rows = result if isinstance(result, int) else list(result)
        except querylang.QueryError as exc:
            raise HTTPException(400, [{"errorCode": "MALFORMED_QUERY", "message": str(exc)}]) from exc
        if isinstance(rows, int):
            return {"totalSize": rows, "done": True, "records": []}
        cursor = secrets.token_hex(8)
        if len(rows) > ctx.limits.cfg.soql_batch:
            cursors[cursor] = (parsed.table, rows)
        return _page(parsed.table, rows, 0, cursor)

    def _page(table: str, rows: list[dict[str, Any]], start: int, cursor: str) -> dict[str, Any]:
        batch = ctx.limits.cfg.soql_batch
        page = rows[start : start + batch]
        done = start + batch >= len(rows)
        body: dict[str, Any] = {
            "totalSize": len(rows),
            "done": done,
            "records": [{**_attributes(table, r), **r} for r in page],
        }
        if not done:
            body["nextRecordsUrl"] = f"/services/data/{API_VERSION}/query/{cursor}-{start + batch}"
        else:
            cursors.pop(cursor, None)
        return body

    return api
