"""A system that is not up yet is not an outage: a probe that has never had an answer reports `unreached` when
nothing listens, `failed` once it has answered and then stops answering, and remembers its first answer across a
restart (through the warehouse), so a restart during an outage still pages."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from clickhouse_connect.driver.client import Client

from probes.config import parse_probes_file
from probes.fleet import ProbeFleet
from probes.model import Outcome
from probes.store import probes_that_answered, write_run
from simulator.apis.app import create_app
from tests.conftest import free_port

from .probe_support import estate_config, serve, set_secrets, simulate

pytestmark = pytest.mark.integration


def test_no_answer_yet_is_unreached_and_no_answer_after_one_is_an_outage(
    monkeypatch: pytest.MonkeyPatch, warehouse: Client
) -> None:
    set_secrets(monkeypatch)
    sim = simulate(days=15)
    port = free_port()
    config = estate_config(f"http://127.0.0.1:{port}", erp={"max_retries": 0})
    config["builtin"] = {}
    fleet = ProbeFleet(parse_probes_file(config), now=lambda: sim.now)
    try:
        before = fleet.run("erp_reachability")  # nothing listens on the port yet
        assert before.outcome is Outcome.UNREACHED and "erp" in before.error, before.error
        with serve(create_app(sim), port=port):
            up = fleet.run("erp_reachability")
        assert up.outcome is Outcome.OK, up.error
        write_run(warehouse, replace(up, started_at=time.time()))  # the simulated firm's clock is years back
        after = fleet.run("erp_reachability")  # the same refused connection, now from a system that worked
        assert after.outcome is Outcome.FAILED and after.error.startswith("erp: "), after.error
    finally:
        fleet.close()

    # A new process (a restart) knows from the warehouse which probes have answered; the others still start unreached.
    restarted = ProbeFleet(parse_probes_file(config), now=lambda: sim.now)
    try:
        restarted.answered.update(probes_that_answered(warehouse))
        assert restarted.answered == {"erp_reachability"}
        assert restarted.run("erp_reachability").outcome is Outcome.FAILED
        assert restarted.run("time_posting").outcome is Outcome.UNREACHED
    finally:
        restarted.close()
