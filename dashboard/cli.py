"""`syncwatch dashboard`: the operations console, `streamlit run` headless on SYNCWATCH_DASHBOARD_HOST:PORT."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from dashboard.api import read_token
from syncwatch.settings import Settings

__all__ = ["app", "streamlit_args"]

APP_SCRIPT = Path(__file__).with_name("app.py")
app = typer.Typer(help="The operations console (Streamlit) on the collector's read API.")
errors = Console(stderr=True)


def streamlit_args(settings: Settings) -> list[str]:
    """`streamlit run` arguments; flags instead of a .streamlit/config.toml so the working directory does not
    matter. The theme follows the viewer's system setting (light or dark)."""
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
) -> None:
    """Serve the console; it reads only the collector's HTTP API with a read-scope token."""
    overrides: dict[str, object] = {}
    if port is not None:
        overrides["dashboard_port"] = port
    if api_url is not None:
        overrides["dashboard_api_url"] = api_url
    if token_file is not None:
        overrides["dashboard_token_file"] = token_file
    settings = Settings(**overrides)  # type: ignore[arg-type]
    token = read_token(settings)
    if not token:
        errors.print(
            "[bold red]error:[/] the dashboard needs a read token: set SYNCWATCH_DASHBOARD_TOKEN or "
            "SYNCWATCH_DASHBOARD_TOKEN_FILE (syncwatch token create --name dashboard --scope read)"
        )
        raise typer.Exit(2)
    # the page scripts build their Settings from the environment: hand them what the options chose
    os.environ.update(
        SYNCWATCH_DASHBOARD_API_URL=settings.dashboard_api_url,
        SYNCWATCH_DASHBOARD_TOKEN=token,
        SYNCWATCH_DASHBOARD_PORT=str(settings.dashboard_port),
    )
    os.environ.pop("SYNCWATCH_DASHBOARD_TOKEN_FILE", None)
    errors.print(
        f"SyncWatch dashboard on http://{settings.dashboard_host}:{settings.dashboard_port} "
        f"reading {settings.dashboard_api_url}"
    )
    _preload()
    from streamlit.web.cli import main as streamlit_main

    # Streamlit in this process (not exec'd), so the preloaded modules serve every session; its server
    # handles SIGINT/SIGTERM itself.
    streamlit_main(args=streamlit_args(settings), prog_name="streamlit", standalone_mode=True)
