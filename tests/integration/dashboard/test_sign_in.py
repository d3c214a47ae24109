"""Signing in to the real console (`syncwatch dashboard`) in a real Chromium, against the real collector.

- GET /api/v1/whoami names a token and its scopes (what the console's token sign-in asks).
- Token sign-in: signed out the console shows nothing but the sign-in; an unknown token is refused; a read token
  opens the pages, and its actions are disabled with the reason.
- Single sign-on: Streamlit's st.login against an OpenID Connect provider on loopback (discovery, authorization
  code, token endpoint, an RS256 identity token checked against its JWKS), the groups claim mapped to scopes.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.conftest import ThreadedCollector, Tokens, auth, free_port, http_server_running
from tests.integration.dashboard.browser import Chromium
from tests.waiting import serving

SYNCWATCH = str(Path(sys.executable).parent / "syncwatch")
CLIENT_ID, CLIENT_SECRET = "syncwatch-console", "console-client-secret"
pytestmark = pytest.mark.integration


def test_whoami_names_the_token_and_its_scopes(collector: ThreadedCollector, tokens: Tokens) -> None:
    url = f"{collector.url}/api/v1/whoami"
    assert httpx.get(url, headers=auth(tokens["read"])).json() == {"name": "test-read", "scopes": ["read"]}
    assert httpx.get(url, headers=auth(tokens["admin"])).json() == {"name": "test-admin", "scopes": ["admin"]}
    assert httpx.get(url, headers=auth(tokens["ingest"])).status_code == 403
    assert httpx.get(url, headers=auth(tokens["revoked"])).status_code == 401
    assert httpx.get(url).status_code == 401


@contextmanager
def console(collector_url: str, workdir: Path, **settings: str) -> Iterator[str]:
    port = int(settings.pop("port", "0")) or free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCWATCH_")}
    env.update({f"SYNCWATCH_DASHBOARD_{k.upper()}": v for k, v in settings.items()})
    env.update(SYNCWATCH_DASHBOARD_PORT=str(port), SYNCWATCH_DASHBOARD_REFRESH_SECONDS="600")
    url = f"http://127.0.0.1:{port}"
    with serving(
        [SYNCWATCH, "dashboard", "--api-url", collector_url], f"{url}/_stcore/health", what="the dashboard",
        cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    ):  # fmt: skip
        yield url


def test_token_sign_in_in_chromium(collector: ThreadedCollector, tokens: Tokens, tmp_path: Path) -> None:
    # no console token at all: with token sign-in every call carries the viewer's own
    with console(collector.url, tmp_path, auth="token") as url, Chromium(tmp_path / "chromium") as browser:
        browser.render(f"{url}/probes")
        shown = browser.problems()
        assert shown["title"] == "Sign in to SyncWatch" and shown["exceptions"] == [] and not shown["page_not_found"]
        assert "Probes and reconciliation" not in shown["text"] and "collector ready" not in shown["text"]
        assert "SLI detail" not in shown["text"]  # not even the navigation
        field = 'input[aria-label="SyncWatch API token"]'
        assert browser.evaluate(f"document.querySelector('{field}').type") == "password"
        browser.type_and_enter(field, "swt_not-a-token")
        browser.wait_for_text("does not know this token")
        browser.type_and_enter(field, tokens["ingest"])
        browser.wait_for_text("lacks the read scope")
        browser.type_and_enter(field, tokens["read"])
        text = browser.wait_for_text("Signed in as test-read (API token)")
        browser.wait_for_text("Probes and reconciliation")  # the page the link asked for, after the sign-in
        assert tokens["read"] not in text
        browser.click("Alerts")
        browser.wait_for_text("Acknowledged")
        browser.click("Silences")
        browser.wait_for_text("New silence")
        browser.wait_for_text("Needs the admin scope; your token grants read.")
        buttons = (
            "[...document.querySelectorAll('button')].filter(b => b.innerText.trim() === 'Create silence')"
            ".map(b => b.disabled)"
        )
        deadline = time.monotonic() + 30  # the form's button may render a moment after the caption above it
        while not (disabled := browser.evaluate(buttons)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert disabled and all(disabled), disabled
        browser.screenshot(tmp_path / "screenshots" / "token-read-only.png")
        browser.click("Sign out")
        browser.wait_for_text("Sign in to SyncWatch")
        assert browser.problems()["exceptions"] == []


class Provider:
    """An OpenID Connect provider on loopback, as much of one as st.login uses: discovery, an authorization
    endpoint that signs the user in at once, a token endpoint checking the client's secret, and a JWKS."""

    def __init__(self, claims: dict[str, Any]) -> None:
        self.claims = claims
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key"})
        self.codes: dict[str, dict[str, Any]] = {}
        self.token_requests: list[dict[str, list[str]]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def _json(self, body: Any, status: int = 200) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                if parts.path == "/.well-known/openid-configuration":
                    self._json(provider.discovery())
                elif parts.path == "/jwks":
                    self._json({"keys": [provider.key.as_dict(private=False) | {"use": "sig", "alg": "RS256"}]})
                elif parts.path == "/authorize":
                    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                    assert query["client_id"] == CLIENT_ID and query["response_type"] == "code"
                    code = secrets.token_urlsafe(16)
                    provider.codes[code] = query
                    self.send_response(302)
                    self.send_header(
                        "location", f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
                    )
                    self.send_header("content-length", "0")
                    self.end_headers()
                else:
                    self._json({"error": "not_found"}, 404)

            def do_POST(self) -> None:  # noqa: N802
                form = parse_qs(self.rfile.read(int(self.headers.get("content-length") or 0)).decode())
                provider.token_requests.append(form)
                basic = self.headers.get("authorization", "")
                client = (
                    base64.b64decode(basic.removeprefix("Basic ")).decode()
                    if basic.startswith("Basic ")
                    else f"{form.get('client_id', [''])[0]}:{form.get('client_secret', [''])[0]}"
                )
                asked = provider.codes.pop(form.get("code", [""])[0], None)
                if client != f"{CLIENT_ID}:{CLIENT_SECRET}" or asked is None:
                    self._json({"error": "invalid_grant"}, 400)
                    return
                self._json(
                    {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 300,
                     "id_token": provider.id_token(asked.get("nonce"))}
                )  # fmt: skip

            def log_message(self, *args: Any) -> None:
                return None

        return Handler

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": f"{self.url}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        }

    def id_token(self, nonce: str | None) -> str:
        now = int(time.time())
        claims = {"iss": self.url, "aud": CLIENT_ID, "iat": now, "exp": now + 300, **self.claims}
        if nonce:
            claims["nonce"] = nonce
        return jwt.encode({"alg": "RS256", "kid": "test-key"}, claims, self.key)

    @contextmanager
    def running(self) -> Iterator[Provider]:
        with http_server_running(self.server):
            yield self


def test_single_sign_on_in_chromium(collector: ThreadedCollector, tokens: Tokens, tmp_path: Path) -> None:
    provider = Provider({"sub": "u-1", "email": "ana@firm.example", "name": "Ana", "groups": ["ops-emea"]})
    port = free_port()
    secrets_file = tmp_path / "dashboard-auth.toml"
    secrets_file.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_urlsafe(32)}"\n'
        f'client_id = "{CLIENT_ID}"\n'
        f'client_secret = "{CLIENT_SECRET}"\n'
        f'server_metadata_url = "{provider.url}/.well-known/openid-configuration"\n'
    )
    scopes = json.dumps({"syncwatch-admins": ["admin"], "ops-*": ["read"]})
    with (
        provider.running(),
        console(collector.url, tmp_path, auth="oidc", port=str(port), token=tokens["read"], oidc_scopes=scopes,
                secrets_file=str(secrets_file)) as url,
        Chromium(tmp_path / "chromium") as browser,
    ):  # fmt: skip
        assert url.endswith(f":{port}")
        browser.render(f"{url}/")
        assert browser.problems()["title"] == "Sign in to SyncWatch"
        browser.click("Sign in with single sign-on")
        browser.wait_for_text("Signed in as ana@firm.example (single sign-on)")
        browser.wait_for_text("Integration health")
        assert provider.token_requests and provider.token_requests[0]["grant_type"] == ["authorization_code"]
        browser.click("Alerts")
        browser.click("Silences")
        browser.wait_for_text("New silence")
        browser.wait_for_text("Needs the admin scope; your sign-in grants read.")
        browser.screenshot(tmp_path / "screenshots" / "sso-read-only.png")
        assert browser.problems()["exceptions"] == []
        # the identity cookie keeps a reload signed in; signing out ends it
        browser.render(f"{url}/")
        browser.wait_for_text("Signed in as ana@firm.example")
        browser.click("Sign out")
        browser.wait_for_text("Sign in to SyncWatch")
        browser.render(f"{url}/")
        assert browser.problems()["title"] == "Sign in to SyncWatch"
