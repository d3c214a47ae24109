"""A real Prometheus (the Debian package) on loopback for tests: written config, a scratch TSDB, stopped after."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import free_port
from tests.waiting import serving

__all__ = ["running_prometheus"]


@contextmanager
def running_prometheus(workdir: Path, config: dict[str, Any]) -> Iterator[str]:
    """Yields the server's base URL once /-/ready answers."""
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    binary = shutil.which("prometheus")
    assert binary, "prometheus missing: make test installs the Debian prometheus package"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [binary, f"--config.file={workdir / 'prometheus.yml'}", f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}"]  # fmt: skip
    with serving(args, f"{base}/-/ready", what="prometheus", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
        yield base
