"""Who owns a case, who it escalates to, how severe it is and its SLA, as code: one YAML file (docs/exceptions.md
"Routing").

The file (default: the packaged cases/routing.yaml; SYNCWATCH_EXCEPTIONS_ROUTING_FILE to replace it) has:

    sla:        business time per severity (P1: 4h, P2: 1d, P3: 3d)
    route:      a tree of label matchers (alerts/matchers.py, Alertmanager's syntax), as the alert routing's:
                a case walks it from the root, the first child whose matchers all match takes it and its own
                children are tried in turn; owner_team, escalation_team, severity and sla are inherited from the
                parent where a node does not set them
    calendars:  business calendars by tenant (cases/calendar.py); `default` for every other tenant

A case's labels: kind, cause, category (the cause's words after the colon, lower case, `.` and `-` as `_`, so the
ERP's PERIOD_CLOSED and the middleware's time_posting.closed_period read alike), system (the systems involved,
comma-separated), flow, tenant, customer, project, severity (the one the source gave, if any). A team may name a
label in braces ("finance-ops-{tenant}"). A severity the source gave is kept; the route's applies otherwise.

Errors name the file, the line and the field (`RoutingError`); `check` also lists the causes no route gives an
owner (unroutable).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from alerts.matchers import Matcher, parse_matcher
from cases.calendar import UTC_WEEKDAYS, Calendar, CalendarSpec
from cases.model import KINDS, Case, Evidence, Route
from syncwatch.durations import parse_duration
from syncwatch.settings import Settings

__all__ = [
    "LABELS",
    "Policy",
    "RoutingError",
    "check",
    "check_routing",
    "default_routing_path",
    "labels_of",
    "load_policy",
    "parse_policy",
    "policy_for",
]

LABELS = ("kind", "cause", "category", "system", "flow", "tenant", "customer", "project", "severity")
SEVERITIES = ("P1", "P2", "P3", "P4")
_TEAM_LABEL = re.compile(r"\{([a-z_]+)\}")

# Causes every routing file must give an owner: the kinds with the categories the systems are known to send
# (docs/domain.md section 5: the ERP's rejections, the middleware's exceptions) and the probes' findings that open
# cases. `check` reports each that ends without an owner team.
KNOWN_CAUSES: tuple[dict[str, str], ...] = (
    *({"kind": "erp_rejection", "cause": f"erp_rejection:{c}"} for c in (
        "PERIOD_CLOSED", "INVALID_PROJECT_OR_ASSIGNMENT", "RATE_CARD_MISSING_OR_EXPIRED", "MISSING_COST_CENTER",
        "DUPLICATE_RECORD", "UNKNOWN")),
    *({"kind": "exception", "cause": f"exception:time_posting.{c}"} for c in (
        "closed_period", "invalid_project", "rate_card", "missing_worktag", "duplicate")),
    {"kind": "exception", "cause": "exception:uncategorised"},
    {"kind": "dead_letter", "cause": "dead_letter"},
    {"kind": "unknown_billing_type", "cause": "unknown_billing_type"},
    *({"kind": "probe_finding", "cause": f"probe_finding:{k}"} for k in (
        "approved_not_posted", "project_mismatch", "rate_card_expiring", "assignment_without_rate_card",
        "duplicate_posting", "worker_not_synced", "deal_without_project")),
)  # fmt: skip


def default_routing_path() -> Path:
    return Path(__file__).resolve().parent / "routing.yaml"


class RoutingError(ValueError):
    """An invalid routing file. `where` is "FILE:LINE" (or "FILE" when the line is unknown)."""

    def __init__(self, where: str, field: str, problem: str) -> None:
        self.where, self.field, self.problem = where, field, problem
        super().__init__(f"{where}: {field}: {problem}" if field else f"{where}: {problem}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _team(value: str) -> str:
    for name in _TEAM_LABEL.findall(value):
        if name not in LABELS:
            raise ValueError(f"{value!r} names {{{name}}}, which is not a label ({', '.join(LABELS)})")
    return value


class RouteNode(_Strict):
    matchers: tuple[str, ...] = ()
    owner_team: str = ""
    escalation_team: str = ""
    severity: str = ""
    sla: float | None = None
    routes: tuple[RouteNode, ...] = ()

    @field_validator("matchers")
    @classmethod
    def _matchers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for text in value:
            name = parse_matcher(text).name
            if name not in LABELS:
                raise ValueError(f"{text!r}: {name!r} is not a case label ({', '.join(LABELS)})")
        return value

    @field_validator("owner_team", "escalation_team")
    @classmethod
    def _teams(cls, value: str) -> str:
        return _team(value)

    @field_validator("severity")
    @classmethod
    def _severity(cls, value: str) -> str:
        if value and value not in SEVERITIES:
            raise ValueError(f"{value!r} is not one of {', '.join(SEVERITIES)}")
        return value

    @field_validator("sla", mode="before")
    @classmethod
    def _sla(cls, value: Any) -> float | None:
        return None if value is None else parse_duration(value)

    def parsed(self) -> list[Matcher]:
        return [parse_matcher(t) for t in self.matchers]


class _File(_Strict):
    sla: dict[str, float] = Field(default_factory=lambda: {"P1": 4 * 3600.0, "P2": 86400.0, "P3": 3 * 86400.0})
    route: RouteNode = RouteNode(owner_team="integrations", severity="P2")
    calendars: dict[str, CalendarSpec] = Field(default_factory=dict)

    @field_validator("sla", mode="before")
    @classmethod
    def _sla(cls, value: Any) -> dict[str, float]:
        if not isinstance(value, dict):
            raise ValueError("a mapping of severity to business time, e.g. {P1: 4h, P2: 1d}")
        out = {}
        for severity, duration in value.items():
            if severity not in SEVERITIES:
                raise ValueError(f"{severity!r} is not one of {', '.join(SEVERITIES)}")
            out[severity] = parse_duration(duration)
        return out


@dataclass(frozen=True, slots=True)
class Routed:
    owner_team: str
    escalation_team: str
    severity: str
    sla_seconds: float
    path: str  # the route node that took the case, "0.2.1" (the root is "0")


def _words(category: str) -> str:
    return category.lower().replace(".", "_").replace("-", "_")


def labels_of(
    *,
    kind: str,
    cause: str,
    systems: Iterable[str] = (),
    flow: str = "",
    tenant: str = "",
    customer: str = "",
    project: str = "",
    severity: str = "",
) -> dict[str, str]:
    _, _, category = cause.partition(":")
    return {
        "kind": kind,
        "cause": cause,
        "category": _words(category),
        "system": ",".join(sorted(systems)),
        "flow": flow,
        "tenant": tenant,
        "customer": customer,
        "project": project,
        "severity": severity,
    }


@dataclass(frozen=True)
class Policy:
    """The routing tree, the SLA per severity and the calendars: what cases/model.py asks when it opens a case,
    reopens one or moves a due time."""

    root: RouteNode
    sla: Mapping[str, float]
    calendars: Mapping[str, Calendar]
    source: str = "<memory>"

    def resolve(self, labels: Mapping[str, str]) -> Routed:
        node, path = self.root, "0"
        owner, escalation, severity, sla = node.owner_team, node.escalation_team, node.severity, node.sla
        while True:
            for i, child in enumerate(node.routes):
                if all(m.matches(labels) for m in child.parsed()):
                    node, path = child, f"{path}.{i}"
                    owner = child.owner_team or owner
                    escalation = child.escalation_team or escalation
                    severity = child.severity or severity
                    sla = child.sla if child.sla is not None else sla
                    break
            else:
                break
        severity = labels.get("severity") or severity or "P2"
        if sla is None:
            sla = self.sla.get(severity, self.sla.get("P2", 86400.0))
        return Routed(_fill(owner, labels), _fill(escalation, labels), severity, sla, path)

    def route(self, ev: Evidence) -> Route:
        labels = labels_of(kind=ev.kind, cause=ev.cause, systems=ev.systems, flow=ev.flow, tenant=ev.tenant,
                           customer=ev.customer, project=ev.project, severity=ev.severity)  # fmt: skip
        r = self.resolve(labels)
        return Route(r.owner_team, r.severity, r.escalation_team, r.sla_seconds)

    def sla_seconds(self, case: Case) -> float:
        """A reopened case's SLA: its route's, with the severity it has."""
        labels = labels_of(kind=case.kind, cause=case.cause, systems=case.systems, flow=case.flow,
                           tenant=case.tenant, project=case.project, severity=case.severity)  # fmt: skip
        return self.resolve(labels).sla_seconds

    def calendar(self, tenant: str) -> Calendar:
        return self.calendars.get(tenant) or self.calendars.get("default") or UTC_WEEKDAYS


def _fill(team: str, labels: Mapping[str, str]) -> str:
    return _TEAM_LABEL.sub(lambda m: labels.get(m[1], "") or "unknown", team)


# -- loading -----------------------------------------------------------------------------------------------------
def _line(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the YAML node at a pydantic error's location (the deepest one found)."""
    line = None if node is None else node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
            if found is None:
                found = next((k for k, v in node.value if getattr(k, "value", None) == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            found = node.value[part]
        else:
            found = None
        if found is None:
            break
        node, line = found, found.start_mark.line + 1
    return line


def parse_policy(text: str, *, source: str = "<memory>") -> Policy:
    """A validated policy from the file's text; RoutingError names file, line and field."""
    try:
        tree = yaml.compose(text)
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise RoutingError(where, "", f"not valid YAML: {getattr(exc, 'problem', None) or exc}") from exc
    if not isinstance(raw, dict):
        raise RoutingError(source, "", "the top level must be a mapping (sla, route, calendars)")
    try:
        parsed = _File.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(p for p in first["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        line = _line(tree, loc)
        where = f"{source}:{line}" if line else source
        message = str(first["msg"]).removeprefix("Value error, ")
        raise RoutingError(where, ".".join(str(p) for p in loc), message) from None
    calendars = {name: spec.build() for name, spec in parsed.calendars.items()}
    return Policy(parsed.route, parsed.sla, calendars, source)


def load_policy(path: Path | None = None) -> Policy:
    path = path or default_routing_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RoutingError(str(path), "", f"cannot read: {exc.strerror or exc}") from exc
    return parse_policy(text, source=str(path))


def policy_for(settings: Settings) -> Policy:
    return load_policy(settings.exceptions_routing_file)


def check(policy: Policy) -> list[str]:
    """The known causes (KNOWN_CAUSES, every case kind) that no route gives an owner team: one line each."""
    problems = []
    for cause in KNOWN_CAUSES:
        routed = policy.resolve(labels_of(kind=cause["kind"], cause=cause["cause"]))
        if not routed.owner_team:
            problems.append(f"{policy.source}: unroutable: cause {cause['cause']} (kind {cause['kind']}) reaches "
                            f"route {routed.path} and no route on the way sets owner_team")  # fmt: skip
    missing = [k for k in KINDS if not any(c["kind"] == k for c in KNOWN_CAUSES)]
    assert not missing, f"KNOWN_CAUSES lacks the kinds {missing}"  # a new kind must be checked too
    return problems


def check_routing(
    file: Annotated[Path | None, typer.Argument(help="routing YAML (default: the configured or packaged one)")] = None,
) -> None:
    """Check an exception routing file: valid YAML, valid matchers, teams, SLAs and calendars, no unroutable cause."""
    path = file or Settings().exceptions_routing_file or default_routing_path()
    try:
        policy = load_policy(path)
    except RoutingError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    problems = check(policy)
    for line in problems:
        typer.echo(line, err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo(f"{path}: ok ({len(KNOWN_CAUSES)} known causes routed, {len(policy.calendars)} calendars)")
