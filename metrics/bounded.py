"""Label values and breakdown keys that come from event data (queues, flows, error codes) are unbounded: one
sender naming a queue per message once turned /metrics into 40,000 series. Wherever such values become Prometheus
labels or keys of an API answer, the N of most impact are kept (SYNCWATCH_MAX_LABEL_VALUES) and the rest are
merged into one `other` entry, so totals stay whole. A value that is itself named "other" joins that entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from metrics.evaluate import SliResult

__all__ = ["OTHER", "bound_details", "keep_top", "result_rank", "worst_value"]

T = TypeVar("T")
OTHER = "other"
_STATUS_RANK = {"breach": 0, "warning": 1, "ok": 2, "no_data": 3}


def keep_top(items: Mapping[str, T], n: int, rank: Callable[[T], Any], merge: Callable[[list[T]], T]) -> dict[str, T]:
    """The n items ranked first (lowest `rank`, ties by key) plus `other` merging the rest; as is when they fit."""
    if len(items) <= n and OTHER not in items:
        return dict(items)
    ranked = sorted((key for key in items if key != OTHER), key=lambda key: (rank(items[key]), key))
    kept = {key: items[key] for key in ranked[:n]}
    rest = [items[key] for key in ranked[n:]] + ([items[OTHER]] if OTHER in items else [])
    if rest:
        kept[OTHER] = merge(rest)
    return kept


# -- detail maps keyed by data, one rule each: what ranks first, and how the rest add up --------------------------


def _queue_rank(q: dict[str, Any]) -> Any:
    return (-q["count"], -q["oldest_hours"])


def _merge_queues(queues: list[dict[str, Any]]) -> dict[str, Any]:
    return {"count": sum(q["count"] for q in queues), "oldest_hours": max(q["oldest_hours"] for q in queues),
            "queues": sum(q.get("queues", 1) for q in queues)}  # fmt: skip


def _flow_rank(f: dict[str, Any]) -> Any:
    since = f.get("seconds_since_last")
    return (not f.get("silent"), f.get("cadence_seconds") is None, -(since if since is not None else float("inf")))


def _merge_flows(flows: list[dict[str, Any]]) -> dict[str, Any]:
    seen = [f["seconds_since_last"] for f in flows if f.get("seconds_since_last") is not None]
    return {"seconds_since_last": max(seen) if seen else None, "cadence_seconds": None,
            "never_seen": all(f.get("never_seen") for f in flows), "silent": any(f.get("silent") for f in flows),
            "flows": sum(f.get("flows", 1) for f in flows)}  # fmt: skip


def _code_rank(c: dict[str, Any]) -> Any:
    return (-c["excess"], -c["entries"])


def _merge_codes(codes: list[dict[str, Any]]) -> dict[str, Any]:
    projects: list[str] = []
    for c in codes:
        projects += [p for p in c.get("projects", []) if p not in projects]
    return {"consultants": sum(c["consultants"] for c in codes), "entries": sum(c["entries"] for c in codes),
            "normal_consultants": round(sum(c["normal_consultants"] for c in codes), 3),
            "excess": sum(c["excess"] for c in codes), "projects": projects[:5],
            "codes": sum(c.get("codes", 1) for c in codes)}  # fmt: skip


_DETAIL_MAPS: dict[str, tuple[Callable[[dict[str, Any]], Any], Callable[[list[dict[str, Any]]], dict[str, Any]]]] = {
    "queues": (_queue_rank, _merge_queues),  # dead_letter_backlog
    "flows": (_flow_rank, _merge_flows),  # flow_silence
    "codes": (_code_rank, _merge_codes),  # time_posting_rejections
}


def bound_details(details: dict[str, Any], n: int) -> dict[str, Any]:
    """An SLI's details with each map keyed by data values cut to n entries plus `other`."""
    if not any(isinstance(details.get(name), dict) and len(details[name]) > n for name in _DETAIL_MAPS):
        return details
    out = dict(details)
    for name, (rank, merge) in _DETAIL_MAPS.items():
        if isinstance(out.get(name), dict):
            out[name] = keep_top(out[name], n, rank, merge)
    return out


# -- SLI results keyed by a breakdown value (per flow on /metrics, breakdown rows in the API) --------------------


def _badness(result: SliResult) -> float:
    if result.value is None:
        return float("-inf")
    return result.value if result.comparison == "<=" else -result.value


def result_rank(result: SliResult) -> Any:
    """Worst first: breaching, then warning; then the most bad events; then the value furthest on the bad side."""
    return (_STATUS_RANK.get(result.status, 4), -(result.total - result.good), -_badness(result))


def worst_value(results: list[SliResult]) -> SliResult:
    """The rest of a breakdown as one series: the worst of them, so an alert on `other` fires as it would on one."""
    return min(results, key=result_rank)
