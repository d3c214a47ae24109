"""Secrets for target systems come from the environment (`env:NAME`) or a file (`file:/path`), never from the
config file itself, and never appear in logs, reprs or error messages."""

from __future__ import annotations

import os
from pathlib import Path

from probes.errors import ConfigError

__all__ = ["Secret", "resolve_secret"]


class Secret:
    """A resolved secret value; its repr and str hide it."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str) -> None:
        self._value = value
        self.source = source  # where it came from ("env:ERP_SECRET"), safe to show

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.source!r})"

    __str__ = __repr__


def resolve_secret(ref: str, *, what: str) -> Secret:
    """`env:NAME` or `file:/path` (one line, surrounding whitespace dropped). Anything else is refused, so a
    secret pasted into the config file fails loudly instead of being committed and logged."""
    kind, _, name = ref.partition(":")
    if kind == "env" and name:
        value = os.environ.get(name)
        if not value:
            raise ConfigError(f"{what}: environment variable {name} is not set")
        return Secret(value, ref)
    if kind == "file" and name:
        try:
            value = Path(name).expanduser().read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{what}: cannot read secret file {name}: {exc.strerror}") from exc
        if not value:
            raise ConfigError(f"{what}: secret file {name} is empty")
        return Secret(value, ref)
    raise ConfigError(f"{what}: secrets are references, env:NAME or file:/path (the value itself is not accepted)")
