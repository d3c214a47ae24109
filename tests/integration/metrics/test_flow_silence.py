"""Flow silence on the edges: a fresh warehouse pages nothing; a flow never heard from in a long history does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from clickhouse_connect.driver.client import Client

from metrics.query import Db
from metrics.slis.flows import FlowSilence
from metrics.windows import Window

pytestmark = pytest.mark.integration


def _event(client: Client, flow: str, when: datetime) -> None:
    client.command(
        "INSERT INTO flow_activity SELECT {f:String}, 'acme', toStartOfHour({t:DateTime64(6, 'UTC')}),"
        " {t:DateTime64(6, 'UTC')}, uniqExactState('src', {f:String})",
        parameters={"f": flow, "t": when},
    )


def _status(client: Client, as_of: datetime) -> dict[str, dict[str, object]]:
    return FlowSilence().status(Db(client), Window(as_of - timedelta(days=30), as_of))


def test_a_fresh_warehouse_reports_no_flow_silent(warehouse: Client) -> None:
    flows = _status(warehouse, datetime.now(UTC))
    assert flows["psa-to-erp-time"]["never_seen"] is True
    assert not [f for f, s in flows.items() if s["silent"]], flows


def test_a_flow_never_heard_from_in_a_long_history_is_silent(warehouse: Client) -> None:
    now = datetime.now(UTC)
    _event(warehouse, "psa-timesheets", now - timedelta(days=10))
    _event(warehouse, "psa-timesheets", now - timedelta(minutes=20))
    flows = _status(warehouse, now)
    assert flows["psa-timesheets"]["silent"] is False
    assert flows["psa-timesheets"]["seconds_since_last"] == pytest.approx(1200, abs=5)
    # listened to for ten days (history reaches back that far): an hourly flow that never spoke is silent
    assert flows["psa-to-erp-time"]["silent"] is True
    assert flows["psa-to-erp-time"]["listened_seconds"] == pytest.approx(10 * 86400, abs=3600)
    # the monthly rate-card flow has not been due three times in ten days
    assert flows["psa-rate-cards"]["silent"] is False
