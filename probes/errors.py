"""The probes stage's one error tree. Lower-library errors (httpx, JSON, YAML) are translated into it in exactly one
place each (transport.py, config.py), with `raise ... from exc`, so a probe's outcome can be read off the class:

    ProbeError
    ├── TargetError           the target could not be reached, refused us, or answered something unusable -> failed
    │   ├── Unreachable       connection refused or reset, DNS failure, transport error after retries
    │   ├── AuthFailed        credentials refused (after one token refresh for OAuth2)
    │   ├── HttpStatusError   an error status that retries did not cure (4xx, or 5xx after the last retry)
    │   └── BadResponse       not JSON, the wrong shape, or a truncated page set (fewer rows than the total)
    ├── Throttled             the target kept answering 429 / limit exceeded, or its Retry-After outlives our
    │   │                     deadline -> throttled
    │   └── BudgetExhausted   our own per-system budget refused the call (we never spend the firm's allocation)
    ├── DeadlineExceeded      the probe's timeout passed -> timeout
    └── ConfigError           a system or probe definition is invalid or missing -> unknown
"""

from __future__ import annotations

__all__ = [
    "AuthFailed",
    "BadResponse",
    "BudgetExhausted",
    "ConfigError",
    "DeadlineExceeded",
    "HttpStatusError",
    "ProbeError",
    "TargetError",
    "Throttled",
    "Unreachable",
]


class ProbeError(Exception):
    """Root of the tree; `system` names the target involved when there is one."""

    def __init__(self, message: str, *, system: str = "") -> None:
        super().__init__(message)
        self.system = system

    def __str__(self) -> str:
        text = super().__str__()
        return f"{self.system}: {text}" if self.system else text


class TargetError(ProbeError):
    pass


class Unreachable(TargetError):
    pass


class AuthFailed(TargetError):
    pass


class HttpStatusError(TargetError):
    def __init__(self, message: str, *, system: str = "", status: int = 0) -> None:
        super().__init__(message, system=system)
        self.status = status


class BadResponse(TargetError):
    pass


class Throttled(ProbeError):
    pass


class BudgetExhausted(Throttled):
    pass


class DeadlineExceeded(ProbeError):
    pass


class ConfigError(ProbeError):
    pass
