"""The JSON paths of declarative probes: full JSONPath (filters, recursive descent, slices, functions) on the answers
systems give, and a path that is not JSONPath refused when the probes file loads, naming the probe, the field and
the path."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from probes.config import parse_probes_file
from probes.errors import ConfigError
from probes.interfaces import ProbeContext
from probes.jsonpath import compile_path, first, select

from .support import make_client, scope

EXPORTS = {
    "data": [
        {"id": "ex-1", "state": "stuck", "retries": 4, "lines": [{"amount": 10.0}, {"amount": 0}], "code": "E101"},
        {"id": "ex-2", "state": "stuck", "retries": 1, "lines": [], "code": "W2"},
        {"id": "ex-3", "state": "done", "retries": 9, "lines": [{"amount": 5.5}], "code": "E7"},
    ],
    "meta": {"total": 3, "owner": {"id": "team-a"}},
}


def test_filters_keep_the_items_they_hold_for() -> None:
    assert select("$.data[?@.state == 'stuck'].id", EXPORTS) == ["ex-1", "ex-2"]
    assert select("$.data[?@.state == 'stuck' && @.retries >= 3].id", EXPORTS) == ["ex-1"]
    assert select("$.data[?(@.retries > 3)].id", EXPORTS) == ["ex-1", "ex-3"]  # parentheses, as often written
    assert select("$.data[?length(@.lines) > 0].id", EXPORTS) == ["ex-1", "ex-3"]
    assert select("$.data[?match(@.code, 'E[0-9]+')].id", EXPORTS) == ["ex-1", "ex-3"]
    assert select("$.data[?@.missing].id", EXPORTS) == []  # a member that is not there is no match, not an error
    assert first("$.data[?@.state == 'done'].retries", EXPORTS) == 9


def test_recursive_descent_and_slices() -> None:
    assert select("$..amount", EXPORTS) == [10.0, 0, 5.5]
    assert select("$..id", EXPORTS) == ["ex-1", "ex-2", "ex-3", "team-a"]
    assert select("$..lines[?@.amount > 0].amount", EXPORTS) == [10.0, 5.5]
    assert select("$.data[0:2].id", EXPORTS) == ["ex-1", "ex-2"] and select("$.data[-1:].id", EXPORTS) == ["ex-3"]


def test_what_the_paths_always_did() -> None:
    doc = {"a": {"b": [{"c": 1}, {"c": 2}], "m": {"x": {"v": 1}, "y": {"v": 2}}}, "k-1": 3}
    assert select("$.a.b[*].c", doc) == [1, 2] and select("$.a.m.*.v", doc) == [1, 2]
    assert select("$.a.m[*].v", doc) == [1, 2] and select('$["a"]["b"][0].c', doc) == [1]
    assert first("$.a.b[-1].c", doc) == 2 and first("$['k-1']", doc) == 3 and first("$.zz", doc) is None
    assert first("$.a.b[5]", doc) is None and select("$", doc) == [doc] and select("$.a.b.c", doc) == []


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("id", "must start with \\$"),
        ("", "must start with \\$"),
        ("$.data[", "unexpected end of query"),
        ("$.data[?@.retries >]", "unexpected end of expression at character 20"),
        ("$.data[?nope(@.x)]", "function 'nope' is not defined"),
        ("$$", "unexpected token"),
    ],
)
def test_a_path_that_is_not_jsonpath_is_refused_with_the_reason(path: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason) as refused:
        compile_path(path)
    assert str(refused.value).startswith(f"JSON path {path!r} "), str(refused.value)


def _probes_file(**probe: Any) -> dict[str, Any]:
    base = {"name": "stuck_exports", "system": "billing", "path": "/api/exports", "key": "$.id",
            "finding": {"kind": "export_stuck", "object_type": "export"}}  # fmt: skip
    return {"systems": {"billing": {"base_url": "http://billing"}}, "probes": [{**base, **probe}]}


@pytest.mark.parametrize(
    ("change", "where", "path"),
    [
        ({"key": "$.id["}, "key", "$.id["),
        ({"when": {"path": "$.retries[?", "op": ">=", "value": 3}}, "when.path", "$.retries[?"),
        ({"finding": {"kind": "k", "object_type": "o", "amount": "value"}}, "finding.amount", "value"),
        ({"finding": {"kind": "k", "object_type": "o", "tenant": "$..[?"}}, "finding.tenant", "$..[?"),
    ],
)
def test_an_invalid_path_names_the_probe_the_field_and_the_path(change: dict[str, Any], where: str, path: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_probes_file(_probes_file(**change)).declarative_probes()
    assert str(refused.value).startswith(f"probe stuck_exports: {where}: JSON path {path!r}"), str(refused.value)


def test_a_declarative_probe_reads_an_answer_through_filters() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=EXPORTS)

    (probe,) = parse_probes_file(
        _probes_file(
            paging={"items": "$.data[*]", "total": "$.meta.total"},
            when={"path": "$.lines[?@.amount > 0].amount", "op": ">", "value": 1},
            finding={
                "kind": "export_stuck",
                "object_type": "export",
                "amount": "$..amount",
                "tenant": "$.lines[?@.amount == 0].amount",
            },
        )
    ).declarative_probes()
    client, fake = make_client(handler, system="billing")
    findings = probe.run(ProbeContext({"billing": client}, scope(fake), fake.now, {}))
    found = [(f.object_id, f.amount, f.tenant_id) for f in findings]
    assert found == [("ex-1", Decimal("10"), "0"), ("ex-3", Decimal("5.5"), "")]
