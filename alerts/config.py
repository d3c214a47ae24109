"""Rules, routing and receivers as code: one YAML file, validated at load with errors naming rule and field.

The file (default: alerts/config/default.yaml; SYNCWATCH_ALERTS_CONFIG_FILE to replace it) has these sections:

    slos:            SLIs to guard with generated multi-window multi-burn-rate rules (SRE workbook pairs)
    rules:           threshold and absent-data rules
    route:           a tree of label matchers to receivers, with group_by / group_wait / group_interval /
                     repeat_interval / mute_time_intervals, as in Alertmanager
    receivers:       named lists of integrations (webhook, slack, pagerduty, email, alertmanager)
    inhibit_rules:   source alerts that mute target alerts sharing `equal` labels
    time_intervals:  named periods (a period-close freeze) routes can be muted in

String values may name environment variables as ${NAME}, so secrets (routing keys, webhook URLs, SMTP
passwords) stay out of the repository.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from alerts.errors import ConfigError
from alerts.matchers import Matcher, parse_matcher
from alerts.templates import check_template
from syncwatch.durations import parse_duration
from syncwatch.zones import iana_zone

__all__ = [
    "BURN_RATE_PAIRS",
    "SLI_FIELDS",
    "AlertsConfig",
    "Receiver",
    "Route",
    "Rule",
    "TimeInterval",
    "default_config_path",
    "load_config",
    "parse_config",
    "substitute_env",
]

Severity = Literal["critical", "warning", "info"]
Op = Literal[">", ">=", "<", "<=", "==", "!="]
# Columns of sli_snapshots a threshold may compare (metrics stage, shared interface).
SLI_FIELDS = (
    "value",
    "good",
    "total",
    "bad",
    "budget_remaining",
    "coverage",
    "burn_5m",
    "burn_30m",
    "burn_1h",
    "burn_6h",
    "burn_1d",
    "burn_3d",
)
BURN_WINDOWS = ("5m", "30m", "1h", "6h", "1d", "3d")
# Google SRE workbook, 30-day SLO: (long, short, factor, severity, share of budget spent when it fires).
BURN_RATE_PAIRS: tuple[tuple[str, str, float, Severity, str], ...] = (
    ("1h", "5m", 14.4, "critical", "2% of the 30-day budget in 1 h"),
    ("6h", "30m", 6.0, "critical", "5% of the 30-day budget in 6 h"),
    ("3d", "6h", 1.0, "warning", "10% of the 30-day budget in 3 days"),
)
DIMENSIONS = ("", "flow", "tenant", "source_system", "target_system", "project", "customer")
_ENV = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")


def default_config_path() -> Path:
    return Path(__file__).resolve().parent / "config" / "default.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _duration(value: Any) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ValueError(str(exc)) from exc


# -- rules ------------------------------------------------------------------------------------------------------
class Rule(_Strict):
    """One alerting rule. `kind` says what it reads; the threshold fields say when it breaches.

    kinds:
      sli            a column of the latest sli_snapshots row per (sli, dimension, key); or its `status`
                     (status_in: [breach]); or a boolean in its details (detail_true: silent)
      probe_finding  findings of one kind in each probe's latest run (count or money), older than min_age
      probe_outcome  a probe whose latest run ended in one of `outcomes` (e.g. ERP unreachable)
      absent_sli     no sli_snapshots row for `sli` newer than max_age (the metrics job is silent)
      absent_probe   no probe_runs row for a probe matching `probe` newer than max_age (a silent probe)
      burn_rate      both burn windows of an SLO above `factor` (generated from `slos`, may also be written)
    """

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    kind: Literal["sli", "probe_finding", "probe_outcome", "absent_sli", "absent_probe", "burn_rate"]
    severity: Severity
    team: str = Field(min_length=1)
    runbook_url: str = Field(pattern=r"^https?://")
    summary: str = Field(min_length=1)
    description: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    # what is read
    sli: str = ""
    dimension: str = ""
    key: str = ""
    field_: str = Field(default="value", alias="field")
    finding: str = ""
    min_age: float = 0.0
    measure: Literal["count", "amount"] = "count"
    # probe_finding: one alert per value of this key of the findings' detail, labelled with it (one page per
    # stopped integration, which inhibition can then match on `flow`); empty: one alert per system.
    split_by: str = Field(default="", pattern=r"^([a-zA-Z_][a-zA-Z0-9_]*)?$")
    probe: str = ""
    system: str = ""
    outcomes: tuple[str, ...] = ("failed", "timeout")
    # probe_outcome: the run's error must match this regex (a probe reading ERP and CRM that failed on CRM
    # says nothing about ERP; probes prefix errors with the system, "erp: POST ... answered 503").
    error_pattern: str = ""
    max_age: float = 0.0
    long_window: str = ""
    short_window: str = ""
    factor: float = 0.0
    # when it breaches
    op: Op = ">"
    threshold: float = 0.0
    status_in: tuple[str, ...] = ()
    detail_true: str = ""
    clear_threshold: float | None = None
    min_events: float = 0.0
    # The burn window whose judged count min_events guards (sli rules); empty: the SLO window's total.
    min_events_window: str = ""
    for_: float = Field(default=0.0, alias="for")
    keep_firing_for: float = 0.0
    # Only start firing inside these time intervals (a firing alert is held outside them), e.g. business days
    # for an hourly flow that is rightly quiet at weekends.
    active_time_intervals: tuple[str, ...] = ()

    @field_validator("for_", "keep_firing_for", "min_age", "max_age", mode="before")
    @classmethod
    def _durations(cls, value: Any) -> float:
        return _duration(value)

    @field_validator("summary", "description")
    @classmethod
    def _template(cls, value: str) -> str:
        check_template(value)
        return value

    @field_validator("labels")
    @classmethod
    def _label_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not re.match(r"^[a-zA-Z_][a-zA-Z0-9_]*$", name) or name in ("alertname", "severity", "team"):
                raise ValueError(f"label {name!r} is not a valid extra label name")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        need = {
            "sli": ("sli",),
            "probe_finding": ("finding",),
            "probe_outcome": ("probe",),
            "absent_sli": ("sli", "max_age"),
            "absent_probe": ("probe", "max_age"),
            "burn_rate": ("sli", "long_window", "short_window", "factor"),
        }[self.kind]
        for name in need:
            if not getattr(self, name):
                raise ValueError(f"{name}: a {self.kind} rule needs it")
        for name in ("key", "sli"):  # patterns, matched whole (an SLI's plain name matches only itself)
            try:
                re.compile(getattr(self, name))
            except re.error as exc:
                raise ValueError(f"{name}: bad pattern {getattr(self, name)!r}: {exc}") from exc
        if self.split_by and self.kind != "probe_finding":
            raise ValueError(f"split_by: only probe_finding rules split by a finding's detail, not {self.kind}")
        if self.split_by in ("alertname", "severity", "team", "finding", "system"):
            raise ValueError(f"split_by: {self.split_by!r} would overwrite a label the rule sets itself")
        if self.dimension not in DIMENSIONS:
            known = ", ".join(d or "''" for d in DIMENSIONS)
            raise ValueError(f"dimension: {self.dimension!r} is not one of {known}")
        if self.field_ not in SLI_FIELDS:
            raise ValueError(f"field: {self.field_!r} is not one of {', '.join(SLI_FIELDS)}")
        for name, window in (("long_window", self.long_window), ("short_window", self.short_window),
                             ("min_events_window", self.min_events_window)):  # fmt: skip
            if window and window not in BURN_WINDOWS:
                raise ValueError(f"{name}: burn window {window!r} is not one of {', '.join(BURN_WINDOWS)}")
        if self.clear_threshold is not None and self.op in ("==", "!="):
            raise ValueError("clear_threshold: needs an ordering op (>, >=, <, <=)")
        if self.clear_threshold is not None and _breaches(self.op, self.clear_threshold, self.threshold):
            # Hysteresis only helps when clearing is harder than firing: a > 10 rule clears below a lower bar.
            raise ValueError(f"clear_threshold: {self.clear_threshold} must be on the safe side of {self.threshold}")
        for probe_like in (self.probe, self.error_pattern):
            if probe_like:
                try:
                    re.compile(probe_like)
                except re.error as exc:
                    raise ValueError(f"probe: bad pattern {probe_like!r}: {exc}") from exc
        return self

    def breaching(self, value: float, firing: bool) -> bool:
        """Whether `value` breaches; a firing alert is held until it crosses clear_threshold (hysteresis)."""
        bar = self.clear_threshold if firing and self.clear_threshold is not None else self.threshold
        return _breaches(self.op, value, bar)


def _breaches(op: str, value: float, bar: float) -> bool:
    return {
        ">": value > bar,
        ">=": value >= bar,
        "<": value < bar,
        "<=": value <= bar,
        "==": value == bar,
        "!=": value != bar,
    }[op]


class SloSpec(_Strict):
    """An SLI guarded by generated burn-rate rules (`BURN_RATE_PAIRS`)."""

    sli: str
    team: str
    runbook_url: str = Field(pattern=r"^https?://")
    title: str = ""
    dimension: str = ""
    min_events: float = 0.0
    labels: dict[str, str] = Field(default_factory=dict)
    # The ticket pair (3d/6h) fires at 1x in the workbook; an SLO whose steady state burns close to 1x (a tight
    # objective) would open a ticket every other week, so it may ask for a higher factor.
    ticket_factor: float = Field(default=1.0, gt=0)


# -- routing ----------------------------------------------------------------------------------------------------
class Route(_Strict):
    receiver: str = ""
    matchers: tuple[str, ...] = ()
    group_by: tuple[str, ...] | None = None
    group_wait: float | None = None
    group_interval: float | None = None
    repeat_interval: float | None = None
    mute_time_intervals: tuple[str, ...] = ()
    continue_: bool = Field(default=False, alias="continue")
    routes: tuple[Route, ...] = ()

    @field_validator("group_wait", "group_interval", "repeat_interval", mode="before")
    @classmethod
    def _durations(cls, value: Any) -> float | None:
        return None if value is None else _duration(value)

    @field_validator("matchers")
    @classmethod
    def _matchers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for text in value:
            parse_matcher(text)
        return value

    def parsed_matchers(self) -> list[Matcher]:
        return [parse_matcher(t) for t in self.matchers]


class Integration(_Strict):
    """One way to reach people. `type` picks the notifier; the other fields are that notifier's settings."""

    type: Literal["webhook", "slack", "pagerduty", "email", "alertmanager"]
    url: str = ""
    routing_key: str = ""
    smtp_host: str = ""
    smtp_port: int = 25
    starttls: bool = False
    username: str = ""
    password: str = ""
    sender: str = Field(default="", alias="from")
    to: tuple[str, ...] = ()
    send_resolved: bool = True
    timeout: float = 5.0
    headers: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _complete(self) -> Integration:
        if self.type in ("webhook", "slack", "alertmanager") and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url: a {self.type} integration needs an http(s) url")
        if self.type == "pagerduty" and not self.routing_key:
            raise ValueError("routing_key: a pagerduty integration needs it")
        if self.type == "email" and not (self.smtp_host and self.sender and self.to):
            raise ValueError("smtp_host: an email integration needs smtp_host, from and to")
        return self


class Receiver(_Strict):
    name: str = Field(min_length=1)
    integrations: tuple[Integration, ...] = ()


class InhibitRule(_Strict):
    source_matchers: tuple[str, ...]
    target_matchers: tuple[str, ...]
    equal: tuple[str, ...] = ()

    @field_validator("source_matchers", "target_matchers")
    @classmethod
    def _matchers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one matcher")
        for text in value:
            parse_matcher(text)
        return value


class TimeRange(_Strict):
    """Alertmanager's time_intervals entry: every given list must match (weekdays AND days_of_month AND ...)."""

    times: tuple[dict[str, str], ...] = ()
    weekdays: tuple[str, ...] = ()
    days_of_month: tuple[str, ...] = ()
    months: tuple[str, ...] = ()
    location: str = "UTC"

    @field_validator("location")
    @classmethod
    def _zone(cls, value: str) -> str:
        return iana_zone(value)

    @model_validator(mode="after")
    def _parse_all(self) -> TimeRange:
        self.contains(datetime(2025, 1, 1))  # parses every part; ValueError names the bad one
        return self

    def contains(self, when: datetime) -> bool:
        local = when.astimezone(ZoneInfo(self.location)) if when.tzinfo else when
        if self.weekdays and not _in_ranges(local.isoweekday(), self.weekdays, _weekday):
            return False
        if self.months and not _in_ranges(local.month, self.months, _month):
            return False
        if self.days_of_month and not _in_days(local, self.days_of_month):
            return False
        if self.times:
            now = local.time()
            return any(_time(t["start_time"]) <= now < _time(t["end_time"]) for t in self.times)
        return True


_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]


def _weekday(text: str) -> int:
    if text.lower() not in _WEEKDAYS:
        raise ValueError(f"unknown weekday {text!r}")
    return _WEEKDAYS.index(text.lower()) + 1


def _month(text: str) -> int:
    if text.isdigit():
        return int(text)
    if text.lower() not in _MONTHS:
        raise ValueError(f"unknown month {text!r}")
    return _MONTHS.index(text.lower()) + 1


def _in_ranges(value: int, ranges: tuple[str, ...], parse: Any) -> bool:
    for part in ranges:
        lo, _, hi = part.partition(":")
        if parse(lo) <= value <= parse(hi or lo):
            return True
    return False


def _in_days(local: datetime, ranges: tuple[str, ...]) -> bool:
    # Negative days count from the month's end (-1 is the last day), as in Alertmanager: "-3:-1" is month-end.
    import calendar

    last = calendar.monthrange(local.year, local.month)[1]
    for part in ranges:
        lo_s, _, hi_s = part.partition(":")
        lo, hi = int(lo_s), int(hi_s or lo_s)
        lo = last + lo + 1 if lo < 0 else lo
        hi = last + hi + 1 if hi < 0 else hi
        if lo <= local.day <= hi:
            return True
    return False


def _time(text: str) -> time:
    hour, _, minute = text.partition(":")
    if hour == "24" and minute in ("00", ""):
        return time.max
    return time(int(hour), int(minute or 0))


class TimeInterval(_Strict):
    name: str
    time_intervals: tuple[TimeRange, ...]

    def contains(self, when: datetime) -> bool:
        return any(r.contains(when) for r in self.time_intervals)


class _File(_Strict):
    slos: tuple[SloSpec, ...] = ()
    rules: tuple[dict[str, Any], ...] = ()
    route: Route = Route(receiver="default")
    receivers: tuple[Receiver, ...] = (Receiver(name="default"),)
    inhibit_rules: tuple[InhibitRule, ...] = ()
    time_intervals: tuple[TimeInterval, ...] = ()


@dataclass(frozen=True)
class AlertsConfig:
    rules: tuple[Rule, ...]
    route: Route
    receivers: dict[str, Receiver]
    inhibit_rules: tuple[InhibitRule, ...]
    time_intervals: dict[str, TimeInterval]
    slos: tuple[SloSpec, ...] = ()
    source: str = field(default="<memory>")

    def rule(self, name: str) -> Rule:
        for r in self.rules:
            if r.name == name:
                return r
        raise KeyError(name)


# -- loading ----------------------------------------------------------------------------------------------------
def load_config(
    path: Path | None = None, *, extra_integrations: dict[str, list[dict[str, Any]]] | None = None
) -> AlertsConfig:
    """Read and validate a config file; `extra_integrations` adds integrations to receivers (from settings)."""
    path = path or default_config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"file {path}", "-", f"cannot read: {exc}") from exc
    return parse_config(text, source=str(path), extra_integrations=extra_integrations)


def parse_config(
    text: str, *, source: str = "<memory>", extra_integrations: dict[str, list[dict[str, Any]]] | None = None
) -> AlertsConfig:
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"file {source}", "-", f"not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"file {source}", "-", "the top level must be a mapping")
    raw = substitute_env(raw)
    for name, integrations in (extra_integrations or {}).items():
        receivers = raw.setdefault("receivers", [{"name": "default"}])
        target = next((r for r in receivers if r.get("name") == name), None)
        if target is None:
            target = {"name": name}
            receivers.append(target)
        target.setdefault("integrations", []).extend(integrations)
    try:
        parsed = _File.model_validate(raw)
    except ValidationError as exc:
        raise _config_error(exc, raw, "") from None
    rules: list[Rule] = []
    for index, spec in enumerate(parsed.rules):
        name = spec.get("name", f"#{index + 1}") if isinstance(spec, dict) else f"#{index + 1}"
        try:
            rules.append(Rule.model_validate(spec))
        except ValidationError as exc:
            raise _config_error(exc, spec, f"rule {name!r}") from None
    rules.extend(burn_rate_rules(parsed.slos))
    names = [r.name for r in rules]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"rule {duplicates[0]!r}", "name", "defined more than once")
    receivers = {r.name: r for r in parsed.receivers}
    intervals = {t.name: t for t in parsed.time_intervals}
    for rule in rules:
        for name in rule.active_time_intervals:
            if name not in intervals:
                raise ConfigError(f"rule {rule.name!r}", "active_time_intervals", f"unknown time interval {name!r}")
    _check_route(parsed.route, receivers, intervals, "route")
    return AlertsConfig(
        rules=tuple(rules),
        route=parsed.route,
        receivers=receivers,
        inhibit_rules=parsed.inhibit_rules,
        time_intervals=intervals,
        slos=parsed.slos,
        source=source,
    )


def burn_rate_rules(slos: tuple[SloSpec, ...]) -> list[Rule]:
    """The SRE workbook's three window pairs for each SLO: two pages (fast and slow burn) and a ticket."""
    out = []
    for slo in slos:
        camel = "".join(part.capitalize() for part in slo.sli.split("_"))
        title = slo.title or slo.sli.replace("_", " ")
        for long_w, short_w, workbook_factor, severity, meaning in BURN_RATE_PAIRS:
            factor = slo.ticket_factor if long_w == "3d" else workbook_factor
            if factor != workbook_factor:
                meaning = f"{factor * 10:g}% of the 30-day budget in 3 days"
            out.append(
                Rule.model_validate(
                    {
                        "name": f"{camel}BurnRate{long_w}",
                        "kind": "burn_rate",
                        "severity": severity,
                        "team": slo.team,
                        "runbook_url": slo.runbook_url,
                        "sli": slo.sli,
                        "dimension": slo.dimension,
                        "long_window": long_w,
                        "short_window": short_w,
                        "factor": factor,
                        "min_events": slo.min_events,
                        "labels": {**slo.labels, "slo": slo.sli, "long_window": long_w, "short_window": short_w},
                        "summary": (
                            f"{title} burns its error budget {{{{ value | num }}}}x "
                            f"({long_w}) and {{{{ short_burn | num }}}}x ({short_w}), over {factor:g}x: "
                            f"{meaning}; {{{{ budget_text }}}}{{{{ key_text }}}}"
                        ),
                        "description": (
                            f"SLI {slo.sli}: value {{{{ sli_value | pct }}}} against objective "
                            "{{ objective | pct }} ({{ good | int }} good of {{ total | int }})."
                        ),
                    }
                )
            )
    return out


def _check_route(route: Route, receivers: dict[str, Receiver], intervals: dict[str, TimeInterval], at: str) -> None:
    if at == "route" and not route.receiver:
        raise ConfigError("route", "receiver", "the root route needs a receiver")
    if route.receiver and route.receiver not in receivers:
        raise ConfigError(at, "receiver", f"unknown receiver {route.receiver!r}")
    for name in route.mute_time_intervals:
        if name not in intervals:
            raise ConfigError(at, "mute_time_intervals", f"unknown time interval {name!r}")
    for i, child in enumerate(route.routes):
        _check_route(child, receivers, intervals, f"{at}.routes[{i}]")


def _config_error(exc: ValidationError, raw: Any, where: str) -> ConfigError:
    first = exc.errors()[0]
    loc = [str(p) for p in first["loc"]]
    if not where:
        # Name the element of a list section by its name when it has one ("receiver 'oncall'").
        where, rest = "config", loc
        if len(loc) >= 2 and loc[1].isdigit() and isinstance(raw, dict):
            section = raw.get(loc[0])
            item = section[int(loc[1])] if isinstance(section, list) and int(loc[1]) < len(section) else None
            label = item.get("name") or item.get("sli") if isinstance(item, dict) else None
            where = f"{loc[0].rstrip('s')} {label!r}" if label else f"{loc[0]}[{loc[1]}]"
            rest = loc[2:]
        loc = rest
    message = first["msg"].removeprefix("Value error, ")
    named = re.match(r"^([a-z_]+): (.*)$", message, re.S)
    if named:  # a check across fields names the field first in its message
        loc, message = [*loc, named[1]], named[2]
    field_name = ".".join(p.rstrip("_") for p in loc) or "-"
    return ConfigError(where, field_name, message)


def substitute_env(value: Any) -> Any:
    """${NAME} in every string of a loaded YAML tree replaced by the environment's value (secrets stay out of files)."""
    if isinstance(value, str):
        return _ENV.sub(lambda m: os.environ.get(m[1], ""), value)
    if isinstance(value, list):
        return [substitute_env(v) for v in value]
    if isinstance(value, dict):
        return {k: substitute_env(v) for k, v in value.items()}
    return value
