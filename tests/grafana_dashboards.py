"""The committed Grafana dashboards as the tests see them: every query target, and the substitutions Grafana makes
before a query leaves it (template variables, the ClickHouse plugin's macros), so a test runs what Grafana runs."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = ["DASHBOARDS", "ROOT", "dashboards", "expand_promql", "expand_sql", "targets", "variables"]

ROOT = Path(__file__).resolve().parents[1]
DASHBOARDS = ROOT / "grafana" / "dashboards"


def dashboards() -> dict[str, dict[str, Any]]:
    """File name -> dashboard model."""
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


def targets(dashboard: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            yield panel, target


def variables(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = dashboard["templating"]["list"]
    return found


def _variable(fmt: str | None, values: list[str]) -> str:
    if fmt == "singlequote":
        return ",".join("'" + v.replace("'", "\\'") + "'" for v in values)
    if fmt is None and len(values) > 1:  # Grafana's Prometheus formatting of a multi-value variable: a regex
        # special characters escaped for the regex and again for the PromQL string, as Grafana does
        return "(" + "|".join(re.sub(r"[\\^$*+?.()|{}\[\]]", r"\\\\\g<0>", v) for v in values) + ")"
    return ",".join(values)


def _substitute(text: str, values: dict[str, list[str]]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        if name not in values:
            raise KeyError(f"no value for template variable ${name} in: {text[:80]}")
        return _variable(match.group(2), values[name])

    return re.sub(r"\$\{(\w+)(?::(\w+))?\}|\$(?!__)(\w+)", replace, text)


def expand_promql(expr: str, values: dict[str, list[str]], rate_interval: str = "1m") -> str:
    """$__rate_interval (at least 4 scrapes) and $__interval, then the template variables."""
    expr = expr.replace("$__rate_interval", rate_interval).replace("$__interval", rate_interval)
    return _substitute(expr, values)


def expand_sql(sql: str, start: datetime, end: datetime, values: dict[str, list[str]], interval_s: int = 3600) -> str:
    """The grafana-clickhouse-datasource macros, as the plugin writes them (seconds since the epoch)."""
    f, t = int(start.timestamp()), int(end.timestamp())
    sql = re.sub(r"\$__timeFilter\(([^)]+)\)", rf"\1 >= toDateTime({f}) AND \1 <= toDateTime({t})", sql)
    sql = re.sub(r"\$__timeInterval\(([^)]+)\)", rf"toStartOfInterval(toDateTime(\1), INTERVAL {interval_s} second)",
                 sql)  # fmt: skip
    sql = sql.replace("$__fromTime", f"toDateTime({f})").replace("$__toTime", f"toDateTime({t})")
    assert "$__" not in sql, f"a macro this helper does not know: {sql}"
    return _substitute(sql, values)
