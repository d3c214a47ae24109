"""`syncwatch dashboard`: the operations console, `streamlit run` headless on SYNCWATCH_DASHBOARD_HOST:PORT."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from dashboard.access import is_loopback
from dashboard.api import read_token
from syncwatch.settings import Settings

__all__ = ["app", "streamlit_args"]

APP_SCRIPT = Path(__file__).with_name("app.py")
app = typer.Typer(help="The operations console (Streamlit) on the collector's read API.")
errors = Console(stderr=True)


def streamlit_args(settings: Settings) -> list[str]:
    """`streamlit run` arguments; flags instead of a .streamlit/config.toml so the working directory does not
    matter. The theme follows the viewer's system setting (light or dark)."""
    secrets = ["--secrets.files", str(settings.dashboard_secrets_file)] if settings.dashboard_secrets_file else []
    return [
        "run", str(APP_SCRIPT),
        "--server.headless", "true",
        "--server.address", settings.dashboard_host,
        "--server.port", str(settings.dashboard_port),
        "--server.fileWatcherType", "none",
        "--server.runOnSave", "false",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "viewer",
        "--client.showErrorDetails", "false",
        "--global.developmentMode", "false",
        "--logger.level", "warning",
        *secrets,
    ]  # fmt: skip


def _preload() -> None:
    """Import the heavy libraries before the server accepts anyone: the first visitor would otherwise wait
    seconds for pandas and pyarrow to import inside their first page run."""
    import pandas  # noqa: F401
    import pyarrow  # noqa: F401

    import dashboard.journey  # noqa: F401
    import dashboard.svg  # noqa: F401
    import dashboard.ui  # noqa: F401


@app.callback(invoke_without_command=True)
def dashboard(
    port: Annotated[int | None, typer.Option(help="listen port (SYNCWATCH_DASHBOARD_PORT)")] = None,
    api_url: Annotated[str | None, typer.Option(help="collector URL (SYNCWATCH_DASHBOARD_API_URL)")] = None,
    token_file: Annotated[Path | None, typer.Option(help="file with a read token")] = None,
    auth: Annotated[
        str | None, typer.Option(help="sign-in: token, oidc, oidc+token or local (SYNCWATCH_DASHBOARD_AUTH)")
    ] = None,
) -> None:
    """Serve the console; it reads only the collector's HTTP API, behind a sign-in (docs/dashboard.md)."""
    overrides: dict[str, object] = {}
    if port is not None:
        overrides["dashboard_port"] = port
    if api_url is not None:
        overrides["dashboard_api_url"] = api_url
    if token_file is not None:
        overrides["dashboard_token_file"] = token_file
    if auth is not None:
        overrides["dashboard_auth"] = auth
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        errors.print(f"[bold red]error:[/] {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}")
        raise typer.Exit(2) from exc
    if settings.dashboard_auth == "local" and not is_loopback(settings.dashboard_host):
        errors.print(
            f"[bold red]error:[/] local mode has no sign-in, so it only listens on a loopback address, not "
            f"{settings.dashboard_host or 'every interface'}: bind to 127.0.0.1, or choose a sign-in with "
            "SYNCWATCH_DASHBOARD_AUTH=token, oidc or oidc+token"
        )
        raise typer.Exit(2)
    secrets = settings.dashboard_secrets_file
    if secrets is not None and not (secrets.suffix == ".toml" or secrets.is_dir()):
        errors.print(f"[bold red]error:[/] Streamlit reads secrets from a .toml file or a directory, not {secrets}")
        raise typer.Exit(2)
    token = read_token(settings)
    # Token sign-in calls the collector with each viewer's own token; local mode and single sign-on read with
    # the console's.
    if not token and settings.dashboard_auth != "token":
        errors.print(
            f"[bold red]error:[/] {settings.dashboard_auth} sign-in reads with the console's own token: set "
            "SYNCWATCH_DASHBOARD_TOKEN or SYNCWATCH_DASHBOARD_TOKEN_FILE "
            "(syncwatch token create --name dashboard --scope read)"
        )
        raise typer.Exit(2)
    # the page scripts build their Settings from the environment: hand them what the options chose
    os.environ.update(
        SYNCWATCH_DASHBOARD_API_URL=settings.dashboard_api_url,
        SYNCWATCH_DASHBOARD_TOKEN=token,
        SYNCWATCH_DASHBOARD_PORT=str(settings.dashboard_port),
        SYNCWATCH_DASHBOARD_AUTH=settings.dashboard_auth,
    )
    os.environ.pop("SYNCWATCH_DASHBOARD_TOKEN_FILE", None)
    sign_in = "no sign-in (local mode)" if settings.dashboard_auth == "local" else f"{settings.dashboard_auth} sign-in"
    errors.print(
        f"SyncWatch dashboard on http://{settings.dashboard_host}:{settings.dashboard_port} "
        f"reading {settings.dashboard_api_url}, {sign_in}"
    )
    _preload()
    from streamlit.web.cli import main as streamlit_main

    # Streamlit in this process (not exec'd), so the preloaded modules serve every session; its server
    # handles SIGINT/SIGTERM itself.
    streamlit_main(args=streamlit_args(settings), prog_name="streamlit", standalone_mode=True)
