"""The alerts stage inside the collector process: evaluation and dispatch jobs, API routes, metrics."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from alerts.api import build_router
from alerts.config import AlertsConfig, load_config
from alerts.dispatch import ClaimFn, Dispatcher
from alerts.engine import AlertEngine
from alerts.notifiers import build_notifier
from alerts.notifiers.alertmanager import alertmanager_valid_for
from alerts.notifiers.base import Notifier
from alerts.store import AlertStore
from alerts.telemetry import register
from alerts.warehouse_signals import WarehouseSignals
from cases.routing import policy_for
from syncwatch.settings import Settings

if TYPE_CHECKING:
    from syncwatch.host import Host

__all__ = ["AlertsComponent", "build_engine", "settings_integrations"]

log = logging.getLogger("syncwatch.alerts")
T = TypeVar("T")


def settings_integrations(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    """Integrations added to the root receiver from settings (a quick start without editing YAML)."""
    extra: list[dict[str, Any]] = []
    if settings.alerts_webhook_url:
        extra.append({"type": "webhook", "url": settings.alerts_webhook_url})
    if settings.alerts_alertmanager_url:
        extra.append({"type": "alertmanager", "url": settings.alerts_alertmanager_url})
    return {"default": extra} if extra else {}


def build_engine(
    settings: Settings,
    config: AlertsConfig,
    source: Any,
    store: AlertStore | None,
    http: httpx.Client,
    log_store: AlertStore | None = None,
    claim: ClaimFn | None = None,
) -> AlertEngine:
    resend = settings.alerts_alertmanager_resend_delay_seconds
    valid_for = alertmanager_valid_for(settings.alerts_evaluation_interval_seconds, resend)
    notifiers: dict[str, list[tuple[str, Notifier]]] = {}
    for name, receiver in config.receivers.items():
        notifiers[name] = [
            (
                f"{spec.type}#{i}",
                build_notifier(spec, http, alertmanager_valid_for=valid_for, alertmanager_resend=resend),
            )
            for i, spec in enumerate(receiver.integrations)
        ]
    external = settings.alerts_external_url or f"http://{settings.host}:{settings.port}"
    attempts = settings.alerts_notify_attempts

    def send(notifier: Notifier, message: Any) -> Any:
        from alerts.notifiers.base import deliver

        return deliver(notifier, message, attempts=attempts)

    target = log_store or store
    dispatcher = Dispatcher(
        config,
        notifiers,
        external_url=external,
        log_delivery=target.log_notification if target else None,
        send=send,
        claim=claim,
    )
    return AlertEngine(config, source, store, dispatcher)


class AlertsComponent:
    name = "alerts"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine: AlertEngine | None = None
        self.config: AlertsConfig | None = None
        self.router = build_router(self)
        self._service: Host | None = None
        self._api_store: AlertStore | None = None
        self._api_lock = threading.Lock()
        self._http: httpx.Client | None = None
        # The interval job and the runs asked for by new signals never evaluate at the same time (one store).
        self._evaluating = threading.Lock()

    def start(self, service: Host) -> None:
        settings = self.settings
        # An invalid file stops the start-up with a message naming rule and field: better than silent alerting.
        self.config = load_config(settings.alerts_config_file, extra_integrations=settings_integrations(settings))
        self._service = service
        self._http = httpx.Client(timeout=httpx.Timeout(5.0, connect=3.0))
        evaluation_client = service.connect()
        engine = build_engine(
            settings,
            self.config,
            # the exception queue's SLA standing counts business time on the routing file's calendars
            WarehouseSignals(evaluation_client, calendar_of=policy_for(settings).calendar),
            AlertStore(evaluation_client),
            self._http,
            log_store=AlertStore(service.connect()),
            # with a server warehouse, several workers may overlap for a moment: the first to claim a page sends it
            claim=service.lease.claim if service.lease is not None else None,
        )
        engine.start()
        self.engine = engine
        register(service.registry, engine)
        now = datetime.now(UTC)
        service.scheduler.add_job(
            self._evaluate,
            "interval",
            seconds=settings.alerts_evaluation_interval_seconds,
            id="alerts-evaluate",
            next_run_time=now,
        )
        service.on_new_signals(self._evaluate_soon)
        if service.lease is not None:
            service.lease.on_acquire(self._resume)
        service.scheduler.add_job(
            engine.dispatch, "interval", seconds=1, id="alerts-dispatch", next_run_time=now + timedelta(seconds=1)
        )
        log.info(
            "alerts: %d rules from %s, evaluated every %gs",
            len(self.config.rules),
            self.config.source,
            settings.alerts_evaluation_interval_seconds,
        )

    def _evaluate(self) -> None:
        assert self.engine is not None
        with self._evaluating:
            self.engine.evaluate()

    def _resume(self, token: int) -> None:
        """This worker took the lease over: carry on from the alert states and deliveries the last holder stored,
        not from what this process remembered when it last acted."""
        if self.engine is not None:
            with self._evaluating:
                self.engine.start()

    def _evaluate_soon(self) -> None:
        """New signals are stored: evaluate now instead of at the next interval. Requests arriving while one is
        queued are one run (the job is replaced), and a run waits for one in progress rather than being skipped."""
        if self._service is None or not self._service.scheduler.running:
            return
        self._service.scheduler.add_job(self._evaluate, id="alerts-evaluate-now", replace_existing=True)

    def stop(self) -> None:
        if self._http is not None:
            self._http.close()

    def with_store(self, fn: Callable[[AlertStore], T]) -> T:
        """Run `fn` on the API's own warehouse client (queries on one client serialise, hence the lock)."""
        if self._service is None:
            raise RuntimeError("alerts component not started")
        with self._api_lock:
            if self._api_store is None:
                self._api_store = AlertStore(self._service.connect())
            return fn(self._api_store)
