"""Runs one probe once and turns whatever happened into a ProbeRun: the outcome is a value, and the scheduler
thread that called it never sees an exception."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode, Tracer

from probes.budget import Deadline
from probes.errors import BudgetExhausted, ConfigError, DeadlineExceeded, TargetError, Throttled, Unreachable
from probes.interfaces import Probe, ProbeContext
from probes.model import Finding, Outcome, ProbeRun
from probes.tracing import CURRENT_PROBE
from probes.transport import CallScope, SystemClient

__all__ = ["run_probe"]

log = logging.getLogger("syncwatch.probes")


def run_probe(
    probe: Probe,
    clients: Mapping[str, SystemClient],
    *,
    tracer: Tracer | None = None,
    now: Callable[[], float] = time.time,
    state: MutableMapping[str, Any] | None = None,
    cancelled: Callable[[], bool] | None = None,
    answered_before: bool = True,
) -> ProbeRun:
    """answered_before: the probe has had an answer (a run ending ok or mismatch) at some time; without one, no
    connection at all is `unreached` (not set up yet) rather than `failed` (an outage of something that worked)."""
    tracer = tracer or trace.NoOpTracer()
    started = now()
    t0 = time.perf_counter()
    scope = CallScope(Deadline(probe.timeout_seconds, cancelled=cancelled))
    findings: list[Finding] = []
    error = ""
    with tracer.start_as_current_span(f"probe {probe.name}", attributes={"syncwatch.probe": probe.name}) as span:
        ctx_ids = span.get_span_context()
        run_id = format(ctx_ids.trace_id, "032x") if ctx_ids.is_valid else uuid.uuid4().hex
        token = CURRENT_PROBE.set(probe.name)
        try:
            _check_budgets(probe, clients)
            options: Mapping[str, Any] = getattr(probe, "options", {}) or {}
            findings = probe.run(ProbeContext(clients, scope, started, options, {} if state is None else state))
            outcome = Outcome.MISMATCH if findings else Outcome.OK
        except Throttled as exc:
            outcome, error = Outcome.THROTTLED, str(exc)
        except DeadlineExceeded as exc:
            outcome, error = Outcome.TIMEOUT, str(exc)
        except Unreachable as exc:
            outcome, error = (Outcome.FAILED if answered_before else Outcome.UNREACHED), str(exc)
        except TargetError as exc:
            outcome, error = Outcome.FAILED, str(exc)
        except ConfigError as exc:
            outcome, error = Outcome.UNKNOWN, str(exc)
        except Exception as exc:  # a bug in a probe must not look like a healthy estate, nor kill the scheduler
            log.exception("probe %s raised", probe.name)
            outcome, error = Outcome.FAILED, f"internal error: {type(exc).__name__}: {exc}"
        finally:
            CURRENT_PROBE.reset(token)
        span.set_attribute("syncwatch.probe.outcome", outcome.value)
        span.set_attribute("syncwatch.probe.findings", len(findings))
        span.set_attribute("syncwatch.probe.api_calls", scope.total_calls)
        if not outcome.healthy_answer:
            span.set_status(Status(StatusCode.ERROR, error[:500]))
    duration_ms = (time.perf_counter() - t0) * 1000
    if outcome.healthy_answer:
        log.info(
            "probe %s: %s, %d findings, %d calls, %.0f ms",
            probe.name,
            outcome,
            len(findings),
            scope.total_calls,
            duration_ms,
        )
    else:
        log.warning("probe %s: %s after %d calls: %s", probe.name, outcome, scope.total_calls, error)
    return ProbeRun(
        run_id=run_id,
        probe=probe.name,
        system=probe.systems[0],
        started_at=started,
        outcome=outcome,
        duration_ms=duration_ms,
        api_calls=scope.total_calls,
        error=error,
        findings=tuple(findings),
        calls_by_system=dict(scope.calls),
    )


def _check_budgets(probe: Probe, clients: Mapping[str, SystemClient]) -> None:
    """A run that cannot finish within the hour's budget does not start (half a reconciliation is no answer)."""
    for system in probe.systems:
        client = clients.get(system)
        if client is None:
            raise ConfigError(f"system {system!r} is not configured", system=system)
        need = probe.cost.get(system, 1)
        left = client.budget.remaining()
        if left < need:
            raise BudgetExhausted(
                f"{left} calls left this hour, the probe declares {need}; skipped until the budget refills",
                system=system,
            )
