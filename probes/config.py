"""The probes file (YAML, `SYNCWATCH_PROBES_CONFIG`): the systems probes may call (base URL, auth by secret
reference, budget, options), overrides for the built-in probes, and declarative REST probes.

    systems:
      erp:
        base_url: https://1234567.suitetalk.api.netsuite.com
        auth: {type: oauth2_client_credentials, token_url: /services/rest/auth/oauth2/v1/token,
               client_id: syncwatch, client_secret: env:NETSUITE_CLIENT_SECRET}
        budget: {calls_per_hour: 600, max_concurrency: 2, max_rate_per_second: 4}
      psa: {base_url: https://api.mavenlink.com, auth: {type: bearer, token: file:/run/secrets/kantata}}
      hcm: {base_url: ..., options: {tenant: acme}, auth: {...}}
    builtin:
      time_posting: {interval_seconds: 600, options: {lookback_days: 90}}
      rate_cards: {enabled: false}
    probes: [ ...declarative probes, see declarative.py... ]

A built-in probe runs when every system it reads is configured and it is not disabled. Validation errors name the
file and the field; YAML and pydantic errors are translated here into ConfigError.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from probes.adapters import Paging
from probes.auth import ApiKeyAuth, Auth, BasicAuth, BearerAuth, NoAuth, OAuth2ClientCredentials
from probes.budget import DEFAULT_BUDGETS, FALLBACK_BUDGET, BudgetLimits
from probes.declarative import Condition, DeclarativeProbe, FindingTemplate
from probes.errors import ConfigError
from probes.reconcile import BUILTIN_PROBES, BuiltinProbe
from probes.secrets import resolve_secret

__all__ = ["AuthConfig", "ProbesFile", "SystemConfig", "load_probes_file", "parse_probes_file"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AuthConfig(_Strict):
    type: Literal["oauth2_client_credentials", "api_key", "bearer", "basic", "none"] = "none"
    token_url: str = ""
    client_id: str = ""
    client_secret: str = ""  # a reference: env:NAME or file:/path
    scope: str = ""
    header: str = "X-API-Key"
    key: str = ""  # reference
    token: str = ""  # reference
    username: str = ""
    password: str = ""  # reference

    def build(self, system: str) -> Auth:
        what = f"systems.{system}.auth"
        if self.type == "oauth2_client_credentials":
            if not (self.token_url and self.client_id and self.client_secret):
                raise ConfigError(f"{what}: oauth2_client_credentials needs token_url, client_id and client_secret")
            secret = resolve_secret(self.client_secret, what=f"{what}.client_secret")
            return OAuth2ClientCredentials(self.token_url, self.client_id, secret, self.scope)
        if self.type == "api_key":
            return ApiKeyAuth(resolve_secret(self.key, what=f"{what}.key"), self.header)
        if self.type == "bearer":
            return BearerAuth(resolve_secret(self.token, what=f"{what}.token"))
        if self.type == "basic":
            return BasicAuth(self.username, resolve_secret(self.password, what=f"{what}.password"))
        return NoAuth()


class BudgetConfig(_Strict):
    calls_per_hour: int | None = Field(default=None, ge=1)
    max_concurrency: int | None = Field(default=None, ge=1)
    max_rate_per_second: float | None = Field(default=None, gt=0)


class SystemConfig(_Strict):
    base_url: str
    auth: AuthConfig = AuthConfig()
    budget: BudgetConfig = BudgetConfig()
    request_timeout_seconds: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=3, ge=0, le=10)
    options: dict[str, Any] = Field(default_factory=dict)

    def limits(self, name: str) -> BudgetLimits:
        base = DEFAULT_BUDGETS.get(name, FALLBACK_BUDGET)
        b = self.budget
        return BudgetLimits(
            calls_per_hour=b.calls_per_hour or base.calls_per_hour,
            max_concurrency=b.max_concurrency or base.max_concurrency,
            max_rate_per_second=b.max_rate_per_second or base.max_rate_per_second,
        )


class BuiltinConfig(_Strict):
    enabled: bool = True
    interval_seconds: float | None = Field(default=None, gt=0)
    timeout_seconds: float | None = Field(default=None, gt=0)
    cost: dict[str, int] | None = None
    options: dict[str, Any] = Field(default_factory=dict)


class PagingConfig(_Strict):
    style: Literal["none", "offset", "page", "next_url"] = "none"
    items: str = "$[*]"
    total: str | None = None
    next: str | None = None
    size: int = Field(default=100, ge=1)
    size_param: str = "limit"
    position_param: str = "offset"


class FindingConfig(_Strict):
    kind: str
    object_type: str
    age_from: str | None = None
    amount: str | None = None
    currency: str | None = None
    tenant: str | None = None
    project_code: str | None = None
    consultant_id: str | None = None


class ConditionConfig(_Strict):
    path: str
    op: Literal["==", "!=", ">", ">=", "<", "<="]
    value: Any


class DeclarativeConfig(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    system: str
    path: str
    method: Literal["GET", "POST"] = "GET"
    params: dict[str, Any] = Field(default_factory=dict)
    body: Any = None
    paging: PagingConfig = PagingConfig()
    key: str
    finding: FindingConfig
    when: ConditionConfig | None = None
    interval_seconds: float = Field(default=300, gt=0)
    timeout_seconds: float = Field(default=60, gt=0)
    cost: int = Field(default=5, ge=1)
    description: str = "declared in the probes file"

    def build(self) -> DeclarativeProbe:
        p = self.paging
        return DeclarativeProbe(
            name=self.name,
            system=self.system,
            path=self.path,
            key=self.key,
            finding=FindingTemplate(**self.finding.model_dump()),
            paging=Paging(p.style, p.items, p.total, p.next, p.size, p.size_param, p.position_param),
            params=self.params,
            method=self.method,
            body=self.body,
            when=Condition(self.when.path, self.when.op, self.when.value) if self.when else None,
            interval_seconds=self.interval_seconds,
            timeout_seconds=self.timeout_seconds,
            cost_calls=self.cost,
            description=self.description,
        )


class ProbesFile(_Strict):
    systems: dict[str, SystemConfig] = Field(default_factory=dict)
    builtin: dict[str, BuiltinConfig] = Field(default_factory=dict)
    probes: list[DeclarativeConfig] = Field(default_factory=list)

    def builtin_probes(self) -> tuple[list[BuiltinProbe], dict[str, str]]:
        """The built-ins that will run, and why each other one will not."""
        unknown = sorted(set(self.builtin) - set(BUILTIN_PROBES))
        if unknown:
            raise ConfigError(f"builtin: unknown probe(s) {', '.join(unknown)}; known: {', '.join(BUILTIN_PROBES)}")
        active, skipped = [], {}
        for name, probe in BUILTIN_PROBES.items():
            override = self.builtin.get(name, BuiltinConfig())
            missing = [s for s in probe.systems if s not in self.systems]
            if not override.enabled:
                skipped[name] = "disabled in the probes file"
            elif missing:
                skipped[name] = f"system(s) not configured: {', '.join(missing)}"
            else:
                active.append(
                    probe.configured(
                        interval_seconds=override.interval_seconds or probe.interval_seconds,
                        timeout_seconds=override.timeout_seconds or probe.timeout_seconds,
                        cost=override.cost or probe.cost,
                        options={**probe.options, **override.options},
                    )
                )
        return active, skipped

    def declarative_probes(self) -> list[DeclarativeProbe]:
        names = set(BUILTIN_PROBES)
        out = []
        for cfg in self.probes:
            if cfg.name in names:
                raise ConfigError(f"probes: name {cfg.name!r} is already taken")
            if cfg.system not in self.systems:
                raise ConfigError(f"probes.{cfg.name}: system {cfg.system!r} is not configured")
            names.add(cfg.name)
            out.append(cfg.build())
        return out


def parse_probes_file(data: Mapping[str, Any] | None, source: str = "<probes file>") -> ProbesFile:
    try:
        return ProbesFile.model_validate(data or {})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{source}: {problems}") from exc


def load_probes_file(path: Path) -> ProbesFile:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read probes file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"probes file {path} is not valid YAML: {exc}") from exc
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"probes file {path}: the top level must be a mapping")
    return parse_probes_file(data, str(path))
