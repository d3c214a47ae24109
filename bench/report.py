"""Weekly report benchmark: one week of a large firm as JSON (the model), HTML and PDF, against the 10 s target.

    make bench-report    # or: .venv/bin/python bench/report.py --consultants 5000 --days 90 --scale 10

The firm is bench/slis.py's cached warehouse (var/bench/slis/: the 5,000-consultant, 90-day simulated firm built
through a real collector; `--scale 10` adds its nine renamed copies inside the engine, 50,000 consultants). The
report is built by the same code the collector's route runs (reports/sources.py over the metrics evaluator) for
the last complete week of the simulated period, and timed by part: the 12 weekly evaluations behind the headline
and the trends, the records behind "where the money is stuck", the alert history, then the HTML (each chart's
vl-convert render timed on its own) and the PDF. Peak RSS is this process's, the engine included.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import slis as sli_bench  # noqa: E402  (bench/slis.py: the cached firm)

import reports.charts as charts  # noqa: E402
from metrics.evaluate import Evaluator  # noqa: E402
from metrics.query import Db  # noqa: E402
from metrics.slis import NAMES  # noqa: E402
from metrics.slo import load_slos  # noqa: E402
from metrics.windows import Window  # noqa: E402
from reports.render import render_html, render_pdf  # noqa: E402
from reports.sources import MetricsSources  # noqa: E402
from reports.weekly import build_weekly  # noqa: E402
from reports.weeks import last_complete_week  # noqa: E402
from syncwatch.settings import Settings  # noqa: E402
from syncwatch.warehouse import apply_migrations, connect  # noqa: E402

TARGET_S = 10.0  # JSON + PDF of a 50,000-consultant firm's week
console = Console()
T = TypeVar("T")


class BenchMetrics:
    """What MetricsSources reads of the collector's metrics component, on this process's two clients (the
    component runs its SLI queries two at a time on two pooled clients, as here)."""

    def __init__(self, settings: Settings, client: Any, spare: Any) -> None:
        self.evaluator = Evaluator(load_slos(settings.slo_file, known=set(NAMES)), settings.max_label_values)
        self.client, self.spare = client, spare

    def evaluate(self, window: Window | None, by: str | None, names: Any = None) -> Any:
        return self.evaluator.evaluate(Db(self.client, spares=[self.spare]), window=window, by=by, names=names)

    def with_client(self, fn: Callable[[Any], T]) -> T:
        return fn(self.client)


class TimedSources(MetricsSources):
    """MetricsSources, adding up the seconds each kind of read takes."""

    def __init__(self, metrics: Any) -> None:
        super().__init__(metrics)
        self.seconds: dict[str, list[float]] = {"slis": [], "records": [], "alerts": []}

    def _timed(self, kind: str, fn: Callable[[], T]) -> T:
        started = time.perf_counter()
        try:
            return fn()
        finally:
            self.seconds[kind].append(time.perf_counter() - started)

    def slis(self, window: Window, by: str | None = None) -> dict[str, dict[str, dict[str, Any]]]:
        return self._timed("slis", lambda: super(TimedSources, self).slis(window, by))

    def records(self, name: str, window: Window, limit: int) -> list[dict[str, Any]]:
        return self._timed("records", lambda: super(TimedSources, self).records(name, window, limit))

    def alert_transitions(self, window: Window) -> list[dict[str, Any]]:
        return self._timed("alerts", lambda: super(TimedSources, self).alert_transitions(window))


def chart_seconds() -> list[float]:
    """Wraps vl-convert so each chart's render is timed (the sparklines and the trend charts)."""
    timings: list[float] = []
    convert = charts.vl_convert.vegalite_to_svg

    def timed(spec: Any, *args: Any, **kwargs: Any) -> str:
        started = time.perf_counter()
        drawn = convert(spec, *args, **kwargs)
        timings.append(time.perf_counter() - started)
        return drawn

    charts.vl_convert.vegalite_to_svg = timed  # type: ignore[assignment]
    return timings


def measure(sources: TimedSources, year: int, week: int, label: str, out: Path | None) -> dict[str, Any]:
    renders = chart_seconds()
    started = time.perf_counter()
    report = build_weekly(sources, year, week, firm="Bench firm")
    model_s = time.perf_counter() - started
    started = time.perf_counter()
    html = render_html(report)
    html_s = time.perf_counter() - started
    drawn = len(renders)
    started = time.perf_counter()
    pdf = render_pdf(report)
    pdf_s = time.perf_counter() - started
    if out is not None:  # to look at: the document a firm of this size gets
        out.mkdir(parents=True, exist_ok=True)
        stem = f"weekly-{report['week']}-{label.replace(',', '')}"
        (out / f"{stem}.json").write_text(json.dumps(report, indent=1))
        (out / f"{stem}.pdf").write_bytes(pdf)
    return {
        "size": label, "model_s": model_s, "html_s": html_s, "pdf_s": pdf_s, "total_s": model_s + pdf_s,
        "evaluations": len(sources.seconds["slis"]), "slis_s": sum(sources.seconds["slis"]),
        "records_s": sum(sources.seconds["records"]), "alerts_s": sum(sources.seconds["alerts"]),
        "charts": drawn, "chart_median_s": sorted(renders[:drawn])[drawn // 2] if drawn else 0.0,
        "chart_first_s": renders[0] if renders else 0.0, "html_kb": len(html) / 1024, "pdf_kb": len(pdf) / 1024,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }  # fmt: skip


def show(figures: list[dict[str, Any]]) -> None:
    table = Table(title=f"Weekly report of one week (target: JSON + PDF in {TARGET_S:g} s at 50,000 consultants)")
    for column in ("firm", "model s", "12 weekly evaluations s", "records s", "HTML s", "charts (median s)", "PDF s",
                   "JSON + PDF s", "peak RSS MB"):  # fmt: skip
        table.add_column(column, justify="right")
    for f in figures:
        table.add_row(
            f["size"], f"{f['model_s']:.1f}", f"{f['slis_s']:.1f} ({f['evaluations']} calls)", f"{f['records_s']:.1f}",
            f"{f['html_s']:.2f}", f"{f['charts']} ({f['chart_median_s']:.3f}; first {f['chart_first_s']:.2f})",
            f"{f['pdf_s']:.1f}", f"{f['total_s']:.1f}", f"{f['rss_mb']:,.0f}",
        )  # fmt: skip
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--consultants", type=int, default=5000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--scale", type=int, default=10, help="also measure at this multiple of the firm (1: skip)")
    parser.add_argument("--workdir", type=Path, default=ROOT / "var" / "bench" / "slis")
    parser.add_argument("--out", type=Path, default=None, help="also write each size's report (JSON, PDF) here")
    args = parser.parse_args()

    console.print(f"the {args.consultants:,}-consultant, {args.days}-day firm (built once, cached in {args.workdir})")
    sli_bench.build(args.workdir, args.consultants, args.days)
    settings = Settings(clickhouse_url=f"chdb://{args.workdir / 'warehouse'}", var_dir=args.workdir / "var")
    client, spare = connect(settings, create_database=False), connect(settings, create_database=False)
    apply_migrations(client, settings.retention_days)
    year, week = last_complete_week(datetime.fromisoformat(sli_bench.END.replace("Z", "+00:00")))
    metrics = BenchMetrics(settings, client, spare)
    figures = [measure(TimedSources(metrics), year, week, f"{args.consultants:,}", args.out)]
    show(figures)
    if args.scale > 1:
        console.print(f"adding {args.scale - 1} renamed copies inside the engine (cached)")
        sli_bench.scale_up(client, args.scale - 1)
        size = f"{args.consultants * args.scale:,}"
        figures.append(measure(TimedSources(metrics), year, week, size, args.out))
        show(figures)
    worst = figures[-1]["total_s"]
    console.print(f"{figures[-1]['size']} consultants: JSON + PDF in {worst:.1f} s "
                  f"({'within' if worst <= TARGET_S else 'over'} the {TARGET_S:g} s target)")  # fmt: skip


if __name__ == "__main__":
    main()
