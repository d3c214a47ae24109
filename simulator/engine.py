"""The discrete-event core: a clock, a heap of due actions, and the one place that turns a happening into a
CloudEvent plus the OpenTelemetry span it points at.

Every state change is an action run at its own sim time, and the event describing it is emitted by that same
action, so the system APIs (which read the state) never run ahead of or behind the event stream.
"""

from __future__ import annotations

import hashlib
import heapq
import random
import threading
from collections.abc import Callable
from typing import Any, Protocol

from simulator.calendar import DAY, day_start, iso_time
from simulator.faults import FaultSchedule
from simulator.model import Firm, build_firm
from simulator.styles import IntegrationStyle

__all__ = ["FLOWS", "Core", "Sink", "SpanRecord"]

# (trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, attributes, service, error)
SpanRecord = tuple[int, int, int, str, int, int, int, dict[str, Any], str, bool]

# Integration flows: name -> (source system, target system); the flow-silence SLI is per flow.
FLOWS: dict[str, tuple[str, str]] = {
    "crm-deals": ("crm", "psa"),
    "crm-to-psa-projects": ("crm", "psa"),
    "psa-to-erp-projects": ("psa", "erp"),
    "psa-rate-cards": ("psa", "erp"),
    "psa-to-erp-assignments": ("psa", "erp"),
    "hcm-workers": ("hcm", "psa"),
    "hcm-to-psa-workers": ("hcm", "psa"),
    "psa-timesheets": ("psa", "psa"),
    "psa-to-erp-time": ("psa", "erp"),
    "psa-to-erp-invoices": ("psa", "erp"),
    "exceptions": ("middleware", "middleware"),
}

_VENDORS = {"psa": "kantata", "erp": "netsuite", "crm": "salesforce", "hcm": "workday", "middleware": "boomi"}
# Real systems name their types differently; the collector canonicalises these.
_TYPE_STYLE: dict[str, Callable[[str], str]] = {
    "psa": lambda t: f"com.kantata.psa.{t}.v1",
    "erp": lambda t: f"com.netsuite.erp.{t}",
    "crm": lambda t: f"com.salesforce.crm.{t}.v2",
    "hcm": lambda t: f"com.workday.hcm.{t}",
    "middleware": lambda t: t,
}
_SPAN_KIND_INTERNAL, _SPAN_KIND_SERVER, _SPAN_KIND_CLIENT, _SPAN_KIND_PRODUCER, _SPAN_KIND_CONSUMER = 0, 1, 2, 3, 4
_KEY_ATTRS = (
    ("entry_id", "business.entry_id"), ("timesheet_id", "business.timesheet_id"),
    ("invoice_id", "business.invoice_id"), ("project_code", "business.project_code"),
    ("consultant_id", "business.consultant_id"), ("assignment_id", "business.assignment_id"),
    ("exception_id", "business.exception_id"), ("message_id", "business.message_id"),
)  # fmt: skip


class Sink(Protocol):
    def event(self, event: dict[str, Any]) -> None: ...
    def span(self, span: SpanRecord) -> None: ...


class Core:
    """Clock, heap, random streams and emission. The flow mixins add the business behaviour."""

    def __init__(
        self,
        consultants: int,
        seed: int,
        start: float,
        sink: Sink,
        faults: FaultSchedule | None = None,
        spans: bool = True,
        run_tag: str | None = None,
    ) -> None:
        self.seed = seed
        self.start = day_start(start)
        self.now = self.start
        self.sink = sink
        self.faults = faults or FaultSchedule()
        self.with_spans = spans
        self.firm: Firm = build_firm(consultants, seed, self.start)
        self.rng = random.Random(f"sim-{seed}")
        self._ids = random.Random(f"ids-{seed}")
        self._heap: list[tuple[float, int, Callable[..., None], tuple[Any, ...]]] = []
        self._seq = 0
        self._event_seq = 0
        self.tag = run_tag or hashlib.sha1(f"{seed}-{consultants}-{self.start}".encode()).hexdigest()[:10]
        self.lock = threading.RLock()  # held while actions run; the APIs read state under it
        self.events_emitted = 0
        self.last_event_at: dict[str, float] = {}  # flow -> sim time of its last event
        self._announce_at: dict[str, float] = {}  # project code -> when the PSA announces it (late master data)
        # Sim time -> the time written on events. Backfill: identity. Live: mapped onto the wall clock.
        self.stamp: Callable[[float], float] = lambda t: t
        # How the integrations shape their events (simulator/styles.py), and what the truth needs to know of it:
        # when the PSA first announced each project code, and (outcomes only) each entry's first outcome.
        self.style = IntegrationStyle()
        self.psa_announced: dict[str, float] = {}
        self.first_outcome_at: dict[str, float] = {}

    # -- scheduling -------------------------------------------------------------------------------------------
    def at(self, t: float, fn: Callable[..., None], *args: Any) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, fn, args))

    def next_due(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def run_until(self, t_end: float, max_actions: int | None = None) -> int:
        """Run every action due at or before t_end (in time order); returns how many ran."""
        heap = self._heap
        done = 0
        with self.lock:
            while heap and heap[0][0] <= t_end:
                t, _, fn, args = heapq.heappop(heap)
                if t > self.now:
                    self.now = t
                fn(*args)
                done += 1
                if max_actions is not None and done >= max_actions:
                    return done
            if t_end > self.now:
                self.now = t_end
        return done

    def pending(self) -> int:
        return len(self._heap)

    def take_scheduled(self, fn: Callable[..., None], first_arg: Any) -> tuple[Any, ...] | None:
        """Take the earliest scheduled call of fn whose first argument is first_arg off the schedule and return its
        arguments (to run it now instead), or None when none is scheduled."""
        heap = self._heap
        due = [i for i, (_, _, f, args) in enumerate(heap) if f == fn and args and args[0] == first_arg]
        if not due:
            return None
        index = min(due, key=lambda i: heap[i][:2])
        _, _, _, args = heap.pop(index)
        heapq.heapify(heap)
        return args

    # -- identity ---------------------------------------------------------------------------------------------
    def new_id(self, prefix: str) -> str:
        return f"{prefix}-{self.firm.next_id(prefix):08d}"

    def _event_id(self) -> str:
        self._event_seq += 1
        return f"{self.tag}-{self._event_seq:09x}"

    # -- emission ---------------------------------------------------------------------------------------------
    def emit(
        self,
        system: str,
        ctype: str,
        flow: str,
        tenant: str,
        subject: str,
        data: dict[str, Any],
        t: float,
        correlation: str,
        causation: str = "",
        parent: tuple[int, int] | None = None,
        error: bool = False,
        queue: str = "",
    ) -> tuple[str, int, int]:
        """Emit one event (and its span); returns (event id, trace id, span id) so later hops can link to it."""
        style = self.style
        if ctype.startswith("time_entry.post"):
            if style.outcome_only:
                if ctype == "time_entry.post_requested":  # the middleware reports outcomes only
                    return self._event_id(), self._ids.getrandbits(128) | 1, self._ids.getrandbits(64) | 1
                self.first_outcome_at.setdefault(data["entry_id"], t)
        elif system == "psa" and ctype.startswith("project."):
            code = data["project_code"]
            if style.project_never_announced(code):
                return self._event_id(), self._ids.getrandbits(128) | 1, self._ids.getrandbits(64) | 1
            late = style.late_master_data_days * DAY
            if late and code not in self.psa_announced and t > self.start:
                # A new project reaches the PSA's event stream days after it was created: every event of it until
                # then is sent at that moment, in order (the heap keeps insertion order at equal times).
                at = self._announce_at.setdefault(code, t + late)
                if t < at:
                    self.at(at, self.emit, system, ctype, flow, tenant, subject, data, at, correlation, causation)
                    return self._event_id(), self._ids.getrandbits(128) | 1, self._ids.getrandbits(64) | 1
            self.psa_announced.setdefault(code, t)
        ids = self._ids
        if parent is None:
            trace_id, parent_span = ids.getrandbits(128) | 1, 0
        else:
            trace_id, parent_span = parent
        span_id = ids.getrandbits(64) | 1
        event_id = self._event_id()
        source_system, target_system = FLOWS[flow]
        stamped = self.stamp(t)
        event = {
            "specversion": "1.0",
            "id": event_id,
            "source": self._source(system, tenant, flow),
            "type": _TYPE_STYLE[system](ctype),
            "subject": subject,
            "time": iso_time(stamped),
            "datacontenttype": "application/json",
            "correlationid": correlation,
            "traceparent": f"00-{trace_id:032x}-{span_id:016x}-01",
            "tenantid": tenant,
            "sourcesystem": source_system,
            "targetsystem": target_system,
            "data": data,
        }
        if causation:
            event["causationid"] = causation
        if style.missing_extensions and system != "middleware":  # the systems' own events carry no systems
            del event["sourcesystem"], event["targetsystem"]
        if system == "middleware":  # the middleware knows which integration it runs; the systems do not say
            event["flow"] = flow
        self.sink.event(event)
        if self.with_spans:
            attrs: dict[str, Any] = {"business.correlation_id": correlation, "syncwatch.flow": flow,
                                     "cloudevents.event_type": ctype, "cloudevents.event_id": event_id}  # fmt: skip
            for key, attr in _KEY_ATTRS:
                value = data.get(key)
                if value:
                    attrs[attr] = value
            if system == "middleware":
                kind = _SPAN_KIND_PRODUCER if parent is None else _SPAN_KIND_CONSUMER
                attrs["messaging.system"] = "boomi"
                attrs["messaging.operation.type"] = "send" if parent is None else "process"
                attrs["messaging.destination.name"] = queue or flow
                attrs["messaging.message.id"] = event_id
            else:
                kind = _SPAN_KIND_SERVER
            end_ns = int(stamped * 1e9)
            start_ns = end_ns - 20_000_000 - (span_id & 0x3FFFFFFF)  # 20 ms to ~1.1 s, fixed by the span id
            self.sink.span((trace_id, span_id, parent_span, f"{system} {ctype}", kind, start_ns, end_ns, attrs,
                            _VENDORS[system], error))  # fmt: skip
        self.events_emitted += 1
        self.last_event_at[flow] = t
        return event_id, trace_id, span_id

    @staticmethod
    def _source(system: str, tenant: str, flow: str) -> str:
        return f"/middleware/boomi/{flow}" if system == "middleware" else f"/{system}/{_VENDORS[system]}/{tenant}"

    # -- faults -----------------------------------------------------------------------------------------------
    def fault(self, name: str, t: float) -> bool:
        return self.faults.active(name, t)

    def on_fault_change(self, name: str, on: bool, t: float) -> None:  # overridden by flows that react
        return None

    def switch_fault(self, name: str, on: bool) -> bool:
        with self.lock:
            changed = self.faults.switch(name, on, self.now)
            if changed:
                self.on_fault_change(name, on, self.now)
            return changed

    def day_index(self, t: float) -> int:
        return int((t - self.start) // DAY)
