"""ERP, NetSuite-like: POST /services/rest/query/v1/suiteql?limit=&offset= with {"q": "SELECT ..."}.

Tables: job (projects), timebill (posted time), invoice, accountingperiod, ratecard. At most 1,000 rows a page
and 100,000 rows a query; the account's concurrency cap answers 429 SSS_REQUEST_LIMIT_EXCEEDED.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from simulator.apis import querylang
from simulator.apis.auth import read_form
from simulator.apis.context import ApiContext
from simulator.calendar import DAY, iso_date, iso_time, month_period, to_date

__all__ = ["TABLES", "router"]

MAX_PAGE = 1000
MAX_ROWS = 100_000
TABLES = {
    "job": (
        "id",
        "entityid",
        "companyname",
        "customer",
        "currency",
        "billingtype",
        "status",
        "subsidiary",
        "lastmodifieddate",
    ),
    "timebill": (
        "id",
        "externalid",
        "employee",
        "job",
        "trandate",
        "hours",
        "amount",
        "currency",
        "subsidiary",
        "isreversed",
        "createddate",
    ),
    "invoice": (
        "id",
        "tranid",
        "externalid",
        "job",
        "amount",
        "currency",
        "trandate",
        "status",
        "subsidiary",
    ),
    "accountingperiod": ("periodname", "subsidiary", "closed"),
    "ratecard": ("id", "customer", "subsidiary", "currency", "startdate", "enddate", "lastmodifieddate"),
}


def _rows(ctx: ApiContext, table: str) -> Iterator[dict[str, Any]]:
    firm = ctx.sim.firm
    if table == "job":
        for p in firm.projects.values():
            if p.erp_created_at is None or p.erp_created_at > ctx.sim.now:
                continue
            yield {
                "id": p.erp_id,
                "entityid": p.erp_code,
                "companyname": p.name,
                "customer": p.erp_customer_id,
                "currency": p.erp_currency,
                "billingtype": p.erp_billing_type,
                "status": p.erp_status,
                "subsidiary": p.tenant,
                "lastmodifieddate": iso_time(p.erp_updated_at),
            }
    elif table == "timebill":
        for j in firm.postings:
            yield {
                "id": j.document_id,
                "externalid": j.entry_id,
                "employee": j.consultant_id,
                "job": j.project_code,
                "trandate": iso_date(j.work_date),
                "hours": j.hours,
                "amount": j.amount,
                "currency": j.currency,
                "subsidiary": j.tenant,
                "isreversed": "T" if j.reversed else "F",
                "createddate": iso_time(j.posted_at),
            }
    elif table == "invoice":
        for inv in firm.invoices.values():
            if inv.posted_at is None:
                continue
            yield {
                "id": inv.erp_number,
                "tranid": inv.erp_number,
                "externalid": inv.id,
                "job": inv.project_code,
                "amount": inv.amount,
                "currency": inv.currency,
                "trandate": iso_date(inv.posted_at),
                "status": "open",
                "subsidiary": inv.tenant,
            }
    elif table == "accountingperiod":
        now = ctx.sim.now
        tenants = sorted({c.tenant for c in firm.consultants.values()})
        periods = sorted({month_period(to_date(now - d * DAY)) for d in range(0, 120, 10)})
        for tenant in tenants:
            for period in periods:
                closed = (tenant, period) in firm.closed_periods
                yield {"periodname": period, "subsidiary": tenant, "closed": "T" if closed else "F"}
    elif table == "ratecard":
        for card in firm.rate_cards.values():
            yield {
                "id": card.id,
                "customer": card.customer_id or None,
                "subsidiary": card.tenant,
                "currency": card.currency,
                "startdate": iso_date(card.start),
                "enddate": iso_date(card.end),
                "lastmodifieddate": iso_time(card.updated_at),
            }


def router(ctx: ApiContext) -> APIRouter:
    api = APIRouter()

    @api.post("/services/rest/auth/oauth2/v1/token")
    async def token(request: Request) -> dict[str, object]:
        form = await read_form(request)
        return ctx.tokens.issue("erp", form.get("client_id"), form.get("client_secret"), form.get("grant_type"))

    @api.post("/services/rest/query/v1/suiteql")
    async def suiteql(request: Request, limit: int = 1000, offset: int = 0) -> dict[str, Any]:
        ctx.tokens.require_bearer(request, "erp")
        if request.headers.get("prefer", "").lower() != "transient":
            raise HTTPException(400, {"o:errorCode": "INVALID_HEADER", "title": "Prefer: transient is required"})
        ctx.erp_available()
        if not 1 <= limit <= MAX_PAGE or offset < 0:
            raise HTTPException(400, {"o:errorCode": "INVALID_PARAMETER", "title": f"limit must be 1..{MAX_PAGE}"})
        if offset + limit > MAX_ROWS:
            raise HTTPException(400, {"o:errorCode": "INVALID_PARAMETER", "title": f"at most {MAX_ROWS} rows"})
        body = await request.json()
        text = body.get("q") if isinstance(body, dict) else None
        if not isinstance(text, str):
            raise HTTPException(400, {"o:errorCode": "INVALID_PARAMETER", "title": 'body must be {"q": "SELECT ..."}'})
        with ctx.limits.netsuite.slot():
            await ctx.service_time()
            return await run_in_threadpool(
                _query, ctx, text, limit, offset, str(request.url.remove_query_params(["limit", "offset"]))
            )

    return api


def _query(ctx: ApiContext, text: str, limit: int, offset: int, base_url: str) -> dict[str, Any]:
    try:
        query = querylang.parse(text)
        if query.table not in TABLES:
            raise querylang.QueryError(f"unknown table {query.table!r}; known: {', '.join(TABLES)}")
        with ctx.sim.lock:
            result = querylang.run(query, _rows(ctx, query.table), TABLES[query.table])
            if isinstance(result, int):
                rows = [{"count": result}]
            else:
                rows = list(result)
    except querylang.QueryError as exc:
        raise HTTPException(400, {"o:errorCode": "INVALID_SEARCH", "title": str(exc)}) from exc
    total = min(len(rows), MAX_ROWS)
    page = rows[offset : min(offset + limit, total)]
    has_more = offset + len(page) < total
    links = [{"rel": "self", "href": f"{base_url}?limit={limit}&offset={offset}"}]
    if has_more:
        links.append({"rel": "next", "href": f"{base_url}?limit={limit}&offset={offset + limit}"})
    return {
        "links": links,
        "count": len(page),
        "hasMore": has_more,
        "offset": offset,
        "totalResults": total,
        "items": [{"links": [], **row} for row in page],
    }
