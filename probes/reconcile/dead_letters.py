"""Dead-letter queues: every message not replayed, with its age; the queues' own depth is cross-checked."""

from __future__ import annotations

from probes.adapters import Paging, paged_items
from probes.errors import BadResponse
from probes.interfaces import ProbeContext
from probes.model import Finding
from probes.reconcile.common import epoch

__all__ = ["check_dead_letters"]

PENDING = Paging(
    style="page", items_path="$.items[*]", total_path="$.total", size=500, size_param="page_size", position_param="page"
)


def check_dead_letters(ctx: ProbeContext) -> list[Finding]:
    mw = ctx.client("middleware")
    queues = mw.get_json(ctx.scope, "/api/v1/queues")
    if not isinstance(queues, dict) or not isinstance(queues.get("queues"), list):
        raise BadResponse("queue list lacks queues", system=mw.system)
    depth = {str(q.get("name")): int(q.get("depth") or 0) for q in queues["queues"] if isinstance(q, dict)}
    findings = []
    for item in paged_items(mw, ctx.scope, "/api/v1/dead-letters", PENDING, {"status": "pending"}):
        if not isinstance(item, dict) or "message_id" not in item:
            raise BadResponse("dead letter without a message_id", system=mw.system)
        enqueued = epoch(item.get("enqueued_at"), field="enqueued_at", system=mw.system)
        queue = str(item.get("queue") or "")
        findings.append(
            Finding(
                kind="dead_letter_unreplayed",
                object_type="message",
                object_id=str(item["message_id"]),
                system="middleware",
                tenant_id=str(item.get("tenant") or ""),
                age_seconds=max(0.0, ctx.now - enqueued),
                detail={
                    "queue": queue,
                    "reason": item.get("reason"),
                    "attempt_count": item.get("attempt_count"),
                    "record_key": item.get("object_id"),
                    "original_event_id": item.get("original_event_id"),
                    "queue_depth": depth.get(queue),
                },
            )
        )
    return findings
