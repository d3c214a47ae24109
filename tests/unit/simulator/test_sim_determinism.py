from __future__ import annotations

import orjson
from sim_unit_support import run_sim


def test_same_seed_same_stream() -> None:
    _, a = run_sim(120, 21, seed=3)
    _, b = run_sim(120, 21, seed=3)
    assert len(a.events) > 1000
    assert orjson.dumps(a.events) == orjson.dumps(b.events)
    assert a.spans == b.spans


def test_other_seed_other_stream() -> None:
    _, a = run_sim(120, 14, seed=3)
    _, b = run_sim(120, 14, seed=4)
    assert orjson.dumps(a.events) != orjson.dumps(b.events)
