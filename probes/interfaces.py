"""The stage's interfaces in one place: what a probe is, and what it is handed when it runs."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from probes.errors import ConfigError
from probes.model import Finding
from probes.transport import CallScope, SystemClient

__all__ = ["Probe", "ProbeContext"]


@dataclass
class ProbeContext:
    """Everything one run may use: the systems' clients, the run's call scope (deadline, call counts), the time
    the run treats as now (epoch seconds), the probe's options from the config file, and a state mapping the
    probe keeps between its runs in this process (e.g. an incremental scan's watermark)."""

    clients: Mapping[str, SystemClient]
    scope: CallScope
    now: float
    options: Mapping[str, Any]
    state: MutableMapping[str, Any] = field(default_factory=dict)

    def client(self, system: str) -> SystemClient:
        try:
            return self.clients[system]
        except KeyError:
            raise ConfigError(f"system {system!r} is not configured", system=system) from None

    def check_deadline(self, what: str = "") -> None:
        self.scope.deadline.check(what)


class Probe(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def systems(self) -> Sequence[str]:
        """The systems it reads: the first files its runs, every one is budgeted."""
        ...

    @property
    def interval_seconds(self) -> float: ...

    @property
    def timeout_seconds(self) -> float: ...

    @property
    def cost(self) -> Mapping[str, int]:
        """Declared calls per run, per system, checked against the budget before a run starts."""
        ...

    @property
    def description(self) -> str: ...

    def run(self, ctx: ProbeContext) -> list[Finding]:
        """Findings (possibly none); raise from the error tree when the answer cannot be trusted."""
        ...
