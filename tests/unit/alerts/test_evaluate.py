"""The state machine (pending, firing, resolved), hysteresis, the minimum-event guard, and summaries that state
numbers and the top offending records. Fixed datetimes, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from alerts.config import parse_config
from alerts.evaluate import Alert, evaluate
from alerts.signals import Finding, ProbeRun, ProbeState, SliValue

T0 = datetime(2025, 3, 12, 9, 0, tzinfo=UTC)
RULE = """
rules:
  - name: FirstPassLow
    kind: sli
    sli: time_posting_first_pass
    op: "<"
    threshold: 0.95
    {extra}
    severity: critical
    team: finance-systems
    runbook_url: https://runbooks.example/first-pass
    summary: "first pass {{{{ value | pct }}}} ({{{{ good | int }}}} of {{{{ total | int }}}})"
"""


def cfg(extra: str = "") -> object:
    return parse_config(RULE.format(extra=extra.replace("\n", "\n    ")))


def sli(value: float, total: float = 1000, at: datetime = T0) -> SliValue:
    return SliValue("time_posting_first_pass", "", "", at, value, value * total, total, 0.98, "ok", 0.5)


def run(config: object, values: list[float], step: int = 15, total: float = 1000) -> list[list[str]]:
    alerts: dict[str, Alert] = {}
    states = []
    for i, v in enumerate(values):
        now = T0 + timedelta(seconds=step * i)
        evaluate(config, [sli(v, total, now)], ProbeState(), now, alerts)  # type: ignore[arg-type]
        states.append(sorted(a.state for a in alerts.values()))
    return states


def test_for_makes_it_pending_then_firing_then_resolved() -> None:
    states = run(cfg("for: 30s"), [0.99, 0.90, 0.90, 0.90, 0.99])
    assert states == [[], ["pending"], ["pending"], ["firing"], ["resolved"]]


def test_a_blip_shorter_than_for_never_fires() -> None:
    assert run(cfg("for: 1m"), [0.90, 0.90, 0.99, 0.90, 0.99]) == [["pending"], ["pending"], [], ["pending"], []]


def test_keep_firing_for_holds_through_a_short_recovery() -> None:
    states = run(cfg("keep_firing_for: 1m"), [0.90, 0.99, 0.99, 0.99, 0.99, 0.99])
    assert states == [["firing"]] * 4 + [["resolved"]] * 2


def test_hysteresis_stops_flapping_around_the_threshold() -> None:
    wobble = [0.949, 0.951, 0.949, 0.952, 0.948, 0.951, 0.953, 0.949, 0.97, 0.97]
    plain = run(cfg(), wobble)
    with_band = run(cfg("clear_threshold: 0.96"), wobble)
    flips = lambda states: sum(1 for a, b in zip(states, states[1:], strict=False) if a != b)  # noqa: E731
    assert flips(plain) >= 6  # without a band the alert flaps on every wobble
    assert with_band[:8] == [["firing"]] * 8 and with_band[8] == ["resolved"]


def test_min_events_guard_keeps_a_quiet_flow_from_paging() -> None:
    quiet = run(cfg("min_events: 50"), [0.5, 0.5, 0.5], total=4)  # 2 failures of 4 entries
    busy = run(cfg("min_events: 50"), [0.5], total=400)
    assert quiet == [[], [], []] and busy == [["firing"]]


def test_summary_states_the_numbers() -> None:
    alerts: dict[str, Alert] = {}
    evaluate(cfg(), [sli(0.9)], ProbeState(), T0, alerts)  # type: ignore[arg-type]
    (alert,) = alerts.values()
    assert alert.annotations["summary"] == "first pass 90.0% (900 of 1000)"
    assert alert.labels == {"alertname": "FirstPassLow", "severity": "critical", "team": "finance-systems",
                            "sli": "time_posting_first_pass"}  # fmt: skip
    assert alert.annotations["runbook_url"] == "https://runbooks.example/first-pass"


def _finding(i: int, project: str, amount: str, age_h: float = 30) -> Finding:
    return Finding("time_posting", "approved_not_posted", "erp", "acme-us", "time_entry", f"TE-{i}", project,
                   f"C-{i}", age_h * 3600, Decimal(amount), "USD", {})  # fmt: skip


def test_approved_not_posted_summary_names_money_and_top_projects() -> None:
    from alerts.config import load_config

    config = load_config()
    rule = config.rule("ApprovedTimeNotPosted")
    findings = [_finding(i, "PRJ-7", "1000") for i in range(30)] + [
        _finding(100 + i, "PRJ-2", "1600") for i in range(7)
    ]
    findings.append(_finding(999, "PRJ-9", "5000", age_h=2))  # younger than 24 h: not counted
    probes = ProbeState([ProbeRun("r1", "time_posting", "erp", T0, "mismatch", len(findings), "")], findings)
    alerts: dict[str, Alert] = {}
    single = type(config)(rules=(rule,), route=config.route, receivers=config.receivers, inhibit_rules=(),
                          time_intervals={})  # fmt: skip
    evaluate(single, [], probes, T0, alerts)
    (alert,) = alerts.values()
    summary = alert.annotations["summary"]
    assert summary.startswith("37 approved entries worth USD 41,200 not posted for over 24 h on flow psa-to-erp-time")
    assert "top projects PRJ-7 (30, USD 30,000); PRJ-2 (7, USD 11,200)" in summary
    assert alert.state == "firing" and alert.labels["target_system"] == "erp"
    # the findings go away: the alert resolves
    evaluate(single, [], ProbeState([ProbeRun("r2", "time_posting", "erp", T0, "ok", 0, "")], []),
             T0 + timedelta(minutes=5), alerts)  # fmt: skip
    assert [a.state for a in alerts.values()] == ["resolved"]


def test_absent_data_rules_fire_for_a_silent_probe_and_silent_metrics() -> None:
    from alerts.config import load_config

    config = load_config()
    only = tuple(r for r in config.rules if r.name in ("ProbeSilent", "SliSnapshotsSilent"))
    cfg2 = type(config)(rules=only, route=config.route, receivers={}, inhibit_rules=(), time_intervals={})
    stale = T0 - timedelta(hours=1)
    probes = ProbeState([ProbeRun("r", "time_posting", "erp", stale, "ok", 0, ""),
                         ProbeRun("q", "workers", "hcm", T0, "ok", 0, "")])  # fmt: skip
    alerts: dict[str, Alert] = {}
    evaluate(cfg2, [sli(0.99, at=stale)], probes, T0, alerts)
    evaluate(cfg2, [sli(0.99, at=stale)], probes, T0 + timedelta(minutes=3), alerts)
    firing = {a.labels.get("probe") or a.labels["sli"]: a for a in alerts.values() if a.state == "firing"}
    assert set(firing) == {"time_posting", "time_posting_first_pass"}
    assert "has not run for 63 min" in firing["time_posting"].annotations["summary"]
    # Before anything ran at all (a fresh start): said so, never "for an unknown time".
    fresh: dict[str, Alert] = {}
    evaluate(cfg2, [], ProbeState(), T0, fresh)
    summaries = sorted(a.annotations["summary"] for a in fresh.values())
    assert summaries == [
        "No SLI snapshot yet: the metrics job is not running, so SLO alerts are blind",
        "No probe has run yet (limit 30 min)",
    ]


def test_burn_rate_needs_both_windows() -> None:
    from alerts.config import load_config

    config = load_config()
    fast = config.rule("TimePostingFirstPassBurnRate1h")
    cfg2 = type(config)(rules=(fast,), route=config.route, receivers={}, inhibit_rules=(), time_intervals={})

    def row(b1h: float, b5m: float) -> SliValue:
        return SliValue("time_posting_first_pass", "", "", T0, 0.7, 700, 1000, 0.98, "breach", 0.2,
                        {"1h": b1h, "5m": b5m})  # fmt: skip

    for b1h, b5m, fires in [(20, 2, False), (2, 20, False), (15.2, 15.3, True)]:
        alerts: dict[str, Alert] = {}
        evaluate(cfg2, [row(b1h, b5m)], ProbeState(), T0, alerts)
        assert bool(alerts) is fires, (b1h, b5m)
    assert "burns its error budget 15.2x (1h) and 15.3x (5m)" in next(iter(alerts.values())).annotations["summary"]


def test_erp_unreachable_needs_an_erp_failure_of_the_reachability_probe() -> None:
    from alerts.config import load_config

    config = load_config()
    only = type(config)(rules=(config.rule("ErpUnreachable"),), route=config.route, receivers={}, inhibit_rules=(),
                        time_intervals={})  # fmt: skip

    def run(error: str, probe: str = "erp_reachability") -> list[str]:
        alerts: dict[str, Alert] = {}
        probes = ProbeState([ProbeRun("r", probe, "erp", T0, "failed", 0, error)])
        evaluate(only, [], probes, T0, alerts)
        return [a.state for a in alerts.values()]

    assert run("crm: POST /services/oauth2/token: ConnectError: [Errno 111] Connection refused") == []
    # No `for`: the first failed run pages.
    assert run("erp: POST /services/rest/query/v1/suiteql answered 503 (after 4 attempts)") == ["firing"]
    # A heavy probe's failure stands until its next run (an hour for some): the 30-second probe is the judge.
    erp_down = "erp: POST /services/rest/query/v1/suiteql answered 503 (after 4 attempts)"
    assert run(erp_down, probe="project_master_data") == []


def test_failing_now_guards_on_the_five_minute_volume_and_states_it() -> None:
    """The default fast page: 70% of the last 5 minutes' first attempts failing, with at least 10 of them; the
    30-day total says nothing about whether 5 minutes hold enough attempts to judge."""
    from alerts.config import load_config

    config = load_config()
    rule = config.rule("TimePostingFailingNow")
    only = type(config)(rules=(rule,), route=config.route, receivers={}, inhibit_rules=(), time_intervals={})

    def row(judged: float, bad: float) -> SliValue:
        burn = bad / judged / 0.03 if judged else None  # the packaged 97% objective allows 3%
        details = {"windows": {"5m": {"judged": judged, "bad": bad}, "1h": {"judged": 400.0, "bad": bad}}}
        return SliValue("time_posting_first_pass", "", "", T0, 0.96, 9600, 10000, 0.97, "warning", 0.4,
                        {"5m": burn}, details)  # fmt: skip

    for judged, bad, fires in [(6, 6, False), (9, 9, False), (40, 27, False), (40, 28, True), (0, 0, False)]:
        alerts: dict[str, Alert] = {}
        evaluate(only, [row(judged, bad)], ProbeState(), T0, alerts)  # type: ignore[arg-type]
        assert bool(alerts) is fires, (judged, bad)
    alerts = {}
    evaluate(only, [row(40, 28)], ProbeState(), T0, alerts)  # type: ignore[arg-type]
    summary = next(iter(alerts.values())).annotations["summary"]
    assert summary.startswith("28 of 40 first attempts to post time to ERP in the last 5m failed (burning"), summary


def test_min_events_window_must_be_a_burn_window() -> None:
    import pytest

    from alerts.errors import ConfigError

    with pytest.raises(ConfigError, match="field 'min_events_window': burn window '2m' is not one of 5m"):
        cfg("min_events: 5\nmin_events_window: 2m")


def test_rejections_now_need_three_consultants_beyond_normal_and_say_the_code() -> None:
    """The default page on a burst of one non-retryable ERP error: the SLI's value is consultants beyond 5x the
    code's normal rate; the summary carries the code, the counts and projects from the details."""
    from alerts.config import load_config

    config = load_config()
    only = type(config)(rules=(config.rule("TimeRejectedByErpNow"),), route=config.route, receivers={},
                        inhibit_rules=(), time_intervals={})  # fmt: skip
    text = "RATE_CARD_MISSING_OR_EXPIRED: 9 entries of 4 consultants in 5 min (normally 0.01 consultants), e.g. PRJ-1"

    def row(value: float) -> SliValue:
        return SliValue("time_posting_rejections", "", "", T0, value, 0, 0, 0.0, "breach", None, {},
                        {"top_code": "RATE_CARD_MISSING_OR_EXPIRED", "top_text": text})  # fmt: skip

    for value, fires in [(0.0, False), (2.95, False), (3.0, True), (12.0, True)]:
        alerts: dict[str, Alert] = {}
        evaluate(only, [row(value)], ProbeState(), T0, alerts)
        assert bool(alerts) is fires, value
    summary = next(iter(alerts.values())).annotations["summary"]
    assert summary == f"The ERP rejects time for one reason, and retries will not post it: {text}"


def _stopped(name: str, reason: str, age_s: float, source: str = "psa", target: str = "erp") -> Finding:
    detail = {"flow": name, "status": "stopped", "status_reason": reason, "source_system": source,
              "target_system": target, "last_execution_at": "2025-03-12T08:41:00Z"}  # fmt: skip
    return Finding("integration_runtime", "integration_stopped", "middleware", "", "integration", name, "", "",
                   age_s, None, "", detail)  # fmt: skip


def test_integration_stopped_pages_once_per_integration_and_says_why() -> None:
    from alerts.config import load_config

    config = load_config()
    single = type(config)(rules=(config.rule("IntegrationStopped"),), route=config.route, receivers={},
                          inhibit_rules=(), time_intervals={})  # fmt: skip

    def state(*findings: Finding) -> ProbeState:
        run = ProbeRun("r", "integration_runtime", "middleware", T0, "mismatch" if findings else "ok", 1, "")
        return ProbeState([run], list(findings))

    alerts: dict[str, Alert] = {}
    time = _stopped("psa-to-erp-time", "listener stopped after repeated connection errors", 95)
    hcm = _stopped("hcm-to-psa-workers", "schedule disabled", 600, "hcm", "psa")
    evaluate(single, [], state(time, hcm), T0, alerts)
    by_flow = {a.labels["flow"]: a for a in alerts.values()}
    assert sorted(by_flow) == ["hcm-to-psa-workers", "psa-to-erp-time"]
    assert all(a.state == "firing" and a.severity == "critical" for a in by_flow.values())  # no `for`
    assert by_flow["psa-to-erp-time"].annotations["summary"] == (
        "Integration psa-to-erp-time (psa to erp) has been stopped in the middleware for 95 s: listener stopped"
        " after repeated connection errors; its records wait until it runs again"
    )
    assert by_flow["psa-to-erp-time"].annotations["description"] == (
        "Last execution 2025-03-12T08:41:00Z. What it leaves waiting: approved time,"
        " GET /api/v1/slis/time_posting_pickup/records."
    )
    assert "resource_plan_freshness/records" in by_flow["hcm-to-psa-workers"].annotations["description"]
    # The time connector runs again: its alert resolves after keep_firing_for, the HCM sync's stays.
    evaluate(single, [], state(hcm), T0 + timedelta(seconds=30), alerts)
    assert {a.labels["flow"]: a.state for a in alerts.values()}["psa-to-erp-time"] == "firing"
    evaluate(single, [], state(hcm), T0 + timedelta(minutes=3), alerts)
    assert {a.labels["flow"]: a.state for a in alerts.values()} == {
        "psa-to-erp-time": "resolved", "hcm-to-psa-workers": "firing"}  # fmt: skip


def test_split_by_is_only_for_findings_and_cannot_overwrite_the_rules_labels() -> None:
    import pytest

    from alerts.errors import ConfigError

    base = RULE.format(extra="")
    with pytest.raises(ConfigError, match="field 'split_by': only probe_finding"):
        parse_config(base.replace("    op:", "    split_by: flow\n    op:"))
    finding_rule = base.replace("kind: sli\n    sli: time_posting_first_pass", "kind: probe_finding\n    finding: x")
    with pytest.raises(ConfigError, match="field 'split_by': 'system' would overwrite"):
        parse_config(finding_rule.replace("    op:", "    split_by: system\n    op:"))


def test_a_period_closed_early_pages_with_the_periods() -> None:
    from alerts.config import load_config

    config = load_config()
    single = type(config)(rules=(config.rule("AccountingPeriodClosedEarly"),), route=config.route, receivers={},
                          inhibit_rules=(), time_intervals={})  # fmt: skip
    found = [
        Finding("erp_reachability", "period_closed_early", "erp", t, "accounting_period", f"{t}/2026-12", "", "",
                0.0, None, "", {"period": "2026-12", "subsidiary": t})
        for t in ("acme-uk", "acme-us")
    ]  # fmt: skip
    alerts: dict[str, Alert] = {}
    run = ProbeRun("r", "erp_reachability", "erp", T0, "mismatch", 2, "")
    evaluate(single, [], ProbeState([run], found), T0, alerts)
    (alert,) = alerts.values()
    assert alert.state == "firing" and alert.labels["target_system"] == "erp"
    assert alert.annotations["summary"] == (
        "The ERP has closed 2 accounting periods that time still posts to (acme-uk/2026-12, acme-us/2026-12):"
        " postings of time worked in them fail PERIOD_CLOSED until reopened"
    )


def _covered(name: str, lowest: float, at: datetime, left: dict[str, object] | None = None) -> SliValue:
    coverage = {"lowest_ratio": lowest, "left_out": left or {}}
    return SliValue(name, "", "", at, 2.0, 90, 100, 3.0, "partial", None, details={"coverage": coverage})


def test_coverage_rule_opens_a_ticket_per_sli_that_stays_short_and_pages_no_one() -> None:
    from alerts.config import load_config

    config = load_config()
    rule = config.rule("SliCoverageDropped")
    assert rule.severity == "warning"  # a ticket, not a page
    single = type(config)(rules=(rule,), route=config.route, receivers=config.receivers, inhibit_rules=(),
                          time_intervals={})  # fmt: skip
    left = {"unknown_billing_type": {"count": 120, "money": {"EUR": 41200.0}}}
    alerts: dict[str, Alert] = {}
    for minutes in (0, 15, 31):
        at = T0 + timedelta(minutes=minutes)
        rows = [_covered("invoice_readiness_lag", 0.9, at, left), _covered("time_posting_first_pass", 0.995, at)]
        evaluate(single, rows, ProbeState(), at, alerts)
    (alert,) = alerts.values()  # the SLI that measured 99.5% is complete enough
    assert alert.state == "firing" and alert.labels["sli"] == "invoice_readiness_lag"
    assert alert.annotations["summary"] == (
        "invoice_readiness_lag could measure only 90.0% of what it considered; left out: 120 unknown_billing_type"
        " (EUR 41,200)"
    )
