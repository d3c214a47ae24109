"""The console's sign-in (dashboard/access.py) on the real app script in AppTest: signed out nothing is asked of the
collector; a token sign-in is checked with the collector and then every call carries that token; single sign-on
maps a claim to scopes; local mode says so and refuses a non-loopback address; actions without the admin scope are
disabled with the reason. And the pure parts: claims, scope mapping, loopback addresses."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from streamlit import config
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from dashboard import cli
from dashboard.access import Principal, claim_values, is_loopback, scopes_for
from dashboard.api import ApiClient
from tests.unit.dashboard.conftest import APP, PAGE_FILES, Console
from tests.unit.dashboard.fake_api import FakeCollector
from tests.unit.dashboard.test_pages import shown_as

ADMINS_AND_OPS = '{"syncwatch-admins": ["admin"], "ops-*": ["read"], "typo": ["superuser"]}'


def console_client(fake: FakeCollector, token: str = "console-secret", admin: str = "") -> ApiClient:
    """The console's own client; its token differs from every viewer's, so a test can tell whose a call carried."""
    return ApiClient(f"http://fake-{uuid.uuid4().hex[:10]}:4318", token, admin, 5.0, httpx.MockTransport(fake.handle))


def start(fake: FakeCollector, client: ApiClient | None = None, user: dict[str, Any] | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state["syncwatch_api"] = client or console_client(fake)
    if user is not None:
        at.user = user
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def sign_in_with(at: AppTest, secret: str) -> AppTest:
    next(t for t in at.text_input if t.label == "SyncWatch API token").input(secret)
    next(b for b in at.button if b.label == "Sign in with the token").click().run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def open_(at: AppTest, page: str, **query: str) -> AppTest:
    at.switch_page(PAGE_FILES[page])
    for name, value in query.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def data_requests(fake: FakeCollector) -> list[httpx.Request]:
    return [r for r in fake.requests if r.url.path not in ("/api/v1/whoami", "/readyz")]


def bearers(requests: list[httpx.Request]) -> set[str]:
    return {r.headers.get("authorization", "") for r in requests}


def test_signed_out_the_console_shows_only_the_sign_in(console: Console, fake: FakeCollector) -> None:
    console(auth="token")
    at = start(fake)
    for page in ("overview", "trace", "ingest"):
        at = open_(at, page, key="TE-000000001") if page != "overview" else at
        assert at.title[0].value == "Sign in to SyncWatch", page
        assert not at.metric and not at.dataframe and not at.table
        assert fake.requests == []  # not even the sidebar's readiness check
    # single sign-on is not offered when it is not configured
    assert not [b for b in at.button if "single sign-on" in b.label]


def test_a_token_sign_in_is_checked_and_then_every_call_carries_that_token(
    console: Console, fake: FakeCollector
) -> None:
    console(auth="token")
    at = start(fake)
    sign_in_with(at, "not-a-token")
    assert any("does not know this token" in e.value for e in at.error)
    sign_in_with(at, "ingest-secret")
    assert any("lacks the read scope" in e.value for e in at.error)
    assert data_requests(fake) == []
    sign_in_with(at, "read-secret")
    assert at.title[0].value == "Integration health" and at.metric
    assert any("Signed in as **dashboard** (API token)" in c.value for c in at.sidebar.caption)
    assert bearers(data_requests(fake)) == {"Bearer read-secret"}
    # a read token sees the actions, disabled, with the reason
    open_(at, "alerts", tab="silences")
    actions = [b for b in at.button if b.label in ("Create silence", "Expire silence")]
    assert len(actions) == 2 and all(b.disabled for b in actions)
    assert any("Needs the admin scope; your token grants read." in shown_as(c.value) for c in at.caption)
    # signing out forgets the token
    next(b for b in at.sidebar.button if b.label == "Sign out").click().run()
    assert at.title[0].value == "Sign in to SyncWatch"
    asked = len(fake.requests)
    at.switch_page(PAGE_FILES["alerts"]).run()
    assert at.title[0].value == "Sign in to SyncWatch" and len(fake.requests) == asked


def test_an_admin_token_may_silence_and_the_collector_sees_that_token(console: Console, fake: FakeCollector) -> None:
    console(auth="token")
    at = open_(sign_in_with(start(fake), "admin-secret"), "alerts", tab="silences")
    assert not [c for c in at.caption if "Needs the admin scope" in shown_as(c.value)]
    assert next(t for t in at.text_input if t.label == "Created by").value == "ops-admin"
    next(t for t in at.text_input if t.label == "Value").input("psa-to-erp-time")
    next(t for t in at.text_input if t.label == "Why").input("ERP maintenance")
    next(c for c in at.checkbox if c.label.startswith("I confirm: matching")).check()
    next(b for b in at.button if b.label == "Create silence").click().run()
    method, path, body = fake.writes[-1]
    assert (method, path, body["created_by"]) == ("POST", "/api/v1/silences", "ops-admin")
    assert any("Silence created" in s.value for s in at.success)
    assert bearers(data_requests(fake)) == {"Bearer admin-secret"}


def test_single_sign_on_maps_the_groups_claim_to_scopes(console: Console, fake: FakeCollector) -> None:
    console(auth="oidc", oidc_scopes=ADMINS_AND_OPS)
    reader = {"is_logged_in": True, "email": "ana@firm.example", "groups": ["ops-emea", "staff"]}
    at = open_(start(fake, console_client(fake, "read-secret", "admin-secret"), reader), "alerts", tab="silences")
    assert any("Signed in as **ana@firm.example** (single sign-on)" in shown_as(c.value) for c in at.sidebar.caption)
    actions = [b for b in at.button if b.label in ("Create silence", "Expire silence")]
    assert len(actions) == 2 and all(b.disabled for b in actions)
    assert any("Needs the admin scope; your sign-in grants read." in shown_as(c.value) for c in at.caption)
    # reads carry the console's read token; nothing of this viewer's could carry its admin token
    assert bearers(data_requests(fake)) == {"Bearer read-secret"}
    assert not at.session_state["syncwatch_principal"].client.can_administer

    admin = {"is_logged_in": True, "email": "bo@firm.example", "groups": ["syncwatch-admins"]}
    at = open_(start(fake, console_client(fake, "read-secret", "admin-secret"), admin), "alerts", tab="silences")
    actions = [b for b in at.button if b.label in ("Create silence", "Expire silence")]
    assert len(actions) == 2 and not any(b.disabled for b in actions)


def test_a_sign_in_mapped_to_no_scope_sees_no_data(console: Console, fake: FakeCollector) -> None:
    console(auth="oidc+token", oidc_scopes=ADMINS_AND_OPS)
    outsider = {"is_logged_in": True, "email": "eve@elsewhere.example", "groups": ["typo", "contractors"]}
    at = start(fake, user=outsider)
    assert at.title[0].value == "No access to SyncWatch"
    assert "contractors" in shown_as(at.warning[0].value)
    assert fake.requests == [] and not at.metric


def test_an_admin_sign_in_without_an_admin_token_is_told_why_it_cannot_act(
    console: Console, fake: FakeCollector
) -> None:
    console(auth="oidc", oidc_scopes=ADMINS_AND_OPS)
    admin = {"is_logged_in": True, "email": "bo@firm.example", "groups": ["syncwatch-admins"]}
    at = open_(start(fake, console_client(fake, "read-secret", ""), admin), "alerts", tab="silences")
    assert all(b.disabled for b in at.button if b.label in ("Create silence", "Expire silence"))
    assert any("no admin token" in shown_as(c.value) for c in at.caption)


def test_local_mode_says_so_and_refuses_an_address_others_can_reach(console: Console, fake: FakeCollector) -> None:
    console(auth="local")
    at = start(fake, console_client(fake, "read-secret"))
    assert any(shown_as(w.value) == "Local mode: no login, bound to 127.0.0.1" for w in at.warning)
    assert at.metric
    fake.requests.clear()
    config.set_option("server.address", "0.0.0.0")  # the fixture puts it back
    at = start(fake, console_client(fake, "read-secret"))
    assert any("only on a loopback address" in e.value for e in at.error)
    assert fake.requests == [] and not at.metric


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "", "::"])
def test_the_cli_refuses_local_mode_on_a_reachable_address(console: Console, host: str) -> None:
    console(auth="local", host=host, token="read-secret")
    result = CliRunner().invoke(cli.app, [])
    assert result.exit_code == 2
    assert "loopback" in result.output


def test_the_cli_needs_no_console_token_for_token_sign_in_but_does_for_the_others(console: Console) -> None:
    console(auth="oidc", host="0.0.0.0")
    result = CliRunner().invoke(cli.app, [])
    assert result.exit_code == 2 and "console's own token" in result.output


def test_the_cli_refuses_a_secrets_file_streamlit_would_not_read(console: Console) -> None:
    console(auth="oidc", token="read-secret", secrets_file="/run/secrets/dashboard_auth")
    result = CliRunner().invoke(cli.app, [])
    assert result.exit_code == 2 and ".toml" in result.output


def test_claims_scopes_and_loopback() -> None:
    user = {
        "groups": ["ops-emea", 7],
        "realm_access": {"roles": ["syncwatch-admins"]},
        "https://firm.example/roles": ["auditor"],
        "email": "ana@firm.example",
    }
    assert claim_values(user, "groups") == ["ops-emea"]
    assert claim_values(user, "realm_access.roles") == ["syncwatch-admins"]
    assert claim_values(user, "https://firm.example/roles") == ["auditor"]
    assert claim_values(user, "email") == ["ana@firm.example"]
    assert claim_values(user, "missing.claim") == []
    mapping = {"syncwatch-admins": ["admin"], "ops-*": ["read"], "*@firm.example": ["read"], "x": ["root"]}
    assert scopes_for(["ops-emea"], mapping) == {"read"}
    assert scopes_for(["syncwatch-admins"], mapping) == {"admin"}
    assert scopes_for(["ana@firm.example"], mapping) == {"read"}
    assert scopes_for(["ana@firm.example.evil"], mapping) == frozenset()
    assert scopes_for(["x", "OPS-EMEA"], mapping) == frozenset()  # not a scope; matching is case-sensitive
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.8.0.1", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("", "0.0.0.0", "::", "10.0.0.1", "example.com", "localhost.evil"))


def test_admin_implies_read_as_the_collector_says(fake: FakeCollector) -> None:
    client = console_client(fake, "t", "t")
    admin = Principal("bo", "token", frozenset({"admin"}), client)
    reader = Principal("ana", "token", frozenset({"read"}), client)
    assert admin.allows("read") and admin.refusal("admin") is None
    assert reader.refusal("admin") == "Needs the admin scope; your token grants read."
