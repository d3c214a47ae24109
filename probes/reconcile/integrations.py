"""Integration runtime: the middleware's own status of each integration it runs. A stopped one is a finding at once.

A stopped connector, a disabled sync schedule or a replay job that fails to start leave records waiting, and the
waiting shows only after the hop's normal delay (an hourly sync, a replay hours later, a connector's p99 pickup):
catching it from the records takes from half an hour to many hours. The platform knows at once that the process is
not running, and one call every 30 s asks it. A hung process that still reports "running" is not seen here; the
records it leaves behind are (time_posting_pickup, flow silence, worker and dead-letter findings).
Option `ignore`: names of integrations stopped on purpose (a decommissioned flow), not reported. A process in a
transitional status (starting, deploying, restarting: a deployment) is a finding only once it has been in it for
`transitional_grace_seconds` (default 300), so a release does not page.
"""

from __future__ import annotations

from probes.errors import BadResponse
from probes.interfaces import ProbeContext
from probes.model import Finding
from probes.reconcile.common import epoch

__all__ = ["TRANSITIONAL", "check_integrations"]

TRANSITIONAL = frozenset({"starting", "deploying", "restarting"})


def check_integrations(ctx: ProbeContext) -> list[Finding]:
    mw = ctx.client("middleware")
    body = mw.get_json(ctx.scope, "/api/v1/integrations")
    if not isinstance(body, dict) or not isinstance(body.get("integrations"), list):
        raise BadResponse("integration list lacks integrations", system=mw.system)
    ignored = set(ctx.options.get("ignore") or ())
    grace = float(ctx.options.get("transitional_grace_seconds", 300))
    findings = []
    for item in body["integrations"]:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise BadResponse("integration without a name", system=mw.system)
        status = str(item.get("status") or "")
        if not status:
            raise BadResponse(f"integration {item['name']} has no status", system=mw.system)
        if status == "running" or item["name"] in ignored:
            continue
        since = epoch(item.get("status_since"), field="status_since", system=mw.system)
        if status.lower() in TRANSITIONAL and ctx.now - since < grace:
            continue
        findings.append(
            Finding(
                kind="integration_stopped",
                object_type="integration",
                object_id=item["name"],
                system="middleware",
                age_seconds=max(0.0, ctx.now - since),
                detail={
                    "flow": item["name"],
                    "status": status,
                    "status_reason": item.get("status_reason"),
                    "source_system": item.get("source_system"),
                    "target_system": item.get("target_system"),
                    "last_execution_at": item.get("last_execution_at"),
                },
            )
        )
    return findings
