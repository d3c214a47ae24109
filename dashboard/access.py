"""Who is looking at the console and what they may do: the sign-in gate every page passes first.

    SYNCWATCH_DASHBOARD_AUTH
     +-- token       the viewer pastes a SyncWatch API token; the collector says whose it is and its scopes
     |               (GET /api/v1/whoami), and every call of that session carries it, so the collector enforces them
     +-- oidc        single sign-on through Streamlit's st.login ([auth] in secrets.toml); one claim of the identity
     |               token (groups by default) is mapped to scopes; calls carry the console's read token, and its
     |               admin token only for viewers mapped to admin
     +-- oidc+token  both, on one sign-in screen
     +-- local       no sign-in, loopback only, with a banner saying so: the console's own tokens (`make run`)

No page reads data before `gate()` returned a Principal: `dashboard.ui.api()` hands out only the client of the
session's Principal. See docs/dashboard.md, "Sign-in".
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Literal

import streamlit as st

from dashboard.api import ApiClient, Failed, Ok, Unavailable
from dashboard.format import esc
from syncwatch.settings import Settings
from syncwatch.tokens import SCOPES

__all__ = [
    "PRINCIPAL_KEY",
    "Principal",
    "account",
    "claim_values",
    "current",
    "gate",
    "is_loopback",
    "scopes_for",
]

Method = Literal["local", "token", "oidc"]
PRINCIPAL_KEY = "syncwatch_principal"
_METHOD_WORDS: Mapping[Method, str] = {"local": "local mode", "token": "API token", "oidc": "single sign-on"}


@dataclass(frozen=True)
class Principal:
    """A signed-in viewer: who, how, which SyncWatch scopes, and the API client their pages use."""

    name: str
    method: Method
    scopes: frozenset[str]
    client: ApiClient = field(compare=False, repr=False)
    claims: tuple[str, ...] = ()  # single sign-on: the mapped claim's values, to say why none of them gave a scope

    def allows(self, scope: str) -> bool:
        """The collector's rule (syncwatch/tokens.py): admin implies every other scope, operate implies read."""
        return scope in self.scopes or "admin" in self.scopes or (scope == "read" and "operate" in self.scopes)

    def refusal(self, scope: str) -> str | None:
        """None when this viewer may do what needs `scope`, else why not (shown next to the disabled control)."""
        if self.allows(scope) and (scope != "admin" or self.client.can_administer):
            return None
        if self.method == "local":
            return f"Read-only: set SYNCWATCH_DASHBOARD_ADMIN_TOKEN to a token with the {scope} scope to make changes."
        if not self.allows(scope):
            held = ", ".join(sorted(self.scopes)) or "none"
            whose = "your token" if self.method == "token" else "your sign-in"
            return f"Needs the {scope} scope; {whose} grants {held}."
        return "The console has no admin token (SYNCWATCH_DASHBOARD_ADMIN_TOKEN), so no change can be made here."


def is_loopback(host: str) -> bool:
    """Only this machine can reach the address (127.0.0.0/8, ::1, localhost); '' and 0.0.0.0 mean every interface."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def claim_values(user: Mapping[str, Any], claim: str) -> list[str]:
    """The claim's string values: a claim named as it is (Auth0's namespaced claims contain dots), else a dotted
    path into nested claims (Keycloak's realm_access.roles)."""
    value: Any = user.get(claim)
    if value is None:
        value = user
        for part in claim.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence):
        return [v for v in value if isinstance(v, str)]
    return []


def scopes_for(values: Iterable[str], mapping: Mapping[str, Sequence[str]]) -> frozenset[str]:
    """SyncWatch scopes granted by any claim value matching a pattern of the mapping (globs: `*@firm.com`).
    Names that are not scopes are dropped, so a typo grants nothing."""
    values = list(values)
    granted: set[str] = set()
    for pattern, scopes in mapping.items():
        if any(fnmatchcase(v, pattern) for v in values):
            granted.update(s for s in scopes if s in SCOPES)
    return frozenset(granted)


def current() -> Principal:
    """The session's viewer; a page run without one stops (gate() in dashboard/app.py always runs first)."""
    principal = st.session_state.get(PRINCIPAL_KEY)
    if not isinstance(principal, Principal):
        st.stop()
    return principal


def gate(settings: Settings, service: ApiClient) -> Principal | None:
    """The session's Principal; or None after drawing the sign-in screen, and then the caller stops (after
    registering its pages hidden, so the address asked for survives the sign-in). Pages stop on their own too:
    `current()` finds no Principal. `service` is the console's own client (read token, admin token if set)."""
    if settings.dashboard_auth == "local":
        principal = _local(service)
    else:
        found = _signed_in(settings, service)
        if found is None or not found.allows("read"):
            st.session_state.pop(PRINCIPAL_KEY, None)
            if found is None:
                _sign_in_screen(settings, service)
            else:
                _no_scope(found, settings.dashboard_oidc_claim)
            return None
        principal = found
    st.session_state[PRINCIPAL_KEY] = principal
    return principal


def _local(service: ApiClient) -> Principal:
    host = str(st.get_option("server.address") or "")
    if not is_loopback(host):
        st.error(
            "Local mode has no sign-in, so it serves only on a loopback address, not on "
            f"{esc(host or 'every interface')}. "
            "Choose a sign-in (SYNCWATCH_DASHBOARD_AUTH=token, oidc or oidc+token) or bind to 127.0.0.1."
        )
        st.stop()
    st.warning(f"Local mode: no login, bound to {esc(host)}", icon=":material/lock_open:")
    return Principal("local", "local", frozenset({"read", "admin"} if service.can_administer else {"read"}), service)


def _signed_in(settings: Settings, service: ApiClient) -> Principal | None:
    methods = set(settings.dashboard_auth.split("+"))
    # to_dict(): without an [auth] section st.user has no is_logged_in at all, and reading it would raise
    user = st.user.to_dict() if "oidc" in methods else {}
    if user.get("is_logged_in") is True:
        values = claim_values(user, settings.dashboard_oidc_claim)
        scopes = scopes_for(values, settings.dashboard_oidc_scopes)
        name = str(user.get("email") or user.get("name") or user.get("sub") or "signed-in user")
        # a read-only viewer's pages get a client that cannot send a change at all
        client = service if "admin" in scopes else service.without_admin()
        return Principal(name, "oidc", scopes, client, tuple(values))
    if "token" in methods:
        kept = st.session_state.get(PRINCIPAL_KEY)
        if isinstance(kept, Principal) and kept.method == "token":
            return kept
    return None


def _sso_configured(provider: str) -> bool:
    try:
        section: Any = st.secrets.get("auth")
    except (FileNotFoundError, KeyError):  # no secrets.toml at all
        return False
    if provider and isinstance(section, Mapping):
        section = section.get(provider)
    return isinstance(section, Mapping) and bool(section.get("client_id"))


def _sign_in_screen(settings: Settings, service: ApiClient) -> None:
    methods = set(settings.dashboard_auth.split("+"))
    st.title("Sign in to SyncWatch")
    st.caption("The console shows records, payloads and alerts only to signed-in viewers.")
    if "oidc" in methods:
        provider = settings.dashboard_oidc_provider
        if _sso_configured(provider):
            st.button(
                "Sign in with single sign-on",
                icon=":material/login:",
                type="primary",
                on_click=st.login,
                args=(provider or None,),
            )
        else:
            where = f"[auth.{provider}]" if provider else "[auth]"
            missing = f"Single sign-on is not configured: Streamlit's secrets have no {where} section with a client_id."
            # with token sign-in next to it the console still works; alone, nobody can get in
            if "token" in methods:
                st.caption(missing)
            else:
                st.error(missing)
    if "token" in methods:
        with st.form("token_sign_in", clear_on_submit=True):
            secret = st.text_input(
                "SyncWatch API token",
                type="password",
                help="A token with the read scope (admin to make changes): syncwatch token create --scope read",
            )
            if st.form_submit_button("Sign in with the token", icon=":material/key:"):
                principal = _token_principal(service, secret.strip())
                if principal is not None:
                    st.session_state[PRINCIPAL_KEY] = principal
                    st.rerun()


def _token_principal(service: ApiClient, secret: str) -> Principal | None:
    if not secret:
        st.warning("Paste a token first.")
        return None
    client = service.with_token(secret)
    outcome = client.whoami()
    if isinstance(outcome, Ok) and isinstance(outcome.data, dict):
        scopes = frozenset(s for s in outcome.data.get("scopes") or [] if s in SCOPES)
        principal = Principal(str(outcome.data.get("name") or "token"), "token", scopes, client)
        if principal.allows("read"):
            return principal
    client.close()
    if isinstance(outcome, Failed) and outcome.kind == "unauthorized":
        st.error("The collector does not know this token, or it was revoked.")
    elif isinstance(outcome, Failed) and outcome.kind == "forbidden" or isinstance(outcome, Ok):
        st.error("This token lacks the read scope the console needs.")
    elif isinstance(outcome, Unavailable):
        st.error("The collector has no /api/v1/whoami endpoint, so it cannot check tokens: upgrade the collector.")
    else:
        st.error(f"The token could not be checked: {esc(outcome.message)}.")
    return None


def _no_scope(principal: Principal, claim: str) -> None:
    st.title("No access to SyncWatch")
    shown = ", ".join(principal.claims[:20]) or "none"
    st.warning(
        f"Signed in as {esc(principal.name)}, but no SyncWatch scope is mapped to your {esc(claim)} ({esc(shown)}). "
        "Ask an administrator to map one of them in SYNCWATCH_DASHBOARD_OIDC_SCOPES."
    )
    st.button("Sign out", icon=":material/logout:", on_click=st.logout)


def account(principal: Principal) -> None:
    """Who is signed in and how, with a sign-out button (sidebar)."""
    if principal.method == "local":
        return
    scopes = ", ".join(sorted(principal.scopes))
    st.caption(f"Signed in as **{esc(principal.name)}** ({_METHOD_WORDS[principal.method]}) · scopes: {scopes}")
    if st.button("Sign out", icon=":material/logout:", key="sign_out"):
        if principal.method == "oidc":
            st.logout()
        else:
            st.session_state.pop(PRINCIPAL_KEY, None)
            principal.client.close()
            st.rerun()
