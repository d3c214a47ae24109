from __future__ import annotations

import asyncio
from pathlib import Path

from collector.dedup import DedupIndex
from collector.spool import Spool


def test_classify_reserve_settle_and_evict() -> None:
    async def scenario() -> None:
        index = DedupIndex(capacity=3)
        new, waits = index.classify([1, 2, 1, 3])
        assert new == [0, 1, 3] and waits == []
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        index.reserve([1, 2, 3], future)
        new, waits = index.classify([2, 4])
        assert new == [1] and waits == [future]  # 2 is in flight: wait for it rather than store it twice
        index.settle([1, 2, 3], durable=True)
        assert index.classify([1, 2, 3]) == ([], [])
        index.warm([10])
        assert len(index) == 3  # oldest key (1) evicted
        assert index.classify([1])[0] == [0]
        index.reserve([7], future)
        index.settle([7], durable=False)  # a failed batch leaves no trace: a retry is stored
        assert index.classify([7])[0] == [0]

    asyncio.run(scenario())


def test_spool_round_trip_and_crash_leftovers(tmp_path: Path) -> None:
    (tmp_path / "spool").mkdir()
    (tmp_path / "spool" / "123-half-written.tmp").write_bytes(b"{")
    spool = Spool(tmp_path / "spool")
    assert not list((tmp_path / "spool").glob("*.tmp"))
    first = spool.write("events", "tok-1", [b'{"id":"a","data":{"x":1}}', b'{"id":"b"}'])
    spool.write("otel_traces", "tok-2", [b'{"SpanId":"x"}'])
    assert spool.pending("events") == [first]
    batch = spool.read(first)
    assert (batch.table, batch.token, batch.rows) == ("events", "tok-1", [b'{"id":"a","data":{"x":1}}', b'{"id":"b"}'])
    spool.remove(first)
    assert spool.pending("events") == [] and len(spool.pending()) == 1
