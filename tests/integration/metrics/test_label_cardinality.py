"""Label values that come from event data (dead-letter queues, flows) stay bounded: with 20,000 distinct queues
/metrics keeps the top SYNCWATCH_MAX_LABEL_VALUES plus one `other` series per family, promtool accepts it, and
/api/v1/slis stays small. Run as a script to print the figures quoted in docs/slis.md:

    .venv/bin/python -m tests.integration.metrics.test_label_cardinality 20000
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from syncwatch.tokens import create_token
from syncwatch.warehouse import apply_migrations, connect
from tests.conftest import ThreadedCollector, auth, make_settings
from tests.factories import event

pytestmark = pytest.mark.integration


def dead_letters(n: int, *, flows: int = 0) -> list[dict[str, Any]]:
    """n dead letters on n distinct queues, their ages spread over ten minutes. With `flows`, they spread over that
    many sender-named flows too (the `flow` extension)."""
    start = datetime.now(UTC) - timedelta(hours=2)
    out = []
    for i in range(n):
        data = {"message_id": f"m-{i}", "original_event_id": f"e-{i}", "queue": f"queue-{i:05d}",
                "reason": "schema", "attempt_count": 3}  # fmt: skip
        extra = {"flow": f"flow-{i % flows:05d}"} if flows else {}
        out.append(event("message.dead_lettered", data=data, when=start + timedelta(seconds=i % 600), **extra))
    return out


def ingest(collector: ThreadedCollector, token: str, events: list[dict[str, Any]]) -> None:
    headers = {**auth(token), "Content-Type": "application/cloudevents-batch+json"}
    for i in range(0, len(events), 5000):
        done = httpx.post(f"{collector.url}/v1/events", json=events[i : i + 5000], headers=headers, timeout=120)
        assert done.status_code == 200, done.text[:300]


def measure(collector: ThreadedCollector, read: str) -> dict[str, int]:
    collector.service.components[0].job.run()
    text = httpx.get(f"{collector.url}/metrics", headers=auth(read), timeout=120).text
    slis = httpx.get(f"{collector.url}/api/v1/slis", headers=auth(read), timeout=120)
    series = [line for line in text.splitlines() if line and not line.startswith("#")]
    return {"series": len(series), "metrics_bytes": len(text.encode()), "slis_bytes": len(slis.content),
            "dead_letter_series": sum(1 for s in series if s.startswith("syncwatch_dead_letter_"))}  # fmt: skip


def _promtool(text: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: scripts/system-deps.sh installs the Debian prometheus package"
    return subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)


def _wait_for_dead_letters(collector: ThreadedCollector, n: int) -> None:
    client = connect(collector.settings)
    try:
        for _ in range(300):
            if client.command("SELECT count() FROM dead_letter_state") >= n:
                return
            import time

            time.sleep(0.1)
    finally:
        client.close()
    raise AssertionError("dead letters never reached the state table")


def test_many_distinct_queues_and_flows_keep_metrics_bounded(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, max_label_values=5)
    client = connect(settings)
    apply_migrations(client, settings.retention_days)
    ingest_token = create_token(client, "t-ingest", ["ingest"])[1]
    read = create_token(client, "t-read", ["read"])[1]
    try:
        with ThreadedCollector(settings) as collector:
            empty = measure(collector, read)
            ingest(collector, ingest_token, dead_letters(2000, flows=300))
            _wait_for_dead_letters(collector, 2000)
            figures = measure(collector, read)
            text = httpx.get(f"{collector.url}/metrics", headers=auth(read), timeout=60).text
            # queue and flow families: 5 each plus `other`; a flow family per SLI of flows at most 6 values
            assert figures["dead_letter_series"] == 2 * 6, figures
            # 2,000 queues and 300 flows add a bounded handful of series, not thousands
            assert figures["series"] - empty["series"] < 100, (empty, figures)
            assert text.count('queue="other"') == 2
            other = next(line for line in text.splitlines()
                         if line.startswith('syncwatch_dead_letter_backlog_messages{queue="other"}'))  # fmt: skip
            assert float(other.split()[-1]) == 2000 - 5  # the rest are counted, not dropped
            families: dict[str, set[str]] = {}
            for line in text.splitlines():
                if 'flow="' in line:
                    sli = line.split('sli="')[1].split('"')[0] if 'sli="' in line else ""
                    families.setdefault(line.split("{")[0] + sli, set()).add(line.split('flow="')[1].split('"')[0])
            assert families and all(len(flows) <= 6 for flows in families.values()), families
            # the two families that saw all 300 flows
            assert "other" in families["syncwatch_flow_sli_valuedead_letter_backlog"], families
            assert "other" in families["syncwatch_flow_last_event_age_seconds"], families
            done = _promtool(text)
            assert done.returncode == 0, done.stdout + done.stderr

            base = f"{collector.url}/api/v1/slis"
            slis = httpx.get(base, headers=auth(read), timeout=60).json()
            backlog = next(s for s in slis["slis"] if s["name"] == "dead_letter_backlog")
            queues = backlog["details"]["queues"]
            assert len(queues) == 6 and queues["other"]["count"] == 2000 - 5
            assert backlog["details"]["messages"] == 2000
            assert figures["slis_bytes"] < 20_000, figures

            page = httpx.get(f"{base}/dead_letter_backlog/breakdown", params={"by": "flow", "limit": 100},
                             headers=auth(read), timeout=60).json()  # fmt: skip
            assert len(page["rows"]) == 100 and page["total"] == 300 and page["next_offset"] == 100
            seen = {r["key"] for r in page["rows"]}
            offset = page["next_offset"]
            while offset is not None:
                page = httpx.get(f"{base}/dead_letter_backlog/breakdown",
                                 params={"by": "flow", "limit": 100, "offset": offset},
                                 headers=auth(read), timeout=60).json()  # fmt: skip
                seen |= {r["key"] for r in page["rows"]}
                offset = page["next_offset"]
            assert len(seen) == 300  # paging reaches every row exactly once
            too_many = httpx.get(f"{base}/dead_letter_backlog/breakdown", params={"by": "flow", "limit": 100_000},
                                 headers=auth(read), timeout=60)  # fmt: skip
            assert too_many.status_code == 422

            first = httpx.get(f"{base}/dead_letter_backlog/records", params={"limit": 50}, headers=auth(read),
                              timeout=60).json()  # fmt: skip
            second = httpx.get(f"{base}/dead_letter_backlog/records", params={"limit": 50, "offset": 50},
                               headers=auth(read), timeout=60).json()  # fmt: skip
            assert len(first["records"]) == len(second["records"]) == 50 and first["next_offset"] == 50
            assert not {r["key"] for r in first["records"]} & {r["key"] for r in second["records"]}
    finally:
        client.command(f"DROP DATABASE IF EXISTS `{settings.database}`")
        client.close()


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        settings = make_settings(Path(scratch))
        client = connect(settings)
        apply_migrations(client, settings.retention_days)
        ingest_token = create_token(client, "t-ingest", ["ingest"])[1]
        read = create_token(client, "t-read", ["read"])[1]
        try:
            with ThreadedCollector(settings) as collector:
                before = measure(collector, read)
                ingest(collector, ingest_token, dead_letters(n))
                _wait_for_dead_letters(collector, n)
                after = measure(collector, read)
                text = httpx.get(f"{collector.url}/metrics", headers=auth(read), timeout=120).text
                lint = _promtool(text)
        finally:
            client.command(f"DROP DATABASE IF EXISTS `{settings.database}`")
    print(f"empty warehouse: {before}")  # noqa: T201 - the script's output
    print(f"{n:,} queues' dead letters: {after}")  # noqa: T201
    print(f"promtool check metrics: exit {lint.returncode} {lint.stdout.strip()[:200]}")  # noqa: T201


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
