from __future__ import annotations

import pytest

from simulator.apis.querylang import QueryError, parse, run

ROWS = [
    {"id": "1", "status": "active", "hours": 8.0},
    {"id": "2", "status": "closed", "hours": 4.0},
    {"id": "3", "status": "active", "hours": 2.0},
]
COLS = ("id", "status", "hours")


def test_select_where_order() -> None:
    q = parse("SELECT id, hours FROM timebill WHERE status = 'active' AND hours >= 2 ORDER BY hours DESC")
    assert list(run(q, ROWS, COLS)) == [{"id": "1", "hours": 8.0}, {"id": "3", "hours": 2.0}]


def test_count_in_and_like() -> None:
    assert run(parse("SELECT COUNT(*) FROM t WHERE id IN ('1', '2')"), ROWS, COLS) == 2
    assert run(parse("SELECT COUNT() FROM t WHERE status LIKE 'act%'"), ROWS, COLS) == 2


def test_unknown_column_and_bad_grammar_are_errors() -> None:
    with pytest.raises(QueryError):
        list(run(parse("SELECT nope FROM t"), ROWS, COLS))
    with pytest.raises(QueryError):
        parse("DELETE FROM t")
    with pytest.raises(QueryError):
        parse("SELECT id FROM t WHERE status = 'a' OR id = '1'")
