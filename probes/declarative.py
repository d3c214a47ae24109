"""A REST/JSON probe defined in the config file, so a firm can watch a system without writing code:

    probes:
      - name: stuck_exports
        system: billing_api            # a system from the same file (base URL, auth, budget)
        path: /api/exports
        params: {state: stuck}
        paging: {style: page, items: "$.data[*]", total: "$.meta.total", size: 100,
                 size_param: per_page, position_param: page}
        key: "$.id"                    # the record key of each item
        finding: {kind: export_stuck, object_type: export, age_from: "$.created_at",
                  amount: "$.value", currency: "$.currency", tenant: "$.entity"}
        when: {path: "$.retries", op: ">=", value: 3}   # optional: only items matching become findings
        interval_seconds: 300
        timeout_seconds: 60
        cost: 5

Every item (that matches `when`) is a finding; none is ok. An answer the paths cannot read is failed, not ok.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from probes.adapters import Paging, paged_items
from probes.errors import BadResponse, ConfigError
from probes.interfaces import ProbeContext
from probes.jsonpath import compile_path, first
from probes.model import Finding
from probes.reconcile.common import epoch, money

__all__ = ["DeclarativeProbe", "FindingTemplate", "Condition"]

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


@dataclass(frozen=True)
class Condition:
    path: str
    op: str
    value: Any

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ConfigError(f"condition op {self.op!r}: expected one of {' '.join(_OPS)}")

    def holds(self, item: Any) -> bool:
        have = first(self.path, item)
        if have is None:
            return False
        try:
            return _OPS[self.op](have, self.value)
        except TypeError:
            return False


_TEMPLATE_PATHS = ("age_from", "amount", "currency", "tenant", "project_code", "consultant_id")


@dataclass(frozen=True)
class FindingTemplate:
    kind: str
    object_type: str
    age_from: str | None = None
    amount: str | None = None
    currency: str | None = None
    tenant: str | None = None
    project_code: str | None = None
    consultant_id: str | None = None


@dataclass(frozen=True)
class DeclarativeProbe:
    name: str
    system: str
    path: str
    key: str
    finding: FindingTemplate
    paging: Paging = field(default_factory=Paging)
    params: Mapping[str, Any] = field(default_factory=dict)
    method: str = "GET"
    body: Any = None
    when: Condition | None = None
    interval_seconds: float = 300
    timeout_seconds: float = 60
    cost_calls: int = 5
    description: str = "declared in the probes file"

    def __post_init__(self) -> None:
        for where, path in self._paths():
            try:
                compile_path(path)
            except ConfigError as exc:
                raise ConfigError(f"probe {self.name}: {where}: {exc}") from exc
        if self.method not in ("GET", "POST"):
            raise ConfigError(f"probe {self.name}: method must be GET or POST")

    def _paths(self) -> list[tuple[str, str]]:
        """Every JSON path of the probe with the config field it came from, checked when the probe is loaded."""
        found = [("key", self.key)]
        found += [(f"finding.{name}", getattr(self.finding, name) or "") for name in _TEMPLATE_PATHS]
        found += [("when.path", self.when.path)] if self.when is not None else []
        return [(where, path) for where, path in found if path]

    @property
    def systems(self) -> Sequence[str]:
        return (self.system,)

    @property
    def cost(self) -> Mapping[str, int]:
        return {self.system: self.cost_calls}

    @property
    def kinds(self) -> Sequence[str]:
        return (self.finding.kind,)

    def run(self, ctx: ProbeContext) -> list[Finding]:
        client = ctx.client(self.system)
        findings = []
        for item in paged_items(client, ctx.scope, self.path, self.paging, self.params, self.method, self.body):
            if self.when is not None and not self.when.holds(item):
                continue
            key = first(self.key, item)
            if key is None or isinstance(key, dict | list):
                raise BadResponse(f"{self.path}: item without a scalar key at {self.key}", system=client.system)
            t = self.finding
            age = 0.0
            if t.age_from:
                since = first(t.age_from, item)
                if since is not None:
                    age = max(0.0, ctx.now - epoch(since, field=t.age_from, system=client.system))
            findings.append(
                Finding(
                    kind=t.kind,
                    object_type=t.object_type,
                    object_id=str(key),
                    system=self.system,
                    tenant_id=_text(t.tenant, item),
                    project_code=_text(t.project_code, item),
                    consultant_id=_text(t.consultant_id, item),
                    age_seconds=age,
                    amount=money(first(t.amount, item)) if t.amount else None,
                    currency=_text(t.currency, item),
                    detail={"item": item} if _small(item) else {},
                )
            )
        return findings


def _text(path: str | None, item: Any) -> str:
    if not path:
        return ""
    value = first(path, item)
    return "" if value is None else str(value)


def _small(item: Any) -> bool:
    return len(repr(item)) <= 2000
