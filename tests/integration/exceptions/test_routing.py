"""A routing file named by SYNCWATCH_EXCEPTIONS_ROUTING_FILE routes the collector's cases: the owner team takes the
tenant from the case, the route's SLA sets the due time, the escalation team is in the case's opening audit entry;
a broken file stops the queue from starting rather than routing with defaults."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from cases.keeper import CaseKeeper
from cases.routing import RoutingError
from syncwatch.settings import Settings
from tests.conftest import ThreadedCollector, Tokens, auth
from tests.integration.exceptions.test_cases_from_hand_built_logs import dead_letter, rejection, z
from tests.integration.metrics.test_hand_built_logs import send

pytestmark = pytest.mark.integration

FRIDAY = datetime(2026, 11, 6, 15, 0, tzinfo=UTC)

ROUTING = """
sla: {P1: 2h, P2: 1d, P3: 3d}
route:
  owner_team: integrations
  escalation_team: duty-manager
  routes:
    - matchers: ['category=~".*period.*closed.*"']
      owner_team: "finance-ops-{tenant}"
      escalation_team: "controller-{tenant}"
      sla: 12h
    - matchers: ['kind="dead_letter"']
      severity: P1
"""


@pytest.fixture
def routed(tmp_path: Path, tokens: Tokens, settings: Settings) -> Iterator[ThreadedCollector]:
    """The file reaches the running keeper through the collector's settings (not only the environment)."""
    path = tmp_path / "routing.yaml"
    path.write_text(ROUTING, encoding="utf-8")
    quiet = Settings(**{**settings.model_dump(), "exceptions_maintenance_seconds": 0, "exceptions_routing_file": path})
    with ThreadedCollector(quiet) as running:
        yield running


def test_the_configured_file_routes_cases_with_team_templates_slas_and_escalation(
    routed: ThreadedCollector, tokens: Tokens
) -> None:
    send(routed, tokens, [rejection("E1", FRIDAY, 300.0, "PERIOD_CLOSED"),
                          dead_letter("M1", FRIDAY + timedelta(hours=6), "E1")])  # fmt: skip
    keeper = routed.app.state.exceptions.keeper
    assert isinstance(keeper, CaseKeeper)
    assert keeper.maintain().audit == {"opened": 2}
    r = httpx.get(f"{routed.url}/api/v1/exceptions", headers=auth(tokens["read"]), timeout=30)
    cases = {c["cause"]: c for c in r.json()["cases"]}
    closed = cases["erp_rejection:PERIOD_CLOSED"]
    assert (closed["owner_team"], closed["severity"]) == ("finance-ops-acme-us", "P2")
    assert closed["due_at"] == z(datetime(2026, 11, 9, 3, 0, tzinfo=UTC))  # 12 business hours from Friday 15:00
    letter = cases["dead_letter"]
    friday_23 = datetime(2026, 11, 6, 23, 0, tzinfo=UTC)  # the file's P1 is 2 h: Friday 21:00 + 2 h
    assert (letter["owner_team"], letter["severity"], letter["due_at"]) == ("integrations", "P1", z(friday_23))
    one = httpx.get(f"{routed.url}/api/v1/exceptions/{closed['case_id']}", headers=auth(tokens["read"]), timeout=30)
    opened = one.json()["history"][0]
    assert (opened["action"], opened["detail"]["escalation_team"]) == ("opened", "controller-acme-us")


def test_a_broken_routing_file_refuses_to_build_the_keeper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("route:\n  routes:\n    - matchers: ['tenant=~\"(\"']\n", encoding="utf-8")
    monkeypatch.setenv("SYNCWATCH_EXCEPTIONS_ROUTING_FILE", str(path))
    with pytest.raises(RoutingError, match=r"broken.yaml:3: route.routes.0.matchers.*bad regex"):
        CaseKeeper(lambda: None)  # type: ignore[arg-type,return-value]
