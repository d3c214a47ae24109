"""Routing as code: the packaged file routes as the documented defaults, a custom file's tree is walked as the alert
routing's, teams may name labels, and a bad or incomplete file is refused with file, line and field."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cases.calendar import UTC_WEEKDAYS, BusinessCalendar
from cases.model import Evidence, route
from cases.routing import RoutingError, check, labels_of, load_policy, parse_policy
from syncwatch.cli import app as cli

T = datetime(2026, 11, 6, 15, 0, tzinfo=UTC)


def evidence(kind: str, cause: str, **extra: object) -> Evidence:
    return Evidence(kind, cause, "K1", T, T, 1, **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "cause", "owner", "escalation", "severity", "sla"),
    [
        ("erp_rejection", "erp_rejection:PERIOD_CLOSED", "finance-ops", "finance-controller", "P2", 86400),
        ("exception", "exception:time_posting.closed_period", "finance-ops", "finance-controller", "P2", 86400),
        ("erp_rejection", "erp_rejection:INVALID_PROJECT_OR_ASSIGNMENT", "project-operations", "pmo", "P2", 86400),
        ("erp_rejection", "erp_rejection:MISSING_COST_CENTER", "integrations", "integration-leads", "P3", 3 * 86400),
        ("erp_rejection", "erp_rejection:DUPLICATE_RECORD", "integrations", "integration-leads", "P3", 3 * 86400),
        ("erp_rejection", "erp_rejection:ERP_UNAVAILABLE", "integrations", "integration-leads", "P2", 86400),
        ("dead_letter", "dead_letter", "integrations", "integration-leads", "P1", 4 * 3600),
        ("unknown_billing_type", "unknown_billing_type", "project-operations", "pmo", "P3", 3 * 86400),
        ("probe_finding", "probe_finding:approved_not_posted", "integrations", "finance-ops", "P2", 86400),
        ("probe_finding", "probe_finding:duplicate_posting", "finance-ops", "finance-controller", "P2", 86400),
        ("probe_finding", "probe_finding:rate_card_expiring", "project-operations", "pmo", "P2", 86400),
        ("probe_finding", "probe_finding:project_mismatch", "project-operations", "pmo", "P3", 3 * 86400),
        ("probe_finding", "probe_finding:worker_not_synced", "integrations", "integration-leads", "P3", 3 * 86400),
    ],
)
def test_the_packaged_file_routes_as_the_documented_defaults(
    kind: str, cause: str, owner: str, escalation: str, severity: str, sla: float
) -> None:
    got = load_policy().route(evidence(kind, cause))
    assert (got.owner_team, got.escalation_team, got.severity, got.sla_seconds) == (owner, escalation, severity, sla)


def test_a_severity_the_source_gave_is_kept_and_sets_the_sla() -> None:
    got = load_policy().route(evidence("exception", "exception:time_posting.rate_card", severity="P1"))
    assert (got.owner_team, got.severity, got.sla_seconds) == ("project-operations", "P1", 4 * 3600)
    assert route("exception", "invoice_posting", "P3").severity == "P3"


def test_the_packaged_file_has_no_unroutable_cause_and_the_default_calendar() -> None:
    policy = load_policy()
    assert check(policy) == []
    assert policy.calendar("acme-us") is UTC_WEEKDAYS


CUSTOM = """
sla: {P1: 2h, P2: 8h, P3: 1d}
route:
  escalation_team: duty-manager
  routes:
    - matchers: ['category=~".*period.*closed.*"']
      owner_team: "finance-ops-{tenant}"
      routes:
        - matchers: ['customer="Globex"']
          severity: P1
    - matchers: ['system=~"(.*,)?erp(,.*)?"', 'flow="psa-to-erp-time"']
      owner_team: erp-team
      sla: 30m
    - matchers: ['kind="dead_letter"']
      owner_team: integrations
calendars:
  acme-de: {time_zone: Europe/Berlin, hours: "09:00-17:00", country: DE, subdivision: BY}
"""


def test_a_custom_tree_inherits_fills_teams_from_labels_and_sets_route_slas() -> None:
    policy = parse_policy(CUSTOM, source="custom.yaml")
    closed = policy.route(evidence("erp_rejection", "erp_rejection:PERIOD_CLOSED", tenant="acme-de"))
    assert (closed.owner_team, closed.escalation_team, closed.severity, closed.sla_seconds) == (
        "finance-ops-acme-de", "duty-manager", "P2", 8 * 3600)  # fmt: skip
    vip = policy.route(evidence("erp_rejection", "erp_rejection:PERIOD_CLOSED", tenant="t", customer="Globex"))
    assert (vip.owner_team, vip.severity, vip.sla_seconds) == ("finance-ops-t", "P1", 2 * 3600)
    erp = policy.route(evidence("erp_rejection", "erp_rejection:X", systems=("erp", "psa"), flow="psa-to-erp-time"))
    assert (erp.owner_team, erp.sla_seconds) == ("erp-team", 1800)
    assert policy.resolve(labels_of(kind="erp_rejection", cause="erp_rejection:X", systems=("erpx",))).path == "0"
    assert isinstance(policy.calendar("acme-de"), BusinessCalendar)
    assert policy.calendar("other") is UTC_WEEKDAYS


def test_check_names_every_cause_no_route_gives_an_owner() -> None:
    problems = check(parse_policy(CUSTOM, source="custom.yaml"))
    causes = {p.split("cause ")[1].split(" ")[0] for p in problems}
    assert "erp_rejection:INVALID_PROJECT_OR_ASSIGNMENT" in causes and "unknown_billing_type" in causes
    assert "dead_letter" not in causes and "erp_rejection:PERIOD_CLOSED" not in causes
    assert all(p.startswith("custom.yaml: unroutable: cause ") for p in problems)


@pytest.mark.parametrize(
    ("text", "where", "says"),
    [
        ("route:\n  routes:\n    - matchers: ['tenant=~\"(\"']\n", "f.yaml:3", "bad regex"),
        ("route:\n  routes:\n    - owner_team: x\n      matchers: ['queue=\"a\"']\n", "f.yaml:4", "not a case label"),
        ("sla: {P1: 4h, P9: 1d}\n", "f.yaml:1", "'P9' is not one of"),
        ("sla: {P1: soon}\n", "f.yaml:1", "not a duration"),
        ("route:\n  severity: P7\n", "f.yaml:2", "'P7' is not one of"),
        ("route:\n  owner_team: 'ops-{region}'\n", "f.yaml:2", "{region}"),
        ("route:\n  routes: [\n", "f.yaml:3", "not valid YAML"),
        ("route:\n  recevier: x\n", "f.yaml:2", "Extra inputs"),
        ("calendars:\n  acme:\n    time_zone: Mars/Base\n", "f.yaml:3", "unknown time zone 'Mars/Base'"),
        ("calendars:\n  acme:\n    hours: 17:00-09:00\n", "f.yaml:3", "start before the end"),
        ("calendars:\n  acme:\n    country: XX\n", "f.yaml:3", "Country XX not available"),
        ("- just a list\n", "f.yaml", "top level must be a mapping"),
    ],
)
def test_a_bad_file_is_refused_naming_file_line_and_field(text: str, where: str, says: str) -> None:
    with pytest.raises(RoutingError) as caught:
        parse_policy(text, source="f.yaml")
    assert caught.value.where == where, str(caught.value)
    assert says in str(caught.value)


def test_check_routing_command(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(cli, ["exceptions", "check-routing"])
    assert ok.exit_code == 0 and "routing.yaml: ok" in ok.output, ok.output
    partial = tmp_path / "partial.yaml"
    partial.write_text(CUSTOM, encoding="utf-8")
    bad = runner.invoke(cli, ["exceptions", "check-routing", str(partial)])
    assert bad.exit_code == 1 and "unroutable: cause unknown_billing_type" in bad.output
    broken = tmp_path / "broken.yaml"
    broken.write_text("route:\n  routes:\n    - matchers: ['kind=~\"[\"']\n", encoding="utf-8")
    refused = runner.invoke(cli, ["exceptions", "check-routing", str(broken)])
    assert refused.exit_code == 1 and f"{broken}:3" in refused.output and "bad regex" in refused.output
