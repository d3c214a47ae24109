"""A small SELECT language shared by the SuiteQL-like and SOQL-like endpoints:

    SELECT a, b | * | COUNT(*) | COUNT() FROM table [WHERE cond [AND cond]...] [ORDER BY col [ASC|DESC]]
    cond: col (= | != | <> | < | <= | > | >=) literal | col IN (literal, ...) | col IS [NOT] NULL | col LIKE 'x%'

Literals: 'quoted', numbers, TRUE/FALSE/NULL, and bare SOQL date/datetime literals. Columns match
case-insensitively. A query the grammar does not cover is a QueryError (400), never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["Query", "QueryError", "parse", "run"]


class QueryError(ValueError):
    pass


@dataclass(frozen=True)
class Query:
    columns: tuple[str, ...]  # () means all; ("count()",) means a count
    table: str
    conditions: tuple[tuple[str, str, Any], ...]
    order_by: str | None
    descending: bool

    @property
    def is_count(self) -> bool:
        return self.columns == ("count()",)


_TOKEN = re.compile(r"\s*(?:('(?:[^'\\]|\\.)*')|(<=|>=|<>|!=|[=<>(),*])|([A-Za-z0-9_.:+\-]+))")


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    text = text.strip().rstrip(";")
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise QueryError(f"cannot read the query near {text[pos : pos + 20]!r}")
        out.append(m.group(0).strip())
        pos = m.end()
    return [t for t in out if t]


def _literal(token: str) -> Any:
    if token.startswith("'"):
        return token[1:-1].replace("\\'", "'")
    upper = token.upper()
    if upper == "TRUE":
        return True
    if upper == "FALSE":
        return False
    if upper == "NULL":
        return None
    try:
        return int(token)
    except ValueError:
        pass
    try:
        return float(token)
    except ValueError:
        return token  # a bare date or datetime literal


def parse(text: str) -> Query:
    toks = _tokens(text)
    if not toks or toks[0].upper() != "SELECT":
        raise QueryError("a query starts with SELECT")
    i = 1
    columns: list[str] = []
    while i < len(toks) and toks[i].upper() != "FROM":
        tok = toks[i]
        if tok.upper() == "COUNT" and i + 1 < len(toks) and toks[i + 1] == "(":
            close = toks.index(")", i)
            columns.append("count()")
            i = close + 1
            continue
        if tok not in (",",):
            columns.append(tok.lower())
        i += 1
    if i >= len(toks) - 1:
        raise QueryError("FROM <table> is missing")
    table = toks[i + 1].lower()
    i += 2
    conditions: list[tuple[str, str, Any]] = []
    order_by, descending = None, False
    if i < len(toks) and toks[i].upper() == "WHERE":
        i += 1
        while i < len(toks) and toks[i].upper() not in ("ORDER",):
            col = toks[i].lower()
            op = toks[i + 1].upper() if i + 1 < len(toks) else ""
            if op == "IN":
                if toks[i + 2] != "(":
                    raise QueryError("IN needs a parenthesised list")
                close = toks.index(")", i + 2)
                values = [_literal(t) for t in toks[i + 3 : close] if t != ","]
                conditions.append((col, "IN", tuple(values)))
                i = close + 1
            elif op == "IS":
                negate = toks[i + 2].upper() == "NOT"
                conditions.append((col, "IS NOT" if negate else "IS", None))
                i += 4 if negate else 3
            elif op in ("=", "!=", "<>", "<", "<=", ">", ">=", "LIKE"):
                conditions.append((col, "!=" if op == "<>" else op, _literal(toks[i + 2])))
                i += 3
            else:
                raise QueryError(f"unsupported condition near {' '.join(toks[i : i + 3])!r}")
            if i < len(toks) and toks[i].upper() == "AND":
                i += 1
            elif i < len(toks) and toks[i].upper() not in ("ORDER",):
                raise QueryError(f"only AND joins conditions (found {toks[i]!r})")
    if i < len(toks) and toks[i].upper() == "ORDER":
        if i + 2 >= len(toks) or toks[i + 1].upper() != "BY":
            raise QueryError("ORDER BY <column>")
        order_by = toks[i + 2].lower()
        descending = i + 3 < len(toks) and toks[i + 3].upper() == "DESC"
    return Query(tuple(columns) if columns != ["*"] else (), table, tuple(conditions), order_by, descending)


def _match(row: dict[str, Any], conditions: tuple[tuple[str, str, Any], ...]) -> bool:
    for col, op, value in conditions:
        have = row.get(col)
        if op == "IS":
            ok = have is None
        elif op == "IS NOT":
            ok = have is not None
        elif have is None:
            ok = False
        elif op == "IN":
            ok = have in value
        elif op == "LIKE":
            pattern = "^" + re.escape(str(value)).replace("%", ".*").replace("_", ".") + "$"
            ok = re.match(pattern, str(have), re.IGNORECASE) is not None
        else:
            if isinstance(have, str) and not isinstance(value, str):
                value = str(value)
            try:
                ok = {
                    "=": have == value,
                    "!=": have != value,
                    "<": have < value,
                    "<=": have <= value,
                    ">": have > value,
                    ">=": have >= value,
                }[op]
            except TypeError as exc:
                raise QueryError(f"cannot compare {col} with {value!r}") from exc
        if not ok:
            return False
    return True


def run(query: Query, rows: Iterable[dict[str, Any]], known_columns: Iterable[str]) -> Iterator[dict[str, Any]] | int:
    """Filter, order and project rows (keys lower-case); a COUNT query returns the count."""
    known = set(known_columns)
    for col in [c for c, _, _ in query.conditions] + list(query.columns) + ([query.order_by] if query.order_by else []):
        if col != "count()" and col not in known:
            raise QueryError(f"unknown column {col!r} in {query.table}")
    matched = (r for r in rows if _match(r, query.conditions))
    if query.is_count:
        return sum(1 for _ in matched)
    if query.order_by:
        key = query.order_by
        matched = iter(sorted(matched, key=lambda r: (r.get(key) is None, r.get(key)), reverse=query.descending))
    if query.columns:
        cols = query.columns
        return ({c: r.get(c) for c in cols} for r in matched)
    return matched
