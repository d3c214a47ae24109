"""Flow silence per flow: a flow that delivered within its cadence is not silent and meets the objective; a flow
quiet for more than three cadences is silent and breaches it; the overall count agrees with the rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from clickhouse_connect.driver.client import Client

from metrics.evaluate import Evaluator
from metrics.query import Db
from metrics.slo import load_slos
from metrics.windows import Window
from tests.conftest import ThreadedCollector, Tokens
from tests.integration.metrics.test_hand_built_logs import posting, send

pytestmark = pytest.mark.integration

AS_OF = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
WINDOW = Window(AS_OF - timedelta(days=30), AS_OF)


def test_a_flow_heard_from_within_its_cadence_is_ok_and_a_quiet_one_breaches(
    collector: ThreadedCollector, tokens: Tokens, warehouse: Client
) -> None:
    fresh = posting("time_entry.posted", "E-FRESH", AS_OF - timedelta(seconds=159), 100.0, flow="psa-to-erp-time")
    quiet = posting("time_entry.posted", "E-QUIET", AS_OF - timedelta(hours=5), 100.0, flow="psa-timesheets")
    send(collector, tokens, [fresh, quiet])
    evaluator = Evaluator(load_slos())
    rows = evaluator.evaluate(Db(warehouse), window=WINDOW, names=["flow_silence"], by="flow")["flow_silence"]
    ok = rows["psa-to-erp-time"]
    assert ok.details["silent"] is False and ok.details["seconds_since_last"] == pytest.approx(159, abs=1)
    assert (ok.value, ok.status) == (0.0, "ok")
    silent = rows["psa-timesheets"]  # hourly, quiet for 5 h
    assert silent.details["silent"] is True and (silent.value, silent.status) == (1.0, "breach")
    whole = evaluator.evaluate(Db(warehouse), window=WINDOW, names=["flow_silence"])["flow_silence"][""]
    assert whole.value == sum(r.value or 0 for r in rows.values())
    assert {flow for flow, r in rows.items() if r.status == "breach"} == {
        flow for flow, r in rows.items() if r.details["silent"]
    }
