"""JSONPath (RFC 9535, through python-jsonpath) to point at values in a REST answer from a config file:

    $                 the document        .name / ['name']   a member        [3] / [-1]   an element
    [*] / .*          every element, or every member's value (maps keyed by id)
    ..name            `name` at any depth                     [0:10:2]     a slice
    [?@.state == 'stuck' && @.retries >= 3]                   the elements (or members) a filter keeps
    [?length(@.lines) > 0]  [?match(@.code, 'E[0-9]+')]       filter functions: length, count, match, search, value

`select(path, doc)` returns every match (missing members match nothing); `first(path, doc)` the first or None.
A path that is not JSONPath is a ConfigError when the probe is loaded, naming the path and where it stops
making sense, not a surprise at run time. Paths must start at the document (`$`): a probe reads whole answers.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jsonpath import CompoundJSONPath, JSONPath, JSONPathEnvironment, JSONPathError

from probes.errors import ConfigError

__all__ = ["compile_path", "first", "select"]

# Strict: the standard's syntax only, so a path written here means the same in any RFC 9535 implementation.
_ENV = JSONPathEnvironment(strict=True)


@lru_cache(maxsize=256)
def compile_path(path: str) -> JSONPath | CompoundJSONPath:
    text = path.strip()
    if not text.startswith("$"):
        raise ConfigError(f"JSON path {path!r} must start with $")
    try:
        return _ENV.compile(text)
    except JSONPathError as exc:
        raise ConfigError(f"JSON path {path!r} is not valid JSONPath: {_reason(exc)}") from exc


def _reason(exc: JSONPathError) -> str:
    """The library's first line, and where: its full message draws the path with a caret over several lines."""
    reason = str(exc.args[0] if exc.args else exc).splitlines()[0]
    index = getattr(exc.token, "index", -1) if exc.token is not None else -1
    return f"{reason} at character {index + 1}" if index >= 0 else reason


def select(path: str, doc: Any) -> list[Any]:
    return compile_path(path).findall(doc)


def first(path: str, doc: Any) -> Any:
    found = select(path, doc)
    return found[0] if found else None
