"""Rules as code: the packaged file loads; every mistake is reported with the rule and the field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alerts.config import BURN_RATE_PAIRS, load_config, parse_config
from alerts.errors import ConfigError

BASE = """
rules:
  - name: Sample
    kind: sli
    sli: time_posting_first_pass
    op: "<"
    threshold: 0.95
    severity: critical
    team: finance-systems
    runbook_url: https://runbooks.example/sample
    summary: "first pass {{ value | pct }}"
"""


def test_packaged_rules_load_and_generate_the_workbook_burn_rate_pairs() -> None:
    config = load_config()
    burn = [r for r in config.rules if r.kind == "burn_rate"]
    assert len(burn) == 3 * len(config.slos) >= 12
    freshness = [r for r in burn if r.sli == "resource_plan_freshness"]
    assert [(r.long_window, r.short_window, r.factor, r.severity) for r in freshness] == [
        (p[0], p[1], p[2], p[3]) for p in BURN_RATE_PAIRS
    ]
    first = [r for r in burn if r.sli == "time_posting_first_pass"]
    assert [r.factor for r in first] == [14.4, 6.0, 1.5]  # ticket_factor: its steady state burns near 1x
    assert [(p[0], p[1], p[2]) for p in BURN_RATE_PAIRS] == [("1h", "5m", 14.4), ("6h", "30m", 6.0), ("3d", "6h", 1.0)]
    for rule in config.rules:
        assert rule.runbook_url.startswith("https://") and rule.team and rule.severity


@pytest.mark.parametrize(
    ("change", "where", "field"),
    [
        (('op: "<"', 'op: "=>"'), "rule 'Sample'", "op"),
        (("threshold: 0.95", "threshold: 0.95\n    for: 5 minutes"), "rule 'Sample'", "for"),
        (("{{ value | pct }}", "{{ valeu | pct }}"), "rule 'Sample'", "summary"),
        (("kind: sli", "kind: sla"), "rule 'Sample'", "kind"),
        (("    sli: time_posting_first_pass\n", ""), "rule 'Sample'", "sli"),
        (("threshold: 0.95", "threshold: 0.95\n    clear_threshold: 0.9"), "rule 'Sample'", "clear_threshold"),
        (("runbook_url: https://runbooks.example/sample", "runbook_url: see wiki"), "rule 'Sample'", "runbook_url"),
        (("threshold: 0.95", "threshold: 0.95\n    colour: red"), "rule 'Sample'", "colour"),
    ],
)
def test_errors_name_the_rule_and_the_field(change: tuple[str, str], where: str, field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(BASE.replace(*change))
    assert (caught.value.where, caught.value.field) == (where, field)
    assert where in str(caught.value) and field in str(caught.value)


def test_routing_errors_name_the_route_and_receiver() -> None:
    with pytest.raises(ConfigError, match="unknown receiver 'pager'") as caught:
        parse_config(BASE + "route:\n  receiver: default\n  routes:\n    - receiver: pager\n")
    assert caught.value.where == "route.routes[0]"
    bad_receiver = BASE + "receivers:\n  - name: oncall\n    integrations:\n      - type: pagerduty\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(bad_receiver)
    assert caught.value.where == "receiver 'oncall'" and "routing_key" in caught.value.field
    with pytest.raises(ConfigError, match="defined more than once"):
        parse_config(BASE + BASE.replace("rules:\n", ""))


def test_secrets_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PD_KEY", "r0ut1ng")
    config = parse_config(
        BASE
        + "receivers:\n  - name: default\n    integrations:\n      - type: pagerduty\n        routing_key: ${PD_KEY}\n"
    )
    assert config.receivers["default"].integrations[0].routing_key == "r0ut1ng"


def test_period_close_interval_covers_the_month_end_and_start() -> None:
    config = load_config()
    close = config.time_intervals["period-close"]
    assert close.contains(datetime(2025, 2, 27, 12, tzinfo=UTC))  # second-to-last day of February
    assert close.contains(datetime(2025, 3, 3, 23, tzinfo=UTC))
    assert not close.contains(datetime(2025, 3, 4, 0, 1, tzinfo=UTC))
    assert not close.contains(datetime(2025, 3, 15, tzinfo=UTC))
