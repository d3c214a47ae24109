"""Where the exception queue stands against its SLAs, per owner team: for Prometheus (read at each scrape) and for
the alert rules ExceptionSlaAtRisk, ExceptionCaseSlaBreached and ExceptionCaseSlaBreachedTicket
(alerts/warehouse_signals.py).

A case not closed is **breaching** once past its due time, **at risk** once it has used `AT_RISK_SHARE` of its SLA
in business time on its tenant's calendar (the span from opened to due, which waiting has already moved later). SLA
attainment is the share of the cases closed in the last `ATTAINMENT_DAYS` that were closed by their due time.

Owner teams and causes are labels; causes come from event data (ERP error categories), so they are bounded as the
SLI series are (metrics/bounded.py): the `max_label_values` causes with the most open cases and one `other`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from clickhouse_connect.driver.client import Client
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from cases.calendar import UTC_WEEKDAYS, Calendar
from cases.model import CLOSED, STATES
from metrics.bounded import OTHER, keep_top

__all__ = [
    "AT_RISK_SHARE",
    "ATTAINMENT_DAYS",
    "DEFAULT_OWNERS",
    "PAGE_SEVERITIES",
    "CaseMetrics",
    "OpenCase",
    "SlaStanding",
    "read_open_cases",
    "sla_standing",
]

AT_RISK_SHARE = 0.75
ATTAINMENT_DAYS = 30
# The routing defaults' teams (docs/exceptions.md): their series exist at 0 before their first case.
DEFAULT_OWNERS = ("finance-ops", "integrations", "project-operations")
# A breached case of these severities pages; any other opens a ticket.
PAGE_SEVERITIES = ("P1",)

_OPEN_SQL = """
SELECT case_id, kind, cause, business_key, severity, owner_team, state, tenant, project, consultant, money,
       opened_at, due_at
FROM exception_cases FINAL
WHERE state NOT IN {closed:Array(String)}
"""
_CLOSED_SQL = """
SELECT owner_team, countIf(resolved_at <= due_at), count()
FROM exception_cases FINAL
WHERE state IN {closed:Array(String)} AND resolved_at >= {since:DateTime64(6, 'UTC')}
GROUP BY owner_team
"""
_OWNERS_SQL = "SELECT DISTINCT owner_team FROM exception_cases FINAL"


@dataclass(frozen=True, slots=True)
class OpenCase:
    case_id: str
    kind: str
    cause: str
    business_key: str
    severity: str
    owner_team: str
    state: str
    tenant: str
    project: str
    consultant: str
    money: dict[str, float]
    opened_at: datetime
    due_at: datetime

    def sla_used(self, now: datetime, calendar: Calendar = UTC_WEEKDAYS) -> float:
        """The share of the SLA's business time, on the tenant's calendar, used by now (1 at the due time)."""
        span = calendar.between(self.opened_at, self.due_at)
        return calendar.between(self.opened_at, now) / span if span > 0 else (1.0 if now >= self.due_at else 0.0)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def read_open_cases(client: Client) -> list[OpenCase]:
    rows = client.query(_OPEN_SQL, parameters={"closed": list(CLOSED)}).result_rows
    return [
        OpenCase(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9],
                 {str(k): float(v) for k, v in r[10].items()}, _utc(r[11]), _utc(r[12]))
        for r in rows
    ]  # fmt: skip


@dataclass(frozen=True, slots=True)
class SlaStanding:
    breaching: list[OpenCase]
    at_risk: list[OpenCase]  # not yet breaching


def sla_standing(
    cases: list[OpenCase], now: datetime, calendar_of: Callable[[str], Calendar] = lambda _: UTC_WEEKDAYS
) -> SlaStanding:
    """`calendar_of`: each tenant's business calendar (the routing policy's, cases/routing.py)."""
    breaching = [c for c in cases if now > c.due_at]
    at_risk = [c for c in cases if now <= c.due_at and c.sla_used(now, calendar_of(c.tenant)) >= AT_RISK_SHARE]
    return SlaStanding(breaching, at_risk)


class CaseMetrics(Collector):
    """The queue's series, read from the warehouse at each scrape. A failed read serves only
    `syncwatch_exception_metrics_read_failures`, so a scrape never fails because the warehouse blinked."""

    def __init__(self, with_client: Callable[[Callable[[Client], Any]], Any], max_label_values: int = 20,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 calendar_of: Callable[[str], Calendar] = lambda _: UTC_WEEKDAYS) -> None:  # fmt: skip
        self._with_client = with_client
        self._calendar_of = calendar_of
        self.max_label_values = max_label_values
        self._clock = clock
        self.failures = 0

    def _read(self, now: datetime) -> tuple[list[OpenCase], list[tuple[str, int, int]], list[str]]:
        def read(client: Client) -> tuple[list[OpenCase], list[tuple[str, int, int]], list[str]]:
            since = (now - timedelta(days=ATTAINMENT_DAYS)).replace(tzinfo=None)
            closed = client.query(_CLOSED_SQL, parameters={"closed": list(CLOSED), "since": since}).result_rows
            owners = [str(r[0]) for r in client.query(_OWNERS_SQL).result_rows]
            return read_open_cases(client), [(str(r[0]), int(r[1]), int(r[2])) for r in closed], owners

        result: tuple[list[OpenCase], list[tuple[str, int, int]], list[str]] = self._with_client(read)
        return result

    def collect(self) -> Iterator[Metric]:
        failures = GaugeMetricFamily("syncwatch_exception_metrics_read_failures",
                                     "Scrapes whose read of the exception queue failed, since start")  # fmt: skip
        now = self._clock()
        try:
            cases, closed, owners = self._read(now)
        except Exception:  # the warehouse restarting: the next scrape reads again
            self.failures += 1
            failures.add_metric([], float(self.failures))
            yield failures
            return
        failures.add_metric([], float(self.failures))
        yield failures
        known = sorted(set(DEFAULT_OWNERS) | set(owners))
        per_owner = keep_top({o: 0 for o in known}, self.max_label_values, lambda _: 0, lambda _: 0)

        def owner(name: str) -> str:
            return name if name in per_owner else OTHER

        open_ = GaugeMetricFamily("syncwatch_exception_cases_open", "Exception cases not closed, by owner team, "
                                  "cause and state", labels=["owner", "cause", "state"])  # fmt: skip
        causes = keep_top(Counter(c.cause for c in cases), self.max_label_values, lambda n: -n, sum)
        counts: Counter[tuple[str, str, str]] = Counter(
            (owner(c.owner_team), c.cause if c.cause in causes else OTHER, c.state) for c in cases
        )
        # every known owner in every open state has a series from the start (cause "" at 0 until one opens), so
        # sums and absent() behave before the first case
        present = {(o, s) for o, _, s in counts}
        for o in per_owner:
            for s in (s for s in STATES if s not in CLOSED):
                if (o, s) not in present:
                    counts[(o, "", s)] = 0
        for (o, cause, s), n in sorted(counts.items()):
            open_.add_metric([o, cause, s], float(n))
        yield open_

        standing = sla_standing(cases, now, self._calendar_of)
        breaching = GaugeMetricFamily(
            "syncwatch_exception_cases_breaching",
            "Exception cases not closed and past their SLA due time",
            labels=["owner"],
        )
        at_risk = GaugeMetricFamily(
            "syncwatch_exception_cases_at_risk",
            f"Exception cases not closed, not yet due, that used at least {AT_RISK_SHARE:.0%} of their SLA",
            labels=["owner"],
        )
        for family, found in ((breaching, standing.breaching), (at_risk, standing.at_risk)):
            by_owner = Counter(owner(c.owner_team) for c in found)
            for o in per_owner:
                family.add_metric([o], float(by_owner.get(o, 0)))
        yield breaching
        yield at_risk

        closed_total = GaugeMetricFamily(
            "syncwatch_exception_cases_closed_30d", f"Exception cases closed in the last {ATTAINMENT_DAYS} days",
            labels=["owner"],
        )  # fmt: skip
        attainment = GaugeMetricFamily(
            "syncwatch_exception_sla_attainment_ratio",
            f"Share of the cases closed in the last {ATTAINMENT_DAYS} days that closed by their due time (no sample"
            " for a team that closed none)",
            labels=["owner"],
        )
        within: Counter[str] = Counter()
        total: Counter[str] = Counter()
        for name, good, n in closed:
            within[owner(name)] += good
            total[owner(name)] += n
        for o in per_owner:
            closed_total.add_metric([o], float(total.get(o, 0)))
            if total.get(o):
                attainment.add_metric([o], within[o] / total[o])
        yield closed_total
        yield attainment
