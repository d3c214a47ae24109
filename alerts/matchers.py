"""Label matchers in Alertmanager's syntax: name=value, name!=value, name=~regex, name!~regex.

Regexes are anchored, as in Alertmanager (`flow=~"psa-.*"` does not match "x-psa-1").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["Matcher", "matches_all", "parse_matcher"]

_SYNTAX = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$')


@dataclass(frozen=True)
class Matcher:
    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True
    _pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def make(cls, name: str, value: str, is_regex: bool = False, is_equal: bool = True) -> Matcher:
        pattern = re.compile(f"^(?:{value})$") if is_regex else None  # re.error propagates to the caller
        return cls(name, value, is_regex, is_equal, pattern)

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        hit = bool(self._pattern.match(actual)) if self._pattern is not None else actual == self.value
        return hit if self.is_equal else not hit

    def __str__(self) -> str:
        op = ("=~" if self.is_equal else "!~") if self.is_regex else ("=" if self.is_equal else "!=")
        return f'{self.name}{op}"{self.value}"'

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "value": self.value, "is_regex": self.is_regex, "is_equal": self.is_equal}


def parse_matcher(text: str) -> Matcher:
    """One matcher from its text form; ValueError names what is wrong."""
    match = _SYNTAX.match(text)
    if not match:
        raise ValueError(f"not a matcher: {text!r} (use name=value, name!=value, name=~regex or name!~regex)")
    name, op, value = match[1], match[2], match[3]
    try:
        return Matcher.make(name, value, is_regex=op in ("=~", "!~"), is_equal=op in ("=", "=~"))
    except re.error as exc:
        raise ValueError(f"bad regex in {text!r}: {exc}") from exc


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
