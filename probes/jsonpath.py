"""A small JSONPath subset, enough to point at values in a REST answer from a config file:

    $                 the document        .name / ['name']   a member        [3]   an element
    [*]               every element       .*                  every member's value (maps keyed by id)

`select(path, doc)` returns every match (missing members match nothing); `first(path, doc)` the first or None.
Unsupported syntax is a ConfigError when the probe is loaded, not a surprise at run time.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from probes.errors import ConfigError

__all__ = ["compile_path", "first", "select"]

_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_\-]*)|\.\*|\[\*\]|\[(-?\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")
Step = tuple[str, Any]  # ("key", name) | ("index", n) | ("all", None)


@lru_cache(maxsize=256)
def compile_path(path: str) -> tuple[Step, ...]:
    text = path.strip()
    if not text.startswith("$"):
        raise ConfigError(f"JSON path {path!r} must start with $")
    steps: list[Step] = []
    pos = 1
    while pos < len(text):
        m = _STEP.match(text, pos)
        if m is None:
            raise ConfigError(f"JSON path {path!r}: cannot read {text[pos:]!r}")
        if m.group(1) is not None:
            steps.append(("key", m.group(1)))
        elif m.group(2) is not None:
            steps.append(("index", int(m.group(2))))
        elif m.group(3) is not None or m.group(4) is not None:
            steps.append(("key", m.group(3) if m.group(3) is not None else m.group(4)))
        else:
            steps.append(("all", None))
        pos = m.end()
    return tuple(steps)


def select(path: str, doc: Any) -> list[Any]:
    current = [doc]
    for kind, arg in compile_path(path):
        nxt: list[Any] = []
        for node in current:
            if kind == "key" and isinstance(node, dict) and arg in node:
                nxt.append(node[arg])
            elif kind == "index" and isinstance(node, list) and -len(node) <= arg < len(node):
                nxt.append(node[arg])
            elif kind == "all":
                if isinstance(node, list):
                    nxt.extend(node)
                elif isinstance(node, dict):
                    nxt.extend(node.values())
        current = nxt
    return current


def first(path: str, doc: Any) -> Any:
    found = select(path, doc)
    return found[0] if found else None
