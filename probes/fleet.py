"""The probes of one process: the systems' clients (one per system, shared, budgeted and instrumented) and the
probes that run against them, built from the probes file."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from opentelemetry.sdk.trace import TracerProvider

from probes.budget import SystemBudget
from probes.config import ProbesFile
from probes.errors import ConfigError
from probes.interfaces import Probe
from probes.model import ProbeRun
from probes.runner import run_probe
from probes.tracing import instrument
from probes.transport import RetryPolicy, SystemClient

__all__ = ["ProbeFleet"]


class ProbeFleet:
    def __init__(
        self,
        config: ProbesFile,
        *,
        tracer_provider: TracerProvider | None = None,
        now: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> None:
        self.config = config
        self.cancelled = cancelled
        self.tracer_provider = tracer_provider
        self.now = now
        self.clients: dict[str, SystemClient] = {}
        for name, system in config.systems.items():
            http = httpx.Client(base_url=system.base_url, transport=transport, follow_redirects=False)
            if tracer_provider is not None:
                instrument(http, name, tracer_provider)
            self.clients[name] = SystemClient(
                name,
                http,
                SystemBudget(name, system.limits(name)),
                system.auth.build(name),
                retry=RetryPolicy(max_retries=system.max_retries),
                request_timeout_s=system.request_timeout_seconds,
                options=system.options,
            )
        builtins, self.skipped = config.builtin_probes()
        self.probes: dict[str, Probe] = {p.name: p for p in builtins}
        for probe in config.declarative_probes():
            self.probes[probe.name] = probe
        self.last_runs: dict[str, ProbeRun] = {}
        # Probes that have had an answer, here or (seeded from the warehouse) before a restart: only for these does
        # a refused connection mean an outage.
        self.answered: set[str] = set()
        self.states: dict[str, dict[str, Any]] = {name: {} for name in self.probes}  # kept between runs
        self._lock = threading.Lock()

    def probe(self, name: str) -> Probe:
        try:
            return self.probes[name]
        except KeyError:
            why = self.skipped.get(name)
            raise ConfigError(f"probe {name!r} " + (f"does not run: {why}" if why else "is not defined")) from None

    def run(self, name: str) -> ProbeRun:
        probe = self.probe(name)
        tracer = self.tracer_provider.get_tracer("syncwatch.probes") if self.tracer_provider else None
        result = run_probe(
            probe,
            self.clients,
            tracer=tracer,
            now=self.now,
            state=self.states.setdefault(name, {}),
            cancelled=self.cancelled,
            answered_before=name in self.answered,
        )
        with self._lock:
            self.last_runs[name] = result
            if result.outcome.healthy_answer:
                self.answered.add(name)
        return result

    def budgets(self) -> Mapping[str, SystemBudget]:
        return {name: c.budget for name, c in self.clients.items()}

    def describe(self, name: str) -> dict[str, Any]:
        probe = self.probes[name]
        return {
            "name": name,
            "system": probe.systems[0],
            "systems": list(probe.systems),
            "interval_seconds": probe.interval_seconds,
            "timeout_seconds": probe.timeout_seconds,
            "cost": dict(probe.cost),
            "description": probe.description,
        }

    def close(self) -> None:
        for client in self.clients.values():
            client.close()
        if self.tracer_provider is not None:
            self.tracer_provider.force_flush()
