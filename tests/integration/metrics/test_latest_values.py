"""Latest values kept as max((time, value)) (migration 0006), entries' codes once 0008's hash is dropped (0010),
entries' project numbers (0011), the argMax states dropped (0012), and amounts and currencies as numbers (0013).

An upgraded warehouse keeps every value it had, including those whose events have expired, and afterwards the
latest event still wins whatever order events arrive in: a late event older than a stored value does not replace
it, a newer one does, and two events at the same instant resolve the same way every time."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from clickhouse_connect.driver.client import Client

from metrics.slis._scan import billable_entries
from metrics.state import ASSIGNMENTS, ENTRIES, PROJECT_VIEWS, RATE_CARDS
from syncwatch.settings import Settings
from syncwatch.warehouse import applied_versions, apply_migrations, connect
from syncwatch.warehouse.migrations import load_migrations

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
_COLUMNS = ["time", "received_at", "source", "id", "type", "canonical_type", "known_type", "tenant_id",
            "source_system", "target_system", "entry_id", "project_code", "assignment_id", "hours", "amount",
            "currency", "data"]  # fmt: skip


def event(kind: str, when: datetime, *, data: dict[str, Any] | None = None, **keys: Any) -> list[Any]:
    values = {"entry_id": "", "project_code": "", "assignment_id": "", "hours": None, "amount": None,
              "currency": "USD", "source_system": "psa", "target_system": "", **keys}  # fmt: skip
    return [when, when, "test", uuid.uuid4().hex, kind, kind, True, "T1", values["source_system"],
            values["target_system"], values["entry_id"], values["project_code"], values["assignment_id"],
            values["hours"], values["amount"], values["currency"], orjson.dumps(data or {}).decode()]  # fmt: skip


def project(code: str, when: datetime, billing_type: str, status: str = "active") -> list[Any]:
    data = {"status": status, "customer_id": "C1", "billing_type": billing_type}
    return event("project.created", when, data=data, project_code=code, source_system="crm", target_system="psa")


def priced(entry: str, when: datetime, amount: float) -> list[Any]:
    return event("time_entry.post_requested", when, entry_id=entry, project_code="P1", hours=amount / 100,
                 amount=amount)  # fmt: skip


def failed(entry: str, when: datetime, code: str) -> list[Any]:
    data = {"error_category": "validation", "error_code": code, "retryable": True}
    return event("time_entry.post_failed", when, data=data, entry_id=entry, project_code="P1")


def planned(assignment: str, when: datetime, hours: float) -> list[Any]:
    data = {"role": "consultant", "status": "CONFIRMED", "start_date": "2026-11-02", "end_date": "2026-11-27",
            "planned_hours": hours}  # fmt: skip
    return event("assignment.changed", when, data=data, assignment_id=assignment, project_code="P1")


def card(when: datetime, end_date: str) -> list[Any]:
    data = {"rate_card_id": "RC1", "role": "consultant", "customer_id": "C1", "start_date": "2026-01-01",
            "end_date": end_date, "bill_rate": 150.0}  # fmt: skip
    return event("rate_card.changed", when, data=data)


@pytest.fixture
def before_0006(settings: Settings) -> Iterator[Client]:
    """A warehouse whose schema stopped at migration 0005 (argMax states)."""
    client = connect(settings)
    assert applied_versions(client) == set()
    for migration in load_migrations():
        if migration.version < 6:
            for statement in migration.statements(settings.retention_days):
                client.command(statement)
            client.insert("schema_migrations", [[migration.version, migration.name, migration.checksum]],
                          column_names=["version", "name", "checksum"])  # fmt: skip
    yield client
    client.command(f"DROP DATABASE IF EXISTS `{settings.database}`")


def store(client: Client, *events: list[Any]) -> None:
    client.insert("events", list(events), column_names=_COLUMNS)


def values(client: Client) -> dict[str, Any]:
    def one(sql: str) -> tuple[Any, ...]:
        rows = client.query(sql).result_rows
        assert len(rows) == 1, (sql, rows)
        return tuple(rows[0])

    return {
        "P1": one(f"SELECT billing_type, status FROM ({PROJECT_VIEWS}) WHERE project_key = 'P1'"),
        "P2": one(f"SELECT billing_type, status FROM ({PROJECT_VIEWS}) WHERE project_key = 'P2'"),
        "E1": one(f"SELECT amount, hours, last_error FROM ({ENTRIES}) WHERE entry_id = 'E1'"),
        "A1": one(f"SELECT planned_hours FROM ({ASSIGNMENTS}) WHERE assignment_id = 'A1'"),
        "RC1": one(f"SELECT toString(end_date) FROM ({RATE_CARDS})"),
    }


def argmax_values(client: Client) -> dict[str, Any]:
    """The same values read from the argMax states, as before the migration."""

    def one(sql: str) -> tuple[Any, ...]:
        (row,) = client.query(sql).result_rows
        return tuple(row)

    project = """SELECT finalizeAggregation(billing_type), finalizeAggregation(status) FROM project_state FINAL
                 WHERE project_key = '{}' AND system = 'psa'"""
    return {
        "P1": one(project.format("P1")),
        "P2": one(project.format("P2")),
        "E1": one("""SELECT finalizeAggregation(amount), finalizeAggregation(hours), finalizeAggregation(last_error)
                     FROM entry_state FINAL WHERE entry_id = 'E1'"""),
        "A1": one("SELECT finalizeAggregation(planned_hours) FROM assignment_state FINAL"),
        "RC1": one("SELECT toString(finalizeAggregation(end_date)) FROM rate_card_state FINAL"),
    }


def test_upgrade_keeps_every_value_and_the_latest_event_still_wins(before_0006: Client, settings: Settings) -> None:
    client = before_0006
    store(client, project("P1", T0, "fixed_fee"), project("P1", T0 + 3 * H, "time_and_materials"),
          project("P2", T0, "fixed_fee"), priced("E1", T0, 100.0), priced("E1", T0 + 3 * H, 150.0),
          failed("E1", T0 + H, "BAD_PROJECT"), failed("E1", T0 + 2 * H, "BAD_RATE"), planned("A1", T0 + H, 40.0),
          card(T0, "2026-12-31"))  # fmt: skip
    # P2's events have expired (retention): its state alone remembers it.
    client.command("ALTER TABLE events DELETE WHERE project_code = 'P2'", settings={"mutations_sync": 2})
    before = argmax_values(client)
    assert before["P1"] == ("time_and_materials", "active") and before["P2"] == ("fixed_fee", "active")

    # Every later one but 0012: the crash-rerun of 0006 below is only possible before 0012 drops the states it reads
    # (the readers need 0013's columns, which read none of them).
    upgraded = [m for m in load_migrations() if m.version >= 6 and m.version != 12]
    for migration in upgraded:
        for statement in migration.statements(settings.retention_days):
            client.command(statement)
        client.insert("schema_migrations", [[migration.version, migration.name, migration.checksum]],
                      column_names=["version", "name", "checksum"])  # fmt: skip
    assert values(client) == before

    # Late events older than the stored values change nothing; newer ones replace them, P2's too.
    store(client, project("P1", T0 + 2 * H, "fixed_fee"), priced("E1", T0 + 2 * H, 120.0),
          failed("E1", T0 + timedelta(minutes=30), "EARLY"), planned("A1", T0, 10.0),
          card(T0 - H, "2026-06-30"), project("P2", T0 + H, "time_and_materials", status="closed"))  # fmt: skip
    after = values(client)
    assert after["P1"] == before["P1"] and after["E1"] == before["E1"]
    assert after["A1"] == before["A1"] and after["RC1"] == before["RC1"]
    assert after["P2"] == ("time_and_materials", "closed")

    store(client, priced("E1", T0 + 4 * H, 90.0), planned("A1", T0 + 2 * H, 32.0), card(T0 + H, "2027-03-31"))
    newest = values(client)
    assert newest["E1"][:2] == (90.0, 0.9) and newest["A1"] == (32.0,) and newest["RC1"] == ("2027-03-31",)

    # Running the migration's statements again (a crash before it was recorded) changes nothing.
    (migration,) = [m for m in load_migrations() if m.version == 6]
    for statement in migration.statements(settings.retention_days):
        client.command(statement)
    assert values(client) == newest

    # 0012 drops the argMax states (and the views that still filled them): every value stays, new events still
    # reach the state through the views that replace them, and running it again changes nothing.
    assert [m.version for m in apply_migrations(client, settings.retention_days)] == [12]
    assert values(client) == newest
    legacy = """SELECT count() FROM system.columns
                WHERE database = currentDatabase() AND type LIKE 'AggregateFunction(argMax%'"""
    assert client.query(legacy).result_rows == [(0,)]
    (drop,) = [m for m in load_migrations() if m.version == 12]
    for statement in drop.statements(settings.retention_days):
        client.command(statement)
    store(client, priced("E1", T0 + 5 * H, 80.0))
    assert values(client)["E1"][:2] == (80.0, 0.8)


def test_events_at_the_same_instant_resolve_to_the_same_value_in_any_order(warehouse: Client) -> None:
    for first, second in ((100.0, 200.0), (200.0, 100.0)):
        warehouse.command("TRUNCATE TABLE entry_state")
        store(warehouse, priced("E1", T0, first))
        store(warehouse, priced("E1", T0, second))
        assert warehouse.query(f"SELECT amount FROM ({ENTRIES})").result_rows == [(200.0,)]


def test_entries_keep_their_code_without_the_dropped_hash(warehouse: Client, settings: Settings) -> None:
    """0010 drops 0008's (code, hash) column; rows without a code (a timesheet's approval) still lose to the
    entry's code, and running the drop again (a crash before it was recorded) is harmless."""
    (drop,) = [m for m in load_migrations() if m.version == 10]
    for statement in drop.statements(settings.retention_days):
        warehouse.command(statement)
    columns = warehouse.query(
        "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'entry_state'"
    ).result_rows
    assert ("project_code_hash",) not in columns
    store(warehouse, priced("E1", T0, 100.0))
    warehouse.insert("entry_state", [["E1", ""], ["E2", ""]], column_names=["entry_id", "project_code"])
    store(warehouse, priced("E2", T0 + H, 50.0))
    rows = warehouse.query(f"SELECT entry_id, project FROM ({ENTRIES}) ORDER BY entry_id").result_rows
    assert rows == [("E1", "P1"), ("E2", "P1")]


def test_entries_are_billable_by_their_project_number(warehouse: Client, settings: Settings) -> None:
    """0011 numbers each entry's project code: entries stored (and merged) before it get their code's number, a row
    without a code (a timesheet's approval) is 0 and loses to it, the billable entries found by number are those
    found by code, and running the migration again (a crash before it was recorded) changes nothing."""
    store(warehouse, project("P1", T0, "time_and_materials"), project("P2", T0, "fixed_fee"))
    sent = lambda entry, code, when: event("time_entry.post_requested", when, entry_id=entry, project_code=code)  # noqa: E731
    # As a warehouse from before 0011: the column missing from stored, merged parts.
    warehouse.command("ALTER TABLE entry_state DROP COLUMN project_number")
    warehouse.command("DELETE FROM schema_migrations WHERE version = 11")
    store(warehouse, sent("E1", "P1", T0), sent("E3", "P2", T0), sent("E4", "P9", T0))
    warehouse.command("OPTIMIZE TABLE entry_state FINAL")
    assert [m.version for m in apply_migrations(warehouse, settings.retention_days)] == [11]
    # Afterwards: an entry whose first row has no code, then its code.
    warehouse.insert("entry_state", [["E2", ""]], column_names=["entry_id", "project_code"])
    store(warehouse, sent("E2", "P1", T0 + H))

    def numbered() -> list[tuple[Any, ...]]:
        sql = f"SELECT entry_id, project, project_number = cityHash64(project) FROM ({ENTRIES}) ORDER BY entry_id"
        return warehouse.query(sql).result_rows

    assert numbered() == [("E1", "P1", True), ("E2", "P1", True), ("E3", "P2", True), ("E4", "P9", True)]
    by_code = f"""SELECT entry_id FROM ({ENTRIES}) WHERE project IN (SELECT code FROM ({PROJECT_VIEWS})
                  WHERE system = 'psa' AND billing_type = 'time_and_materials') ORDER BY entry_id"""
    by_number = f"SELECT entry_id FROM ({billable_entries()}) ORDER BY entry_id"
    assert warehouse.query(by_number).result_rows == warehouse.query(by_code).result_rows == [("E1",), ("E2",)]
    (migration,) = [m for m in load_migrations() if m.version == 11]
    for statement in migration.statements(settings.retention_days):
        warehouse.command(statement)
    assert numbered()[1] == ("E2", "P1", True)
    assert warehouse.query(by_number).result_rows == [("E1",), ("E2",)]


def test_packed_amount_and_currency_read_as_the_tuple_and_the_string(warehouse: Client, settings: Settings) -> None:
    """0013 keeps each entry's latest amount and its currency as numbers: read back they are what the (time,
    amount) tuple and the currency string say, whatever order and batches the events come in (ties at one instant,
    negative and large amounts, an entry never priced), for rows stored before the migration and after it, and
    running it again (a crash before it was recorded) changes nothing."""
    amounts = [0.0, 1250.5, -75.25, 99_999_999.9999, 0.0001, 480.0]
    priced_in = lambda entry, when, amount, currency: event(  # noqa: E731
        "time_entry.post_requested", when, entry_id=entry, project_code="P1", amount=amount, currency=currency
    )
    # As a warehouse from before 0013: the columns missing from stored, merged parts.
    warehouse.command("ALTER TABLE entry_state DROP COLUMN amount_packed, DROP COLUMN currency_code")
    warehouse.command("DELETE FROM schema_migrations WHERE version = 13")
    store(warehouse, *[priced_in(f"E{i}", T0 + i * H, a, "EUR") for i, a in enumerate(amounts)])
    warehouse.command("OPTIMIZE TABLE entry_state FINAL")
    assert [m.version for m in apply_migrations(warehouse, settings.retention_days)] == [13]
    # Afterwards, in separate parts: later amounts (two at one instant: the larger wins), an older one arriving
    # late (it must not win), an approval without an amount or currency, and an entry in another currency.
    store(warehouse, priced_in("E1", T0 + 9 * H, 10.0, "EUR"), priced_in("E1", T0 + 9 * H, 12.5, "EUR"))
    store(warehouse, priced_in("E2", T0 - H, 1.0, "EUR"), priced_in("E6", T0, 7.0, "JPY"))
    warehouse.insert(
        "entry_state", [["E3", "", ""], ["E7", "", ""]], column_names=["entry_id", "project_code", "currency"]
    )
    check = f"""SELECT e.entry_id, e.amount, e.currency, s.amount_latest.2, s.currency
                FROM ({ENTRIES}) AS e JOIN (SELECT * FROM entry_state FINAL) AS s ON s.entry_id = e.entry_id
                ORDER BY e.entry_id"""
    rows = warehouse.query(check).result_rows
    assert [(r[0], float(r[1]), r[2]) for r in rows] == [
        ("E0", 0.0, "EUR"), ("E1", 12.5, "EUR"), ("E2", -75.25, "EUR"), ("E3", 99_999_999.9999, "EUR"),
        ("E4", 0.0001, "EUR"), ("E5", 480.0, "EUR"), ("E6", 7.0, "JPY"), ("E7", 0.0, ""),
    ]  # fmt: skip
    assert all(r[1] == r[3] and r[2] == r[4] for r in rows), rows  # the same as the tuple and the string
    (migration,) = [m for m in load_migrations() if m.version == 13]
    for statement in migration.statements(settings.retention_days):
        warehouse.command(statement)
    assert warehouse.query(check).result_rows == rows
