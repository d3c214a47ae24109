"""Draw the history of every benchmark's recorded runs, one SVG per bench/results/*.jsonl, into docs/img/.

    .venv/bin/python bench/charts.py

Each chart shows what docs/benchmarks.md compares: the figure a run recorded, against its target where the target is
a number (a dashed red line). Drawn with dashboard/svg.py, so the charts need nothing the console does not; the SLI
chart is the one bench/slis.py draws with --record.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboard import svg  # noqa: E402

RESULTS = ROOT / "bench" / "results"
IMG = ROOT / "docs" / "img"
WIDTH, HEIGHT = 900, 220


def _records(name: str) -> list[dict[str, Any]]:
    path = RESULTS / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _when(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(record.get("at") or record.get("when") or record["date"])


def _stack(charts: list[str]) -> str:
    """Charts one under the other in one SVG, as bench/slis.py stacks its two firm sizes."""
    step = HEIGHT + 10
    body = "".join(f'<g transform="translate(0, {i * step})">{chart}</g>' for i, chart in enumerate(charts))
    return f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {step * len(charts)}">{body}</svg>'


def _series(
    records: list[dict[str, Any]],
    value: Callable[[dict[str, Any]], float | None],
    title: str,
    label: Callable[[float], str],
    target: float | None = None,
) -> str:
    points = sorted((_when(r), value(r)) for r in records)
    values = [v for _, v in points]
    high = max([v for v in values if v is not None] + ([target] if target is not None else []) + [0.0])
    return svg.line([t for t, _ in points], values, title, label, reference=target, reference_label="target",
                    y_range=(0.0, high * 1.1 or 1.0), width=WIDTH, height=HEIGHT)  # fmt: skip


def ingest(records: list[dict[str, Any]]) -> str:
    """Events and spans a second through the collector, and the events' share of the engine's own rate."""

    def share(r: dict[str, Any]) -> float | None:
        ratio = r.get("events_ratio_to_engine_schema", r.get("events_ratio_to_engine"))
        return None if ratio is None else ratio * 100

    return _stack([
        _series(records, lambda r: r["events_per_s"], "events/s", lambda v: f"{v:,.0f}", target=50_000),
        _series(records, lambda r: r["spans_per_s"], "spans/s", lambda v: f"{v:,.0f}", target=30_000),
        _series(records, share, "events, % of the engine", lambda v: f"{v:.0f} %", target=50),
    ])  # fmt: skip


def dashboard(records: list[dict[str, Any]]) -> str:
    """The slowest page's cold median first render a run, and Streamlit's own one-line page in the same run."""
    return _stack([
        _series(records, lambda r: max(r["cold_median_s"].values()), "slowest page, s", lambda v: f"{v:.1f}",
                target=2.0),
        _series(records, lambda r: r["streamlit_floor_median_s"], "Streamlit floor, s", lambda v: f"{v:.1f}"),
    ])  # fmt: skip


def detection(records: list[dict[str, Any]]) -> str:
    """Each run's notified p95 and the share of its scenarios detected (an alert firing)."""

    def p95(r: dict[str, Any]) -> float | None:
        # a run that missed a scenario has no p95 to show: its p95 is "not within the run"
        found, total = r.get("notified", r["detected"]).split("/")
        value = r.get("p95_notified_s", r.get("p95_s"))
        # real-time runs (speed 1) measure another thing: how soon a probe's interval lets it see the fault
        return float(value) if value is not None and found == total and r.get("speed") == 60 else None

    def detected(r: dict[str, Any]) -> float:
        found, total = (int(n) for n in r["detected"].split("/"))
        return found / total * 100

    return _stack([
        _series(records, p95, "notified p95 at 60x, s", lambda v: f"{v:,.0f}", target=60.0),
        _series(records, detected, "scenarios detected, %", lambda v: f"{v:.0f} %", target=100.0),
    ])  # fmt: skip


def probes(records: list[dict[str, Any]]) -> str:
    """The latest run's seconds per probe (two runs are recorded, on one day: a line would be two points)."""
    latest = records[-1]["probes"]
    labels = [p["probe"] + (" (24 h later)" if p.get("pass") == 2 else "") for p in latest]
    return svg.bars(labels, [p["seconds"] for p in latest], "seconds, one run at 5,000 consultants x 30 days",
                    lambda v: f"{v:,.1f} s", width=WIDTH)  # fmt: skip


def slis(records: list[dict[str, Any]]) -> str:
    """The chart bench/slis.py redraws with --record (imported here so every results file has its chart)."""
    sys.path.insert(0, str(ROOT / "bench"))
    from slis import history_chart  # the engine and the metrics stage, imported only for this chart

    return str(history_chart(records))


CHARTS: dict[str, Callable[[list[dict[str, Any]]], str]] = {
    "ingest": ingest,
    "dashboard": dashboard,
    "detection": detection,
    "probes": probes,
    "slis": slis,
}


def main() -> None:
    for path in sorted(RESULTS.glob("*.jsonl")):
        draw = CHARTS.get(path.stem)
        if draw is None:
            print(f"{path.name}: no chart defined; add one to bench/charts.py")
            continue
        out = IMG / f"bench-{path.stem}.svg"
        out.write_text(draw(_records(path.stem)))
        print(f"{path.name} -> {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
